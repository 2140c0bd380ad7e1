"""The conformance suite: one test per clause, plus the model-based state machine.

Tests here receive the ``chatstore`` fixture (a
:class:`~pytest_chatstore.harness.StoreUnderTest`) and build a fresh store per
Hypothesis example with ``chatstore.fresh()``. Shared pieces live in this
module: the :func:`clause` mark and :func:`run_op`, which applies one
operation to a store and to the model and compares the answers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import strategies as st

from pytest_chatstore import strategies as cst
from pytest_chatstore.clauses import CLAUSES
from pytest_chatstore.driver import StoreDriver
from pytest_chatstore.model import ChatModel

Op = tuple[Any, ...]
"""An operation: ``("add", key, message, idx)``, ``("get", key)``, ``("keys",)``..."""


def clause(clause_id: str) -> pytest.MarkDecorator:
    """Mark a test as the check of ``clause_id`` (which must be in the registry)."""
    if clause_id not in CLAUSES:
        raise KeyError(f"unknown clause {clause_id!r}")
    return pytest.mark.chatstore_clause(clause_id)


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


def answer(driver: StoreDriver, op: Op, *, use_async: bool = False) -> Any:
    """Apply ``op`` to the store and return its answer, converted (keys sorted)."""
    __tracebackhide__ = True
    name, *args = op
    if name == "set":
        return driver.set_messages(args[0], args[1], use_async=use_async)
    if name == "add":
        return driver.add_message(args[0], args[1], args[2], use_async=use_async)
    if name == "keys":
        listed = driver.get_keys(use_async=use_async)
        if len(listed) != len(set(listed)):
            driver.violation(f"get_keys listed a key more than once: {listed!r}")
        return sorted(listed)
    methods: dict[str, Callable[..., Any]] = {
        "get": driver.get_messages,
        "delete_all": driver.delete_messages,
        "delete_last": driver.delete_last_message,
        "delete": driver.delete_message,
    }
    return methods[name](*args, use_async=use_async)


def expected_answer(model: ChatModel, op: Op) -> Any:
    """What the model answers to ``op`` (``delete_messages`` answers the removed list)."""
    name, *args = op
    if name == "set":
        return model.set_messages(args[0], args[1])
    if name == "add":
        return model.add_message(args[0], args[1], args[2])
    if name == "keys":
        return model.get_keys()
    methods: dict[str, Callable[..., Any]] = {
        "get": model.get_messages,
        "delete_all": model.delete_messages,
        "delete_last": model.delete_last_message,
        "delete": model.delete_message,
    }
    return methods[name](*args)


def run_op(
    driver: StoreDriver, model: ChatModel, op: Op, *, use_async: bool = False, python_negatives: bool = True
) -> None:
    """Apply ``op`` to the store and the model; fail ``driver.clause`` if the answers differ.

    Writes answer ``None`` by contract and are not compared. ``delete_messages``
    may answer ``None`` or the removed list. With ``python_negatives=False`` a
    negative-index delete may also answer ``None`` and change nothing (DEL-003's
    allowance).
    """
    __tracebackhide__ = True
    got = answer(driver, op, use_async=use_async)
    if op[0] == "delete" and got is None and op[2] < 0 and not python_negatives:
        return
    expected = expected_answer(model, op)
    if op[0] in ("set", "add") or (op[0] == "delete_all" and got is None):
        return
    shown = ", ".join(repr(a) for a in op[1:])
    driver.expect(f"answer to {op[0]}({shown})", expected, got)
