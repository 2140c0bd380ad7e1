"""Does a change of the kit keep every verdict? (On demand, for refactors; not part of CI.)

    git worktree add /tmp/before REV
    python benchmarks/same_verdicts.py /tmp/before .          # the change against REV
    python benchmarks/same_verdicts.py /tmp/before . --only Column255 LazyHeadDelete

Runs the whole suite, derandomized (``--chatstore-hypothesis=ci``), against every in-memory broken
store of ``tests/broken_stores.py``, the stores of ``tests/root_cause_stores.py`` and the in-memory
reference store, once with each kit tree (``PYTHONPATH`` set to it), two runs at a time, and prints
each target with ``same`` or the clauses whose status or blocker differ. The Redis-backed broken
stores (KEY-005 and the faults clauses) are left out: they need a server per run.

A difference is not always a regression: Hypothesis mixes string constants from the code into what it
draws, so a change of the kit's source changes the random phases' examples, and a check that met a bug
only by luck before may meet it now (or the reverse). Each difference wants an explanation.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import tests.root_cause_stores as root_cause_stores  # noqa: E402
from tests.broken_stores import BROKEN  # noqa: E402

NEEDS_A_SERVER = {"KEY-005"} | {c for c in BROKEN if c.startswith("FLT-")}


def targets() -> list[str]:
    broken = sorted({f"tests.broken_stores:{s.__name__}" for c, s in BROKEN.items() if c not in NEEDS_A_SERVER})
    causes = sorted(
        f"tests.root_cause_stores:{name}"
        for name, value in vars(root_cause_stores).items()
        if isinstance(value, type) and value.__module__ == root_cause_stores.__name__
    )
    return [*broken, *causes, "reference_impls.memory:InMemoryChatStore"]


def verdict(tree: Path, target: str, work: Path) -> dict[str, Any]:
    """Each clause's (status, blocker) for ``target`` under the kit at ``tree``."""
    report = work / f"{target.replace(':', '_')}.json"
    command = [sys.executable, "-m", "pytest", f"--rootdir={work}", "-c", os.devnull, "-p", "no:randomly"]
    command += ["-p", "no:cacheprovider", f"--chatstore={target}", "--chatstore-only", "--chatstore-hypothesis=ci"]
    command += ["-q", f"--chatstore-report={report}"]
    environ = {**os.environ, "PYTHONPATH": str(tree)}
    subprocess.run(command, cwd=work, env=environ, capture_output=True, timeout=900, check=False)
    try:
        clauses = json.loads(report.read_text(encoding="utf-8"))["targets"][0]["clauses"]
    except (OSError, ValueError, IndexError, KeyError) as exc:
        return {"no report": str(exc)}
    return {c["id"]: (c["status"], c.get("blocked_by")) for c in clauses}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("before", type=Path, help="the kit tree before the change (a worktree of the old commit)")
    parser.add_argument("after", type=Path, help="the kit tree after it")
    parser.add_argument("--only", nargs="*", default=[], help="targets whose name contains one of these")
    args = parser.parse_args()
    chosen = [t for t in targets() if not args.only or any(o in t for o in args.only)]
    differing = 0
    with tempfile.TemporaryDirectory() as scratch, ThreadPoolExecutor(2) as pool:
        for side in ("before", "after"):
            Path(scratch, side).mkdir()
        for target in chosen:
            runs = [
                pool.submit(verdict, tree.resolve(), target, Path(scratch, side))
                for side, tree in (("before", args.before), ("after", args.after))
            ]
            old, new = (run.result() for run in runs)
            diff = {k: (old.get(k), new.get(k)) for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)}
            differing += bool(diff)
            print(target, diff or "same", flush=True)
    print(f"{len(chosen) - differing} of {len(chosen)} targets the same")


if __name__ == "__main__":
    main()
