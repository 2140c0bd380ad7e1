"""The tail read: ``get_last_messages(key, limit)``, the Agents SDK's ``get_items(limit)`` (capability ``tail``).

Both clauses are fixed enumerations, the same on every run: every conversation of 0 to 4 messages read with
every limit from 1 to 6 (TAL-001), and limits of 0 and below on a conversation of three (TAL-002), through the
sync method and its async twin. The expected tail is the end of what ``get_messages`` reads from the same store,
so an order or a replace bug stays the business of its own clauses.
"""

from __future__ import annotations

from pytest_chatstore.engine.failures import described
from pytest_chatstore.harness.store import StoreUnderTest
from pytest_chatstore.spec.contract import ChatMessage
from pytest_chatstore.suite import clause, twins

KEY = "tail"


def _conversation(length: int) -> list[ChatMessage]:
    return [ChatMessage("user" if i % 2 == 0 else "assistant", f"message {i}") for i in range(length)]


@clause
def test_TAL_001_the_last_n_messages_oldest_first(chatstore: StoreUnderTest) -> None:
    chatstore.require_clause("TAL-001")
    with chatstore.fresh() as store:
        for length in range(5):
            key = f"{KEY} {length}"
            if length:
                store.set_messages(key, _conversation(length))
            full = store.get_messages(key)
            for limit in range(1, 7):
                for use_async in twins(chatstore.capabilities):
                    got = store.perform("tail", key, limit, use_async=use_async)
                    chatstore.examples += 1
                    twin = " (async)" if use_async else ""
                    store.expect(f"get_last_messages({key!r}, {limit}){twin}, after get_messages read {len(full)}",
                                 full[-limit:], got)  # fmt: skip


@clause
def test_TAL_002_no_limit_or_a_negative_one_reads_nothing(chatstore: StoreUnderTest) -> None:
    chatstore.require_clause("TAL-002")
    with chatstore.fresh() as store:
        store.set_messages(KEY, _conversation(3))
        before = store.get_messages(KEY)
        for limit in (0, -1, -2, -3, -4):
            for use_async in twins(chatstore.capabilities):
                twin = " (async)" if use_async else ""
                chatstore.examples += 1
                try:
                    got = store.perform("tail", KEY, limit, use_async=use_async, raw=True)
                except (ValueError, TypeError):
                    continue  # refused: what the clause allows
                except Exception as exc:  # noqa: BLE001 - any other exception is the finding
                    store.violation(
                        f"get_last_messages({KEY!r}, {limit}){twin} raised {described(exc)} "
                        "(expected: [], or ValueError or TypeError)"
                    )
                store.expect(f"get_last_messages({KEY!r}, {limit}){twin} of {len(before)} messages", [], got)
        store.expect("the conversation after the tail reads", before, store.get_messages(KEY))
