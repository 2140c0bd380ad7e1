"""The harness (:mod:`pytest_chatstore.harness.store`), directly: fresh stores, the emptiness canary, capabilities."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_chatstore.engine.failures import ClauseFailure, FactoryFailed, classify
from pytest_chatstore.engine.targets import parse_target, target_from_factory
from pytest_chatstore.harness.store import CapabilityMissing, StoreUnderTest
from pytest_chatstore.spec.contract import ChatMessage
from reference_impls.memory import InMemoryChatStore
from tests.broken_stores import SharedState

A = ChatMessage("user", "a")


def sut_for(factory: Any, clause: str = "ORD-001", **kwargs: Any) -> StoreUnderTest:
    target = target_from_factory(factory, name=getattr(factory, "__name__", "f"), spec="test:f", source="test")
    return StoreUnderTest(target, timeout=5, profile="ci", clause=clause, **kwargs)


def test_each_fresh_store_is_new_and_checked_for_emptiness_under_FRE_001() -> None:
    SharedState._shared.clear()
    sut = sut_for(SharedState, clause="ORD-001")
    with sut.fresh() as first:
        first.add_message("conversation", A)
    with pytest.raises(ClauseFailure) as caught, sut.fresh():
        pass  # the canary runs on entry
    assert caught.value.clause_id == "FRE-001"  # not ORD-001: the canary's own clause
    SharedState._shared.clear()


def test_the_canary_leaves_no_trace_in_the_log_or_the_replay() -> None:
    sut = sut_for(InMemoryChatStore)
    with sut.fresh() as store:
        assert store.log == []
        assert store.steps == []
        assert store.clause == "ORD-001"


def test_a_factory_that_raises_is_no_verdict_on_the_clause_at_hand() -> None:
    def factory() -> InMemoryChatStore:
        raise RuntimeError("no database")

    sut = sut_for(factory, clause="SET-001")
    with pytest.raises(FactoryFailed, match=r"the factory test:f raised RuntimeError: no database, .* SET-001's") as e:
        sut.capabilities  # noqa: B018 - detecting capabilities builds a probe store
    assert e.value.short == "the factory test:f raised RuntimeError: no database"  # what a first contact says
    assert classify(e.value) == ("error", str(e.value))  # unverified, not failed


def test_capabilities_are_detected_and_declarations_applied() -> None:
    plain = sut_for(InMemoryChatStore)
    assert {"insert", "delete_message", "delete_last", "keys", "async", "ttl", "clock", "threads"} <= plain.capabilities
    declared = sut_for(InMemoryChatStore, declared={"threads": (False, "pyproject.toml")})
    assert "threads" not in declared.capabilities
    assert "threads" in declared.detected


def test_a_missing_capability_skips_naming_it_and_where_it_was_declared() -> None:
    class NoKeys(InMemoryChatStore):
        get_keys = None  # type: ignore[assignment]

    with pytest.raises(CapabilityMissing, match=r"NoKeys lacks capability keys \(the store has `get_keys\(\)`\)"):
        sut_for(NoKeys).require_clause("KEY-001")
    sut = sut_for(InMemoryChatStore, declared={"ttl": (False, "the fixture")})
    sut.require("threads")  # present: nothing happens
    with pytest.raises(CapabilityMissing, match=r"lacks capability redis "):
        sut.require("redis")


def test_a_declared_absent_capability_the_store_shows_is_probed() -> None:
    sut = sut_for(InMemoryChatStore, declared={"threads": (False, "pyproject.toml")})
    sut.require_clause("CON-001")
    assert sut.probed == {"threads"}
    assert "threads" in sut.capabilities


def test_settings_follow_the_profile_and_settle_known_failures() -> None:
    assert sut_for(InMemoryChatStore).profile == "ci"
    settled = sut_for(InMemoryChatStore, settled=True)

    chosen = settled._hypothesis_settings("property")
    assert chosen.derandomize
    assert chosen.database is None


def test_a_module_attr_target_builds_through_the_harness() -> None:
    sut = StoreUnderTest(parse_target("reference_impls.memory:InMemoryChatStore", "test"), timeout=5, profile="ci")
    with sut.fresh() as store:
        store.add_message("k", A)
        assert store.get_messages("k") == [A]
    sut.close()
