"""The conformance suite: one test per clause, plus the model-based state machine.

Tests here receive the ``chatstore`` fixture (a
:class:`~pytest_chatstore.harness.StoreUnderTest`) and build a fresh store per
Hypothesis example with ``chatstore.fresh()``. Shared pieces live in this
module: the :func:`clause` mark and :func:`run_op`, which applies one
operation to a store and to the model and compares the answers.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from hypothesis import strategies as st

from pytest_chatstore import strategies as cst
from pytest_chatstore.attribution import ANSWER_RULES, exercises, rule_of
from pytest_chatstore.clauses import CLAUSES
from pytest_chatstore.driver import StoreDriver
from pytest_chatstore.linearizability import Event
from pytest_chatstore.model import ChatModel
from pytest_chatstore.operations import expected_answer

Op = tuple[Any, ...]
"""An operation: ``("add", key, message, idx)``, ``("get", key)``, ``("keys",)``: a key of
:data:`~pytest_chatstore.operations.OPERATIONS`, then the arguments."""

F = TypeVar("F", bound=Callable[..., Any])
_CLAUSE_IN_NAME = re.compile(r"test_([A-Z]{3})_(\d{3})_")


def clause(test: F) -> F:
    """Mark ``test`` as the check of the clause its name carries: ``test_KEY_001_...`` checks KEY-001.

    The ID is written once, in the name; the mark (``chatstore_clause``) is what the plugin reads.
    """
    match = _CLAUSE_IN_NAME.match(test.__name__)
    clause_id = f"{match.group(1)}-{match.group(2)}" if match else None
    if clause_id not in CLAUSES:
        raise KeyError(f"{test.__name__} names no clause of the registry (expected test_XXX_000_...)")
    marked: F = pytest.mark.chatstore_clause(clause_id)(test)
    return marked


def supported(cases: list[tuple[Op, str | None]], capabilities: frozenset[str]) -> list[Op]:
    """The operations of ``cases`` (each with the capability it needs, or None) that ``capabilities`` allow."""
    return [op for op, needs in cases if needs is None or needs in capabilities]


def op_strategy(keys: list[str], *, with_index: bool, capabilities: frozenset[str]) -> st.SearchStrategy[Op]:
    """Operations on ``keys`` that ``capabilities`` allow; index operations only if ``with_index``."""
    key = st.sampled_from(keys)
    ops: list[st.SearchStrategy[Op]] = [
        st.tuples(st.just("add"), key, cst.simple_messages, st.none()),
        st.tuples(st.just("set"), key, st.lists(cst.simple_messages, max_size=4)),
        st.tuples(st.just("get"), key),
    ]
    if "delete_last" in capabilities:
        ops.append(st.tuples(st.just("delete_last"), key))
    if "delete_all" in capabilities:
        ops.append(st.tuples(st.just("delete_all"), key))
    if "keys" in capabilities:
        ops.append(st.tuples(st.just("keys")))
    if with_index and "insert" in capabilities:
        ops.append(st.tuples(st.just("add"), key, cst.simple_messages, cst.indices()))
    if with_index and "delete_message" in capabilities:
        ops.append(st.tuples(st.just("delete"), key, cst.indices()))
    return st.one_of(ops)


def number_op(op: Op, n: int) -> Op:
    """``op`` with its messages made unique to step ``n`` (``#n`` appended to their content)."""
    if op[0] == "add":
        return (op[0], op[1], cst.numbered(op[2], n), *op[3:])
    if op[0] == "set":
        return (op[0], op[1], [cst.numbered(m, n * 100 + i) for i, m in enumerate(op[2])])
    return op


def numbered_ops(ops: list[Op]) -> list[Op]:
    """Every message in ``ops`` made unique, so that no order bug can hide behind equal messages."""
    return [number_op(op, n) for n, op in enumerate(ops)]


def readable(driver: StoreDriver, op: Op) -> bool:
    """Whether ``op``'s answer is to be read: not when its rule is known broken by the answer's shape."""
    return ANSWER_RULES.get(op[0]) not in driver.unreadable


def answer(driver: StoreDriver, op: Op, *, use_async: bool = False, rule: str | None = None) -> Any:
    """Apply ``op`` to the store and return its answer, converted (keys sorted); ``None`` if it is not read.

    ``rule`` is the clause governing the operation (by default the one its answer's shape belongs to).
    """
    __tracebackhide__ = True
    name, *args = op
    got = driver.perform(name, *args, use_async=use_async, read=readable(driver, op), rule=rule)
    if name == "keys" and got is not None:
        if len(got) != len(set(got)):
            driver.violation(f"get_keys listed a key more than once: {got!r}", rule=ANSWER_RULES["keys"])
        return sorted(got)
    return got


def left_out(driver: StoreDriver, model: ChatModel, op: Op) -> bool:
    """Whether ``op`` exercises a rule already known broken (then the example goes on without it); logged."""
    known = exercises(op, model) & (driver.known_broken - driver.unreadable)
    if known:
        driver.log.append(
            f"(left out: {op[0]}{tuple(op[1:])!r}, which exercises {', '.join(sorted(known))}, known broken)"
        )
    return bool(known)


def without_known_broken(ops: list[Op], known: frozenset[str]) -> list[Op]:
    # ``known``: clauses broken by a wrong value (those broken only by an unreadable answer keep their ops).
    """``ops`` less those that exercise a rule in ``known``, judged against the model as they would run."""
    model, kept = ChatModel(), []
    for op in ops:
        if not exercises(op, model) & known:
            kept.append(op)
            expected_answer(model, op)
    return kept


def run_op(
    driver: StoreDriver, model: ChatModel, op: Op, *, use_async: bool = False, python_negatives: bool = True
) -> None:
    """Apply ``op`` to the store and the model; fail ``driver.clause`` if the answers differ.

    An operation that exercises a rule already known broken is left out (store and model
    alike), and a wrong answer is charged to the clause whose rule governs it (see
    :mod:`pytest_chatstore.attribution`).

    Writes answer ``None`` by contract and are not compared. ``delete_messages``
    may answer ``None`` or the removed list. With ``python_negatives=False`` a
    negative-index delete may also answer ``None`` and change nothing (DEL-003's
    allowance).
    """
    __tracebackhide__ = True
    if left_out(driver, model, op):
        return
    rule = rule_of(op, model)
    got = answer(driver, op, use_async=use_async, rule=rule)
    if not readable(driver, op):  # its effect still counts: the model follows, later reads compare
        expected_answer(model, op)
        return
    if op[0] == "delete" and got is None and op[2] < 0 and not python_negatives:
        return
    expected = expected_answer(model, op)
    if op[0] in ("set", "add", "add_batch") or (op[0] == "delete_all" and got is None):
        return
    shown = ", ".join(repr(a) for a in op[1:])
    driver.expect(f"answer to {op[0]}({shown})", expected, got, rule=rule)


class Unread:
    """An answer the kit does not read (its rule is known broken by its shape): equal to any expected answer."""

    def __eq__(self, other: object) -> bool:
        return True

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return "<not read>"


def timeline(history: list[Event], who: str = "thread") -> list[str]:
    """A concurrent history as lines ordered by start time, in microseconds from the first call."""
    events = sorted(history, key=lambda e: e.start)
    t0 = events[0].start
    return [
        f"{who} {e.thread} [{(e.start - t0) / 1000:.0f}-{(e.end - t0) / 1000:.0f} us] {e.op!r} -> {e.result!r}"
        for e in events
    ]
