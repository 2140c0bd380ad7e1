"""Which faults clauses does each store fail, run after run? (On demand; not part of CI.)

    python benchmarks/fault_runs.py                 # 10 randomized runs of the faults group per store
    python benchmarks/fault_runs.py --runs 3 --stores RetriesEverything RedisChatStore

Each store (the broken ones of the faults group, the Redis reference store, a store built on
redis-py's default clients, and one that retries idempotent writes) runs the whole faults group
(``-k FLT``) with the ``default`` Hypothesis profile, randomized, in a fresh process with a
kit-managed Redis server, ``--runs`` times. It prints, per store, which clauses failed in how
many runs, and the seconds per run: a broken store must fail its own clause, and only it, in
every run; a correct store must fail none.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

STORES = {
    "RetriesEverything": "tests.broken_redis:RetriesEverything",
    "SwallowsErrors": "tests.broken_redis:SwallowsErrors",
    "InsertWithoutTransaction": "tests.broken_redis:InsertWithoutTransaction",
    "EmptyOnReadError": "tests.broken_redis:EmptyOnReadError",
    "StaysBroken": "tests.broken_redis:StaysBroken",
    "RedisChatStore": "reference_impls.redis:RedisChatStore",
    "IdempotentRetries": "tests.fault_stores:IdempotentRetries",
}


def one_run(target: str) -> tuple[list[str], float]:
    """The faults clauses ``target`` failed in one randomized run (blocked ones count as not failed)."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        started = time.monotonic()
        subprocess.run(
            [
                sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--rootdir", tmp,
                f"--chatstore={target}", "--chatstore-only", "--chatstore-hypothesis=default", "-k", "FLT",
                f"--chatstore-report={report}",
            ],
            cwd=tmp, capture_output=True, text=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
            check=False,
        )  # fmt: skip
        seconds = time.monotonic() - started
        data = json.loads(report.read_text())
    failed = [c["id"] for t in data["targets"] for c in t["clauses"] if c["status"] == "failed"]
    return failed, seconds


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--stores", nargs="*", default=list(STORES), choices=list(STORES))
    args = parser.parse_args(argv)
    print("| store | clauses failed (runs) | seconds per run |\n| --- | --- | ---: |")
    for name in args.stores:
        counts: Counter[str] = Counter()
        times = []
        for _ in range(args.runs):
            failed, seconds = one_run(STORES[name])
            counts.update(failed)
            times.append(seconds)
        said = ", ".join(f"{c} {n}/{args.runs}" for c, n in sorted(counts.items())) or "none"
        print(f"| `{name}` | {said} | {sorted(times)[len(times) // 2]:.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
