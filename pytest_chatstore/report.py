"""Failure messages a person can act on, and the end-of-run summary.

A failure says which clause broke (ID, level, rule), the step that showed it,
what was expected and what came back, the operations that led there (for a
Hypothesis test: the shrunk example's), and how to fix it (the hint).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NoReturn

from pytest_chatstore.clauses import CLAUSES
from pytest_chatstore.driver import short

_UNSET = object()


class ClauseFailure(AssertionError):
    """A store broke a clause. ``str()`` is the full, readable report."""

    def __init__(self, clause_id: str, text: str) -> None:
        super().__init__(text)
        self.clause_id = clause_id


def format_failure(
    clause_id: str,
    what: str,
    *,
    expected: object = _UNSET,
    actual: object = _UNSET,
    log: Sequence[str] = (),
) -> str:
    """The text of a :class:`ClauseFailure`."""
    clause = CLAUSES[clause_id]
    lines = [f"[{clause.id} {clause.level}] {clause.rule}", f"  what happened: {what}"]
    if expected is not _UNSET:
        lines.append(f"  expected: {short(expected)}")
    if actual is not _UNSET:
        lines.append(f"  actual:   {short(actual)}")
    if log:
        lines.append("  operations on the store under test, in order (the last one shows the failure):")
        lines += [f"    {i:>3}. {entry}" for i, entry in enumerate(log[-40:], start=max(1, len(log) - 39))]
    lines.append(f"  hint: {clause.hint}")
    return "\n".join(lines)


def fail(
    clause_id: str,
    what: str,
    *,
    expected: object = _UNSET,
    actual: object = _UNSET,
    log: Sequence[str] = (),
) -> NoReturn:
    """Raise a :class:`ClauseFailure` for ``clause_id``."""
    __tracebackhide__ = True
    raise ClauseFailure(clause_id, format_failure(clause_id, what, expected=expected, actual=actual, log=log))


@dataclass(frozen=True)
class Outcome:
    """One clause's result against one target, as the summary counts it."""

    target: str
    clause_id: str
    outcome: str  # "passed", "failed", "skipped"


def summary_lines(outcomes: Iterable[Outcome], sources: dict[str, str]) -> list[str]:
    """The terminal summary: per target, counts per group, then each failing clause with its level and rule."""
    by_target: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        by_target[o.target].append(o)
    lines: list[str] = []
    for target, results in by_target.items():
        failed = sorted({o.clause_id for o in results if o.outcome == "failed"})
        must = sum(CLAUSES[c].level == "MUST" for c in failed)
        verdict = "CONFORMS" if not failed else f"DOES NOT CONFORM ({must} MUST, {len(failed) - must} SHOULD failing)"
        lines.append(f"{target} ({sources.get(target, '?')}): {verdict}")
        groups: dict[str, Counter[str]] = defaultdict(Counter)
        for o in results:
            groups[CLAUSES[o.clause_id].group][o.outcome] += 1
        for group, counts in groups.items():
            cells = ", ".join(f"{counts[k]} {k}" for k in ("passed", "failed", "skipped") if counts[k])
            lines.append(f"  {group:<12} {cells}")
        for cid in failed:
            clause = CLAUSES[cid]
            lines.append(f"  FAILED {cid} [{clause.level}] {clause.rule}")
    return lines
