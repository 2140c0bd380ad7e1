"""Does each broken store fail its clause by design, or by the luck of the draw? (On demand; not part of CI.)

    python benchmarks/luck_sweep.py                 # every clause, 5 random runs each
    python benchmarks/luck_sweep.py --runs 10 --only CON- ORD-001
    python benchmarks/luck_sweep.py --only CON- --whole --busy 2   # races in whole runs on a loaded machine

CI runs derandomized: one fixed draw per clause, so ``tests/test_broken_stores.py`` proves that each
broken store fails its clause *in that draw*. A check that meets its bug only through a lucky draw
passes the test and then misses the same bug in a real backend, or after an unrelated change shifts
what Hypothesis draws (it mixes constants from the kit's source into its choices). This runs every
broken store of ``tests/broken_stores.py`` against its clause with the ``default`` profile, randomized,
``--runs`` times in fresh processes, and prints how often the clause failed. Anything below
``runs/runs`` is luck-dependent: give the check a fixed case first (as ORD-001, PAR-002 and MDL-001 do).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pytest_chatstore.spec.clauses import SPEC_VERSION  # noqa: E402
from tests.broken_stores import BROKEN  # noqa: E402


def failed_once(store: str, clause_id: str, *, whole: bool = False) -> bool:
    """Whether one randomized run met ``clause_id``'s bug: the clause failed, or (in a run of the whole suite)
    was blocked by another clause that met the same bug first (the broken store's one root cause, as PRC-001's
    lost updates between processes are SHR-002's when both clauses meet them)."""
    selection = [] if whole else ["-k", clause_id.replace("-", "_")]
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        done = subprocess.run(
            [
                sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--rootdir", tmp,
                f"--chatstore=tests.broken_stores:{store}", "--chatstore-only", "--chatstore-timeout=5",
                "--chatstore-hypothesis=default", f"--chatstore-spec={SPEC_VERSION}", f"--chatstore-report={report}",
                *selection,
            ],
            cwd=tmp, capture_output=True, text=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        )  # fmt: skip
        if done.returncode != 1 or not report.exists():
            return False
        clauses = {c["id"]: c for c in json.loads(report.read_text())["targets"][0]["clauses"]}
        met = ("failed", "blocked") if whole else ("failed",)
        return clause_id in clauses and clauses[clause_id]["status"] in met


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", nargs="*", default=None, help="clause IDs or prefixes")
    parser.add_argument("--whole", action="store_true", help="run the whole suite each time, judge the clause")
    parser.add_argument("--busy", type=int, default=0, help="busy loops per core while the runs go on")
    args = parser.parse_args(argv)
    loops = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.busy * (os.cpu_count() or 1))
    ]
    try:
        return sweep(args)
    finally:
        for loop in loops:
            loop.kill()
            loop.wait()


def sweep(args: argparse.Namespace) -> int:
    chosen = sorted(c for c in BROKEN if not args.only or any(c.startswith(o) for o in args.only))
    started = time.monotonic()
    print("| clause | broken store | failed in random runs |\n| --- | --- | ---: |")
    lucky = []
    for clause_id in chosen:
        store = BROKEN[clause_id].__name__
        failures = sum(failed_once(store, clause_id, whole=args.whole) for _ in range(args.runs))
        print(f"| {clause_id} | `{store}` | {failures}/{args.runs} |", flush=True)
        if failures < args.runs:
            lucky.append(clause_id)
    print(f"\n{len(chosen)} clauses in {(time.monotonic() - started) / 60:.1f} minutes; "
          f"luck-dependent: {', '.join(lucky) or 'none'}")  # fmt: skip
    return 1 if lucky else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
