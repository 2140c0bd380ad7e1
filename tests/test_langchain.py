"""The LangChain adapter: histories as targets, LangChain's messages, broken histories of our own."""

from __future__ import annotations

import inspect
import json

import pytest

pytest.importorskip("langchain_core", reason="the langchain extra is not installed")

from hypothesis import given, settings
from langchain_core.messages import HumanMessage, message_to_dict

from pytest_chatstore.adapters.langchain import LangChainAdapter, history_factory, langchain_messages
from pytest_chatstore.spec.clauses import CLAUSES, SPEC_VERSION
from pytest_chatstore.spec.contract import ChatMessage
from tests.broken_histories import SessionHistory

RUN = ["--chatstore-only", "--chatstore-hypothesis=ci", f"--chatstore-spec={SPEC_VERSION}", "-q", "-rs"]


@settings(max_examples=200, derandomize=True, database=None)
@given(message=langchain_messages)
def test_langchain_messages_round_trip_through_the_adapter(message: ChatMessage) -> None:
    adapter = LangChainAdapter()
    stored = adapter.to_store(message)
    assert adapter.from_store(stored) == message
    assert message_to_dict(adapter.to_store(adapter.from_store(stored))) == message_to_dict(stored)


def test_generic_messages_become_langchain_classes() -> None:
    adapter = LangChainAdapter()
    kinds = {
        role: adapter.to_store(ChatMessage(role, "hi", {"k": [1]})).type for role in ("user", "assistant", "system")
    }
    assert kinds == {"user": "human", "assistant": "ai", "system": "system"}
    assert adapter.to_store(ChatMessage("tool", "hi")).type == "chat"  # a ToolMessage needs a tool_call_id


def test_the_in_memory_history_runs_as_a_target(pytester: pytest.Pytester) -> None:
    target = "--chatstore=langchain_core.chat_history:InMemoryChatMessageHistory"
    result = pytester.runpytest(target, *RUN, "--chatstore-capabilities=-threads")  # as the matrix runs it
    for capability in ("insert", "delete_message", "delete_last", "keys"):
        result.stdout.fnmatch_lines([f"SKIPPED*InMemoryChatMessageHistory lacks capability {capability} *"])
    summary = result.stdout.str().split("chatstore conformance")[1]
    failing = {line.split()[1] for line in summary.splitlines() if line.startswith("  FAILED ")}
    # The kit's verdict on langchain-core's in-memory history, declared not thread-safe as the matrix
    # does: it keeps the caller's message objects (OWN-003) and stores anything it is given (BAD-003),
    # both SHOULDs. See docs/ecosystem.md.
    assert failing == {"OWN-003", "BAD-003"}
    assert result.parseoutcomes()["passed"] >= 20


def test_a_conforming_history_with_session_ids_conforms(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--chatstore=tests.broken_histories:session_history", *RUN)
    result.stdout.fnmatch_lines(["session_history (--chatstore): CONFORMS to gate level full*"])
    assert result.ret == pytest.ExitCode.OK


@pytest.mark.parametrize(
    ("target", "clause_id", "detail"),
    [
        ("folds_session_ids", "KEY-004", "*messages at*"),
        ("drops_fields", "FID-001", "*lc:*"),
        ("splits_batches", "BAT-001", "*batch at positions*"),
        ("any_key_by_position", "BAD-001", "*set_messages(1, [[]m[]]) was accepted*"),
    ],
)
def test_a_broken_history_fails_its_clause(pytester: pytest.Pytester, target: str, clause_id: str, detail: str) -> None:
    result = pytester.runpytest(
        f"--chatstore=tests.broken_histories:{target}", *RUN, f"--chatstore-clauses={clause_id}"
    )
    result.assert_outcomes(failed=1, deselected=len(CLAUSES) - 1)
    result.stdout.fnmatch_lines([f"*[[]{clause_id} {CLAUSES[clause_id].level}[]]*", detail])


def test_history_factory_passes_the_session_the_ttl_and_fixed_arguments() -> None:
    built: list[tuple[str, str, float | None]] = []

    class TableHistory(SessionHistory):
        def __init__(self, session_id: str, connection: str, ttl: float | None = None) -> None:
            built.append((session_id, connection, ttl))
            super().__init__(session_id)

    SessionHistory.TABLE.clear()
    factory = history_factory(TableHistory, connection="sqlite:///chat.db")
    assert list(inspect.signature(factory).parameters) == ["ttl"]  # what the kit may inject, and nothing else
    store = factory(ttl=30)
    assert store.backend_class() is TableHistory
    store.add_message("k", HumanMessage("hi"))
    assert [m.content for m in store.get_messages("k")] == ["hi"]
    assert built == [("k", "sqlite:///chat.db", 30)]


def test_history_factory_takes_a_function_of_the_key() -> None:
    SessionHistory.TABLE.clear()
    store = history_factory(lambda key: SessionHistory(f"app:{key}"))()
    assert store.backend_class() is None  # not known until a history is built
    store.add_message("k", HumanMessage("hi"))
    assert SessionHistory.TABLE.keys() == {"app:k"}
    assert store.backend_class() is SessionHistory
    assert store.get_messages(1) == []  # type: ignore[arg-type]  # passed through: the function's to refuse
    assert store.keys_reach_backend


def test_a_history_that_takes_no_key_skips_BAD_001_saying_why(pytester: pytest.Pytester) -> None:
    target = "--chatstore=langchain_core.chat_history:InMemoryChatMessageHistory"
    result = pytester.runpytest(target, *RUN, "--chatstore-clauses=BAD-001")
    result.assert_outcomes(skipped=1, deselected=len(CLAUSES) - 1)
    result.stdout.fnmatch_lines(["SKIPPED*BAD-001: no key reaches the backend of InMemoryChatMessageHistory*"])


def test_the_documented_history_factory_runs_as_a_target(pytester: pytest.Pytester) -> None:
    """docs/how-to/langchain.md's example shape, and the report names the package of the history."""
    pytester.makepyfile(
        histories="""
        from langchain_core.chat_history import InMemoryChatMessageHistory
        from pytest_chatstore.adapters.langchain import history_factory

        make_histories = history_factory(InMemoryChatMessageHistory)
        """
    )
    result = pytester.runpytest(
        "--chatstore=histories:make_histories", *RUN, "--chatstore-capabilities=-threads",
        "--chatstore-clauses=ORD-001,OWN-003", "--chatstore-report=r.json",
    )  # fmt: skip
    result.assert_outcomes(passed=1, failed=1, deselected=len(CLAUSES) - 2)  # OWN-003, as for the class target
    (target,) = json.loads((pytester.path / "r.json").read_text())["targets"]
    assert target["store_class"] == "langchain_core.chat_history:InMemoryChatMessageHistory"
    assert target["package"]["name"] == "langchain-core"


def test_a_slow_history_without_a_bulk_append_is_slow_not_hung(pytester: pytest.Pytester) -> None:
    """FID-004 sets 1,990 and 5,000 messages: through a history without ``add_messages`` of its own that is
    thousands of appends, each within the limit, the whole far beyond it."""
    pytester.makepyfile(
        slow="""
        import time
        from langchain_core.chat_history import BaseChatMessageHistory

        class SlowHistory(BaseChatMessageHistory):
            def __init__(self, session_id):
                self.messages = []

            def add_message(self, message):
                time.sleep(0.0003)  # a commit per message
                self.messages.append(message)

            def clear(self):
                self.messages = []
        """
    )
    result = pytester.runpytest("--chatstore=slow:SlowHistory", *RUN, "--chatstore-clauses=FID-004",
                                "--chatstore-timeout=0.5")  # fmt: skip
    result.assert_outcomes(passed=1, deselected=len(CLAUSES) - 1)
    result.stdout.no_fnmatch_line("*hung*")
