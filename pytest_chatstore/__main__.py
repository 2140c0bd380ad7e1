"""``python -m pytest_chatstore spec``: print the spec (``docs/spec.md``) from the clause registry."""

from __future__ import annotations

import sys

from pytest_chatstore.clauses import render_spec


def main(argv: list[str]) -> int:
    if argv != ["spec"]:
        print("usage: python -m pytest_chatstore spec > docs/spec.md", file=sys.stderr)
        return 2
    sys.stdout.write(render_spec())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
