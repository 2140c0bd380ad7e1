"""Calls per unit of work of each Hypothesis clause, measured on the in-memory reference store.

    python benchmarks/clause_work.py            # prints each clause's measured work

The time budget (``pytest_chatstore/engine/budget.py``) plans with these figures, kept in
each clause's record (``work=`` in ``pytest_chatstore/spec/clauses.py``): each property
or state-machine clause's store calls per example, as one default-profile run of
the reference store makes them. Rerun it after changing what a clause does per
example and paste the changed figure into the clause's ``work``; the sized clauses
(concurrency, with calls per step or round) are written there by hand from their
code. The calls of a bounded-exhaustive phase count in the examples' calls here.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

REFERENCE = "reference_impls.memory:InMemoryChatStore"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                f"--chatstore={REFERENCE}",
                "--chatstore-only",
                "--chatstore-hypothesis=ci",
                f"--chatstore-report={report}",
            ],
            check=True,
            capture_output=True,
        )
        data = json.loads(report.read_text())
    sys.path.insert(0, str(Path(__file__).parent.parent))
    from pytest_chatstore.engine.budget import work

    for clause in data["targets"][0]["clauses"]:
        evidence, kind = clause["evidence"], work(clause["id"]).unit
        if kind in ("property", "machine") and evidence["examples"]:
            per_unit = evidence["calls"] / evidence["examples"]
            print(f'{clause["id"]}: work=Work({per_unit:.0f}, "{kind}", ...)  # {per_unit:.1f} calls per example')


if __name__ == "__main__":
    main()
