"""Run one clause of an ecosystem matrix row several times: how often does it fail? (On demand; not part of CI.)

    python benchmarks/matrix_repeat.py --workdir /tmp/eco --row PostgresChatMessageHistory --clause PRC-001 --runs 5
    python benchmarks/matrix_repeat.py --workdir /tmp/eco --row "PostgresChatStore (Cloud SQL)" --clause SHR-002

A race check meets its race only when the threads or processes interleave the wrong way; a matrix row whose race
clause failed in one run and passed in the next is telling the truth both times. This tells luck from a change:
it runs the clause alone, ``--runs`` times, in the row's own virtual environment (``python -m ecosystem`` made it
under ``--workdir``) against the servers the row needs (started here as the matrix starts them), derandomized as
the matrix runs, and prints each run's status and the first words of what happened. Extra options after ``--``
go to pytest (``-- --chatstore-budget=100000``: no clause cut by the time budget, so two kit trees compare).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ecosystem import BACKENDS  # noqa: E402
from ecosystem.__main__ import servers, slug  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, required=True, help="the matrix's --workdir (its venvs)")
    parser.add_argument("--row", required=True, help="the row's name, as in docs/ecosystem.md")
    parser.add_argument("--clause", required=True, help="a --chatstore-clauses value: IDs, globs, groups")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tree", type=Path, default=ROOT, help="the kit's checkout to run (default: this one)")
    parser.add_argument("pytest_args", nargs="*", help="after --: more options for pytest")
    options = parser.parse_args()
    backend = next(b for b in BACKENDS if b.name == options.row)
    python = options.workdir / "venvs" / slug(backend.name) / "bin" / "python"
    with servers(set(backend.needs), options.workdir) as env:
        env["PYTHONPATH"] = str(options.tree.resolve())
        for run in range(1, options.runs + 1):
            with tempfile.TemporaryDirectory() as tmp:
                Path(tmp, "pytest.ini").write_text("[pytest]\n")
                report = Path(tmp, "report.json")
                subprocess.run(
                    [
                        str(python),
                        "-m",
                        "pytest",
                        "-p",
                        "no:cacheprovider",
                        "-q",
                        "--rootdir",
                        tmp,
                        "-c",
                        f"{tmp}/pytest.ini",
                        f"--chatstore={backend.target}",
                        "--chatstore-only",
                        f"--chatstore-clauses={options.clause}",
                        f"--chatstore-report={report}",
                        "--chatstore-timeout=10",
                        *backend.extra_args,
                        *options.pytest_args,
                    ],
                    cwd=tmp,
                    env={**env, "TMPDIR": tmp},
                    capture_output=True,
                )
                for clause in json.loads(report.read_text())["targets"][0]["clauses"]:
                    said = str(clause.get("failure") or "").split("what happened: ")[-1][:100]
                    print(f"run {run}: {clause['id']} {clause['status']}{': ' + said if said else ''}", flush=True)


if __name__ == "__main__":
    main()
