"""Async parity: the async twins answer as the sync methods, on one and the same store."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from pytest_chatstore.harness.store import StoreUnderTest
from pytest_chatstore.spec.contract import ChatMessage
from pytest_chatstore.spec.model import ChatModel
from pytest_chatstore.suite import (
    answer,
    clause,
    numbered_ops,
    op_strategy,
    run_op,
    supported,
    without_known_broken,
)

KEYS = ["a", "b"]

_M = [ChatMessage("user", "m0"), ChatMessage("assistant", "m1"), ChatMessage("user", "m2")]
_EVERY_OP: list[tuple[tuple[Any, ...], str | None]] = [
    (("set", "a", _M), None),
    (("add", "a", ChatMessage("user", "m3"), None), None),
    (("add", "a", ChatMessage("user", "m4"), 1), "insert"),
    (("get", "a"), None),
    (("delete", "a", 0), "delete_message"),
    (("delete_last", "a"), "delete_last"),
    (("keys",), "keys"),
    (("delete_all", "a"), "delete_all"),
    (("get", "a"), None),
]
"""Each operation once, with an answer to compare, checked before the random search: a twin that answers
wrong shows whatever the search draws (derandomized or not). Without it, a store whose async delete-last
answered None passed 1 random run in 10."""


@clause
def test_PAR_001_async_twins_answer_as_sync(chatstore: StoreUnderTest) -> None:
    ops = op_strategy(KEYS, with_index=True, capabilities=chatstore.capabilities)

    def compare(ops: list[tuple[Any, ...]]) -> None:
        ops = without_known_broken(numbered_ops(ops), chatstore.known_broken - chatstore.unreadable)
        # One history after the other: a server-backed store's "fresh" stores share one database.
        with chatstore.fresh() as sync_store:
            sync_answers = [answer(sync_store, op) for op in ops]
            sync_log = list(sync_store.log)
        with chatstore.fresh() as async_store:
            async_store.log.extend(f"(sync twin, first) {entry}" for entry in sync_log)
            for op, sync_answer in zip(ops, sync_answers, strict=True):
                got = answer(async_store, op, use_async=True)
                async_store.expect(f"async answer to {op[0]}{tuple(op[1:])!r} vs its sync twin's", sync_answer, got)

    compare(supported(_EVERY_OP, chatstore.capabilities))

    @chatstore.given(ops=st.lists(ops, min_size=1, max_size=12))
    def check(sut: StoreUnderTest, ops: list[tuple[Any, ...]]) -> None:
        compare(ops)

    check()


@clause
def test_PAR_002_sync_and_async_share_one_store(chatstore: StoreUnderTest) -> None:
    # No listing: PAR-001 compares it between twins, and emptied keys are KEY-002's (a SHOULD).
    ops = op_strategy(KEYS, with_index=True, capabilities=chatstore.capabilities - {"keys"})

    @chatstore.given(steps=st.lists(st.tuples(ops, st.booleans()), min_size=1, max_size=12))
    def check(sut: StoreUnderTest, steps: list[tuple[tuple[Any, ...], bool]]) -> None:
        model = ChatModel()
        ops = numbered_ops([op for op, _ in steps])
        with sut.fresh() as store:
            # A sync read that disagrees with the model breaks the order of operations (ORD-001) whatever the
            # calls were, amid them or after them; this clause's own rule is that the async read agrees with it.
            for op, (_, use_async) in zip(ops, steps, strict=True):
                if op[0] == "get" and not use_async:
                    key = op[1]
                    store.expect(f"sync read of {key!r} amid mixed calls", model.get_messages(key),
                                 store.get_messages(key), rule="ORD-001")  # fmt: skip
                    continue
                run_op(store, model, op, use_async=use_async, python_negatives=False)
            for key in KEYS:
                store.expect(
                    f"sync read of {key!r} after mixed calls",
                    model.get_messages(key),
                    store.get_messages(key),
                    rule="ORD-001",
                )
                store.expect(
                    f"async read of {key!r} after mixed calls",
                    model.get_messages(key),
                    store.get_messages(key, use_async=True),
                )

    check()
