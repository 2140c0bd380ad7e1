"""The driver (:mod:`pytest_chatstore.engine.driver`), directly: conversion, logging, checks, the clause checked."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from pytest_chatstore.adapters import NativeAdapter
from pytest_chatstore.engine import capabilities
from pytest_chatstore.engine.attribution import ClauseBlocked
from pytest_chatstore.engine.driver import StoreDriver
from pytest_chatstore.engine.failures import ClauseFailure, Hung, InfrastructureError
from pytest_chatstore.engine.runner import Runner
from pytest_chatstore.spec.contract import ChatMessage
from reference_impls.memory import InMemoryChatStore
from tests.broken_stores import DeleteReturnsJson

A, B = ChatMessage("user", "a"), ChatMessage("assistant", "b", {"n": 1})


def driver_for(store: Any, clause: str = "ORD-001", timeout: float = 5.0) -> StoreDriver:
    return StoreDriver(store, NativeAdapter(), Runner(timeout), capabilities.detect(store, frozenset()), clause)


def test_answers_come_back_in_the_kits_terms_and_every_call_is_logged() -> None:
    driver = driver_for(InMemoryChatStore())
    driver.set_messages("k", [A])
    driver.add_message("k", B, 0)
    assert driver.get_messages("k") == [B, A]
    assert driver.delete_last_message("k") == A
    assert driver.get_keys() == ["k"]
    assert [step.op for step in driver.steps] == ["set", "add", "get", "delete_last", "keys"]
    assert driver.steps[1].kwargs == {"idx": 0}  # an index goes by keyword, as LlamaIndex's base class takes it
    assert driver.log[0].startswith("store.set_messages('k', [ChatMessage('user', 'a')]) -> None")


def test_given_messages_are_copies_not_the_callers_objects() -> None:
    store = InMemoryChatStore()
    driver = driver_for(store)
    message = ChatMessage("user", "x", {"nested": [1]})
    driver.add_message("k", message)
    message.additional_kwargs["nested"].append(2)
    assert driver.get_messages("k") == [ChatMessage("user", "x", {"nested": [1]})]


def test_a_failed_expectation_names_the_clause_and_carries_the_calls() -> None:
    driver = driver_for(InMemoryChatStore(), clause="SET-001")
    driver.set_messages("k", [A])
    with pytest.raises(ClauseFailure) as caught:
        driver.expect("messages after set", [B], driver.get_messages("k"))
    assert caught.value.clause_id == "SET-001"
    assert "[SET-001 MUST]" in str(caught.value)
    assert "expected: [ChatMessage('assistant', 'b', {'n': 1})]" in str(caught.value)
    record = caught.value.replay
    assert record is not None
    assert [s.op for s in record.steps] == ["set", "get"]
    assert (record.expected, record.actual) == ([B], [A])


def test_checking_switches_the_clause_for_a_block_and_restores_it() -> None:
    driver = driver_for(InMemoryChatStore(), clause="ORD-001")
    with driver.checking("FRE-001"):
        assert driver.clause == "FRE-001"
    assert driver.clause == "ORD-001"
    with pytest.raises(ClauseFailure) as caught, driver.checking("KEY-002"):
        driver.violation("listed an emptied key")
    assert caught.value.clause_id == "KEY-002"
    assert driver.clause == "ORD-001"


def test_an_answer_that_is_not_a_message_fails_the_clause_being_checked() -> None:
    driver = driver_for(DeleteReturnsJson(), clause="DEL-001")
    driver.set_messages("k", [A, B])
    with pytest.raises(ClauseFailure, match=r"(?s)\[DEL-001 MUST\].*expected a message .* got str"):
        driver.delete_message("k", 0)


def test_keys_that_are_not_str_fail() -> None:
    class BytesKeys(InMemoryChatStore):
        def get_keys(self) -> list[str]:
            return [k.encode() for k in super().get_keys()]  # type: ignore[misc]

    driver = driver_for(BytesKeys(), clause="KEY-001")
    driver.add_message("k", A)
    with pytest.raises(ClauseFailure, match="get_keys returned a bytes key, not str"):
        driver.get_keys()


def test_a_store_exception_fails_the_running_check_unless_raw() -> None:
    class Broken(InMemoryChatStore):
        def get_messages(self, key: str) -> list[ChatMessage]:
            raise ValueError("bad state")

    driver = driver_for(Broken(), clause="ORD-002")
    with pytest.raises(ClauseFailure, match=r"the store raised ValueError during store.get_messages\('k'\): bad"):
        driver.get_messages("k")
    with pytest.raises(ValueError, match="bad state"):
        driver.call("get", "k", raw=True)
    assert driver.log[-1].endswith("raised ValueError: 'bad state'")
    with pytest.raises(ClauseFailure) as caught, driver.checking("FRE-001"):
        driver.get_messages("k")
    assert caught.value.clause_id == "ORD-002"  # the check that was running, not the canary's clause


def test_a_backend_that_went_away_is_no_verdict() -> None:
    class Unreachable(InMemoryChatStore):
        def get_messages(self, key: str) -> list[ChatMessage]:
            raise ConnectionRefusedError("[Errno 111] Connection refused")

    driver = driver_for(Unreachable(), clause="ORD-002")
    with pytest.raises(InfrastructureError, match="its backend could not be reached: no verdict"):
        driver.get_messages("k")


def test_none_inside_a_list_answer_is_a_violation_not_dropped() -> None:
    class TrailingNone(InMemoryChatStore):
        def get_messages(self, key: str) -> list[ChatMessage]:
            return [*super().get_messages(key), None]  # type: ignore[list-item]

    driver = driver_for(TrailingNone(), clause="FID-001")
    driver.add_message("k", A)
    with pytest.raises(ClauseFailure, match="get_messages returned None at position 1 of its list") as caught:
        driver.get_messages("k")
    assert caught.value.shape


def test_a_wrong_answer_under_another_clauses_rule_is_blocked_when_that_rule_is_known_broken() -> None:
    driver = driver_for(DeleteReturnsJson(), clause="KEY-002")
    driver.set_messages("k", [A, B])
    with pytest.raises(
        ClauseFailure, match=r"breaks DEL-001's rule too; DEL-001 is not known broken yet in this run"
    ) as own:
        driver.delete_message("k", 0)
    assert own.value.clause_id == "KEY-002"
    assert not isinstance(own.value, ClauseBlocked)
    driver.known_broken = frozenset({"DEL-001"})
    with pytest.raises(ClauseBlocked, match=r"\[KEY-002\] blocked by DEL-001") as caught:
        driver.delete_message("k", 0)
    assert caught.value.blocked_by == "DEL-001"


@pytest.mark.parametrize("hosted", [False, True], ids=["direct", "hosted"])
def test_a_call_that_hangs_stops_the_check_within_the_per_operation_limit(hosted: bool) -> None:
    """The same verdict whether the check runs on its runner's worker (``Runner.host``, as the suite's do, the
    hang then seen from this thread) or here (the call handed to the worker)."""
    never = threading.Event()

    class Hangs(InMemoryChatStore):
        def get_messages(self, key: str) -> list[ChatMessage]:
            never.wait()
            return []

    driver = driver_for(Hangs(), clause="ORD-002", timeout=0.2)
    try:
        with pytest.raises(Hung, match=r"the store hung: get_messages\(\) did not return within 0.2 s") as hung:
            driver.runner.host(driver.get_messages, "k") if hosted else driver.get_messages("k")
        assert not isinstance(hung.value, Exception)  # Hypothesis lets it through: a hang is never replayed
        assert hung.value.failure.clause_id == "ORD-002"
        assert "store.get_messages('k')  raised OperationTimeout" in driver.log[-1]
    finally:
        never.set()  # let the abandoned worker thread end
        driver.runner.close()


def test_a_call_that_reports_progress_is_limited_per_underlying_call_not_as_a_whole() -> None:
    from pytest_chatstore.engine.runner import OperationTimeout, progress

    runner = Runner(0.2)
    try:

        def slow_loop() -> int:
            for _ in range(6):  # 0.6 s in all, each step well within 0.2 s
                threading.Event().wait(0.1)
                progress()
            return 6

        assert runner.call(slow_loop) == 6
        stalled = threading.Event()

        def stalls_after_two() -> None:
            for _ in range(2):
                progress()
            stalled.wait()

        with pytest.raises(OperationTimeout, match="after 2 underlying calls that each returned in time"):
            runner.call(stalls_after_two)
        stalled.set()
    finally:
        runner.close()


def test_async_calls_go_to_the_async_twins() -> None:
    driver = driver_for(InMemoryChatStore())
    driver.set_messages("k", [A], use_async=True)
    assert driver.get_messages("k", use_async=True) == [A]
    assert driver.log[0].startswith("await store.aset_messages(")


def test_insert_through_an_async_twin_without_idx_falls_back_to_the_sync_method() -> None:
    class NoAsyncIdx(InMemoryChatStore):
        async def async_add_message(self, key: str, message: ChatMessage) -> None:  # type: ignore[override]
            self.add_message(key, message)

    driver = driver_for(NoAsyncIdx())
    assert "async_insert" not in driver.capabilities
    driver.add_message("k", A, use_async=True)
    driver.add_message("k", B, 0, use_async=True)
    assert driver.log[0].startswith("await store.async_add_message(")
    assert driver.log[1].startswith("store.add_message(")
    assert driver.get_messages("k") == [B, A]


def test_a_store_raising_in_an_operation_whose_rule_is_known_broken_blocks_the_check() -> None:
    class RaisesOnTheOnlyMessage(InMemoryChatStore):
        def delete_message(self, key: str, idx: int) -> ChatMessage | None:
            if len(self.get_messages(key)) == 1:
                raise RuntimeError("wrong number of arguments for 'lpush' command")
            return super().delete_message(key, idx)

    driver = driver_for(RaisesOnTheOnlyMessage(), clause="KEY-002")
    driver.add_message("k", A)
    with pytest.raises(ClauseFailure, match=r"the store raised RuntimeError during store\.delete_message") as own:
        driver.delete_message("k", 0)
    assert own.value.clause_id == "KEY-002"
    driver.known_broken = frozenset({"DEL-001"})
    with pytest.raises(ClauseBlocked, match=r"\[KEY-002\] blocked by DEL-001"):
        driver.delete_message("k", 0)
