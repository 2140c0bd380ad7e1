"""Whose rule an answer is checked against, and how checks keep testing around known failures.

A composite check (the state machine, key listing, async parity, order of
operations...) runs many operations and compares their answers with the model.
Each answer is governed by one clause's rule: what ``delete_message(k, -1)``
answers is DEL-004's business, not KEY-002's. Two consequences:

- **Attribution.** When a check meets a wrong answer governed by another
  clause, and that clause is already known broken in this run, the check is
  *blocked by* it rather than failed for it (:class:`ClauseBlocked`). When the
  other clause is not known broken (its own check passed, or has not run), the
  check fails in its own right and its report names the rule it met.
- **Keep testing around a known failure.** Before an operation runs, the check
  asks which rules it exercises (:func:`exercises`); if any is known broken, the
  operation is left out of the example (store and model alike), so the check
  goes on to test what is its own.

A clause is known broken for a target once it failed in this run, or is listed
as an expected failure (see :class:`KnownBroken`). Focused clauses (the rules
below) run before composite ones, so that they are known when it matters.
"""

from __future__ import annotations

from typing import Any

from pytest_chatstore.engine.failures import ClauseFailure, ReplayRecord, format_failure
from pytest_chatstore.spec.clauses import CLAUSES, ORDER, exercised, governing
from pytest_chatstore.spec.operations import case_of

ANSWER_RULES: dict[str, str] = {op: c.id for c in CLAUSES.values() for op in c.answers}
"""Operation -> the clause whose rule makes its answer a message (or a list of them, or str keys).

An answer that is not one (raw bytes, JSON text, ``None`` in a list) breaks that rule."""

FOCUSED = frozenset(c.id for c in CLAUSES.values() if c.focused)
"""Clauses whose rule governs an operation's answer: they run first, so composite checks know them."""


class ClauseBlocked(ClauseFailure):
    """A check met a violation of another clause's rule that is already known broken: not verified, not failed."""

    def __init__(self, clause_id: str, blocked_by: str, text: str, what: str = "") -> None:
        super().__init__(clause_id, text, what)
        self.blocked_by: str | None = blocked_by


def blocked(
    clause_id: str, rule: str, what: str, *, replay: ReplayRecord | None = None, **details: Any
) -> ClauseBlocked:
    """The exception for ``clause_id`` blocked by ``rule``, whose failure text ``details`` describe."""
    text = f"[{clause_id}] blocked by {rule}, already known broken in this run:\n" + format_failure(
        rule, what, **details
    )
    failure = ClauseBlocked(clause_id, rule, text, what)
    failure.replay = replay
    return failure


def _case(op: tuple[Any, ...], model: Any) -> str:
    """``op``'s case, given the model's state before it (no model: a write whose case needs none)."""
    return case_of(op, lambda: len(model.get_messages(op[1])))


def rule_of(op: tuple[Any, ...], model: Any) -> str | None:
    """The clause whose rule governs ``op``'s answer, given the model's state before ``op``.

    ``None`` for a write, whose answer is not compared, and for a read, whose
    answer shows the whole history (the running check's own business).
    """
    return governing(op[0], _case(op, model))


def state_rule(op: tuple[Any, ...], model: Any) -> str:
    """The clause whose rule governs the state ``op`` leaves, given the model's state before it (ORD-001's when
    none does: the order of what is left)."""
    return governing(op[0], _case(op, model), effect=True) or ORDER


def exercises(op: tuple[Any, ...], model: Any) -> frozenset[str]:
    """Every clause whose rule ``op`` exercises (its answer or its effect), given the model's state before it."""
    return exercised(op[0], _case(op, model))


class KnownBroken:
    """Per target, the clauses known broken so far in this run, and which of them only by an unreadable answer.

    A clause broken only by the *shape* of an answer (raw bytes where a message belongs) leaves the
    operation's effect to be checked: composite checks still run it, with its answer unread. One broken
    by a wrong *value* (or listed as an expected failure, whose way of breaking is unknown) is left out.
    """

    def __init__(self) -> None:
        self._by_target: dict[str, dict[str, bool]] = {}
        self._raising: dict[str, dict[tuple[str, str], str]] = {}

    def add(
        self,
        target: str,
        clause_id: str,
        *,
        shape: bool = False,
        raised_in: tuple[str, str] | None = None,
        met: str | None = None,
    ) -> None:
        """``raised_in``: where the store raised, for a failure that is the store raising; ``met``: the rule of the
        write that raised, when it is another clause's. Later checks meeting the same exception in the same method
        are charged to that rule, not to the check that happened to meet it first."""
        self._by_target.setdefault(target, {})[clause_id] = shape
        if raised_in is not None:
            self._raising.setdefault(target, {}).setdefault(raised_in, met or clause_id)

    def raising(self, target: str) -> dict[tuple[str, str], str]:
        """(store method, exception type) -> the clause that failed first because the store raised it there."""
        return dict(self._raising.get(target, {}))

    def of(self, target: str) -> frozenset[str]:
        """A snapshot: a check sees the same set for its whole run (Hypothesis needs that)."""
        return frozenset(self._by_target.get(target, {}))

    def unreadable(self, target: str) -> frozenset[str]:
        """The clauses known broken only because an answer could not be read."""
        return frozenset(c for c, shape in self._by_target.get(target, {}).items() if shape)
