"""Compare two runs of the ecosystem matrix, clause by clause. (On demand; not part of CI.)

    cp -r /tmp/eco/reports /tmp/reports-before      # before rerunning rows with another kit tree
    python benchmarks/matrix_diff.py /tmp/reports-before /tmp/eco/reports
    python benchmarks/matrix_diff.py /tmp/reports-before /tmp/eco/reports postgreschatstore upstashchatstore

For each row with a JSON report in both directories (``<workdir>/reports`` of ``python -m ecosystem``), prints
SAME or DIFF, the run times and calls, how many parts ran at once, and each clause whose status or blocker
changed. A change in a race clause is no regression by itself: ``benchmarks/matrix_repeat.py`` says how often
the clause meets its race.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def _statuses(report: dict[str, Any]) -> dict[str, tuple[str, str | None]]:
    return {c["id"]: (c["status"], c.get("blocked_by")) for c in report["targets"][0]["clauses"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("rows", nargs="*", help="report names without .json (default: every row in both)")
    options = parser.parse_args()
    names = options.rows or sorted(p.stem for p in options.after.glob("*.json") if (options.before / p.name).is_file())
    for name in names:
        before, after = (json.loads((d / f"{name}.json").read_text()) for d in (options.before, options.after))
        if not before.get("targets") or not after.get("targets"):
            print(f"{name}: no verdict in one of them ({before.get('error')!r}, {after.get('error')!r})")
            continue
        old, new = _statuses(before), _statuses(after)
        changed = [k for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
        spent = after["targets"][0]["budget"]
        seconds = f"{before.get('seconds', 0):.0f} s -> {after.get('seconds', 0):.0f} s"
        calls = f"{before['targets'][0]['budget']['calls']:,} -> {spent['calls']:,} calls"
        print(f"{'DIFF' if changed else 'SAME'} {name}: {seconds}, {calls}, {spent.get('concurrency', 1)} at once")
        for clause_id in changed:
            print(f"    {clause_id}: {old.get(clause_id)} -> {new.get(clause_id)}")


if __name__ == "__main__":
    main()
