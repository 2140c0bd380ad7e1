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

from pytest_chatstore.report.render import badge
from pytest_chatstore.run.settings import render_options
from pytest_chatstore.spec.clauses import render_changelog, render_spec
from pytest_chatstore.spec.statuses import render as render_statuses

PAGES = {"spec": render_spec, "changelog": render_changelog, "options": render_options, "statuses": render_statuses}
USAGE = (
    "usage: python -m pytest_chatstore spec|changelog > docs/NAME.md\n"
    "       python -m pytest_chatstore options|statuses  (the tables in docs/reference.md)\n"
    "       python -m pytest_chatstore badge REPORT.json > badge.json"
)


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
