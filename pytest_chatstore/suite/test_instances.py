"""Several stores on one backend: a write is seen by the other instance at once, and a store built later sees it.

A second store "on the same backend" is built with the first one's ``redis_url``
or ``namespace`` (``chatstore.fresh(backend_of=driver)``): the kit hands a factory
taking ``redis_url`` the same database, and one taking ``namespace`` the same
name. This module runs before the concurrency clauses, so SHR-002 knows whether
a stale instance (SHR-001) is already known.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from pytest_chatstore.harness.store import StoreUnderTest
from pytest_chatstore.spec.model import ChatModel
from pytest_chatstore.suite import clause, exhaust_shared, numbered_ops, op_strategy, run_op

KEYS = ["conversation", "other"]

# -- several instances ----------------------------------------------------------------------


@clause
def test_SHR_001_writes_are_seen_by_other_instances_at_once(chatstore: StoreUnderTest) -> None:
    exhaust_shared(chatstore)
    ops = op_strategy(KEYS, with_index=True, capabilities=chatstore.capabilities - {"keys"})

    @chatstore.given(steps=st.lists(st.tuples(ops, st.booleans()), min_size=1, max_size=10))
    def check(sut: StoreUnderTest, steps: list[tuple[tuple[Any, ...], bool]]) -> None:
        model = ChatModel()
        with sut.fresh() as first, sut.fresh(backend_of=first) as second:
            stores = (first, second)
            for op, (_, through_second) in zip(numbered_ops([op for op, _ in steps]), steps, strict=True):
                writer, other = stores[through_second], stores[not through_second]
                run_op(writer, model, op)
                for key in KEYS:
                    # This clause's rule: the other instance reads what the writer reads. Whether that agrees
                    # with the model is the order clauses' business (ORD-001, MDL-001).
                    own = writer.get_messages(key)
                    other.expect(
                        f"{key!r} read through the other instance after {op[0]} through the first "
                        "(expected: what the first reads)",
                        own,
                        other.get_messages(key),
                    )

    check()


@clause
def test_SHR_003_a_store_built_later_sees_everything_written_before(chatstore: StoreUnderTest) -> None:
    ops = op_strategy(KEYS, with_index=True, capabilities=chatstore.capabilities - {"keys"})

    @chatstore.given(ops=st.lists(ops, min_size=1, max_size=10))
    def check(sut: StoreUnderTest, ops: list[tuple[Any, ...]]) -> None:
        model = ChatModel()
        with sut.fresh() as first:
            for op in numbered_ops(ops):
                run_op(first, model, op)
            # This clause's rule: a later store sees what this one saw (whether that agrees with the model is
            # other clauses' business: order, emptied keys).
            seen = {key: first.get_messages(key) for key in KEYS}
            listed = sorted(first.get_keys()) if "keys" in first.capabilities else None
            first.log.append("(the store is closed; another is built on the same backend)")
        with sut.fresh(backend_of=first) as later:
            for key in KEYS:
                later.expect(
                    f"{key!r} read through a store built later (expected: what the first read)",
                    seen[key],
                    later.get_messages(key),
                )
            if listed is not None:
                later.expect("keys listed by a store built later (expected: what the first listed)", listed,
                             sorted(later.get_keys()))  # fmt: skip

    check()
