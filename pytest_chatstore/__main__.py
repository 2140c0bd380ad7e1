"""``python -m pytest_chatstore spec|changelog``: print a generated docs page from the clause registry."""

from __future__ import annotations

import sys

from pytest_chatstore.clauses import render_changelog, render_spec

PAGES = {"spec": render_spec, "changelog": render_changelog}


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in PAGES:
        print("usage: python -m pytest_chatstore spec|changelog > docs/NAME.md", file=sys.stderr)
        return 2
    sys.stdout.write(PAGES[argv[0]]())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
