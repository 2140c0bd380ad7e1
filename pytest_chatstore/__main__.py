"""``python -m pytest_chatstore spec|changelog|options|statuses|badge REPORT.json``.

``spec`` and ``changelog`` print a generated docs page from the clause registry,
``options`` the options table of ``docs/reference.md`` from the settings table,
``statuses`` its table of statuses from the status table;
``badge`` turns a JSON report into a shields.io endpoint document
(``https://img.shields.io/endpoint?url=...``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pytest_chatstore.clauses import render_changelog, render_spec
from pytest_chatstore.settings import render_options
from pytest_chatstore.statuses import render as render_statuses

PAGES = {"spec": render_spec, "changelog": render_changelog, "options": render_options, "statuses": render_statuses}
USAGE = (
    "usage: python -m pytest_chatstore spec|changelog > docs/NAME.md\n"
    "       python -m pytest_chatstore options|statuses  (the tables in docs/reference.md)\n"
    "       python -m pytest_chatstore badge REPORT.json > badge.json"
)


def badge(report: dict[str, Any]) -> dict[str, Any]:
    """A shields.io endpoint document: green when every target passes the gate, saying the weakest level every
    target conforms to ("conforms to full (spec 0.5)"), or the gate level failed and what was still reached
    ("fails full (spec 0.5); conforms to must")."""
    targets = report.get("targets", [])
    passes = report.get("gate") == "pass" and bool(targets)
    levels = ["core", "must", "full"]
    reached = [t.get("level_reached") for t in targets]
    weakest = None if None in reached or not reached else min(reached, key=levels.index)
    spec = f"(spec {report['spec']['implemented']})"
    if passes:
        message = f"conforms to {weakest} {spec}" if weakest else f"passes {spec}"
    else:
        message = f"fails {report.get('level', 'the gate')} {spec}" + (f"; conforms to {weakest}" if weakest else "")
    return {"schemaVersion": 1, "label": "chatstore", "message": message, "color": "brightgreen" if passes else "red"}


def main(argv: list[str]) -> int:
    if len(argv) == 1 and argv[0] in PAGES:
        sys.stdout.write(PAGES[argv[0]]())
        return 0
    if len(argv) == 2 and argv[0] == "badge":
        try:
            report = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            print(f"pytest-chatstore badge: cannot read {argv[1]}: {exc}", file=sys.stderr)
            return 2
        sys.stdout.write(json.dumps(badge(report)) + "\n")
        return 0
    print(USAGE, file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
