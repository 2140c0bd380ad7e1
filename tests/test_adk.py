"""The Google ADK adapter (:mod:`pytest_chatstore.adapters.adk`): session services checked with no glue."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
from hypothesis import given

from tests.conftest import checked_with_no_glue, require_module

require_module("google.adk", "the adk extra is not installed")

from pytest_chatstore.adapters.adk import AdkAdapter, ServiceStore, adk_events, service_factory  # noqa: E402
from pytest_chatstore.engine.strategies import messages  # noqa: E402
from pytest_chatstore.spec.contract import ChatMessage  # noqa: E402


@given(message=adk_events | messages)
def test_events_and_messages_round_trip(message: ChatMessage) -> None:
    adapter = AdkAdapter()
    assert adapter.from_store(adapter.to_store(message)) == message


def test_a_plain_message_is_an_event_of_its_author() -> None:
    event = AdkAdapter().to_store(ChatMessage("assistant", "hi", {"k": [1]}))
    assert (event.author, event.content.role, event.content.parts[0].text) == ("assistant", "model", "hi")
    assert event.custom_metadata == {"k": [1]}


def test_a_service_class_is_checked_with_no_glue(pytester: pytest.Pytester, tmp_path: Path) -> None:
    target = checked_with_no_glue(pytester, tmp_path / "report.json", "google.adk.sessions:InMemorySessionService")
    assert target["package"]["name"] == "google-adk"
    assert target["store_class"].endswith(":InMemorySessionService")
    # No delete-last, insert or delete at an index in the protocol: absent, their clauses skipped.
    assert set(target["capabilities"]["detected"]) == {"async", "delete_all", "keys", "tail", "threads"}


@pytest.mark.parametrize(
    ("target", "failing"),
    [
        ("google.adk.sessions:InMemorySessionService", None),
        ("tests.broken_services:TailFromOldest", "TAL-001"),
        ("tests.broken_services:ListsDeletedSessions", "KEY-002"),
    ],
)
def test_a_services_bug_fails_its_own_clause(pytester: pytest.Pytester, target: str, failing: str | None) -> None:
    """Through the adapter: ADK's own in-memory service passes these three clauses, each broken one fails its own."""
    chosen = "TAL_00 or KEY_002"
    result = pytester.runpytest_subprocess(f"--chatstore={target}", "--chatstore-only", "--chatstore-hypothesis=ci",
                                           "-k", chosen)  # fmt: skip
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) + outcomes.get("failed", 0) == 3, result.stdout.str()[-3000:]
    if failing is None:
        assert outcomes.get("failed", 0) == 0, result.stdout.str()[-3000:]
        return
    assert outcomes.get("failed") == 1, result.stdout.str()[-3000:]
    result.stdout.fnmatch_lines([f"*FAILED {failing} *"])


def test_a_factory_with_a_database_shares_it_under_the_namespace() -> None:
    """Services built from the same keywords share a database: the factory takes the kit's namespace (the sharing
    clauses then run), and a bare class shares nothing."""
    from google.adk.sessions import InMemorySessionService

    assert "namespace" in inspect.signature(service_factory(InMemorySessionService, shared=True)).parameters
    assert "namespace" not in inspect.signature(service_factory(InMemorySessionService)).parameters
    store = service_factory(InMemorySessionService, shared=True)("run-1")
    try:
        assert isinstance(store, ServiceStore)
        assert store.app_name == "run-1"
    finally:
        store.close()


def test_replace_checks_every_event_before_deleting_anything() -> None:
    from google.adk.sessions import InMemorySessionService

    store = ServiceStore(InMemorySessionService())
    adapter = AdkAdapter()
    try:
        store.set_messages("k", [adapter.to_store(ChatMessage("user", "kept"))])
        with pytest.raises(TypeError, match="not an ADK event"):
            store.set_messages("k", [adapter.to_store(ChatMessage("user", "x")), "not an event"])
        assert [adapter.from_store(e) for e in store.get_messages("k")] == [ChatMessage("user", "kept")]
    finally:
        store.close()
