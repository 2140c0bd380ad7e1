"""The OpenAI Agents SDK adapter (:mod:`pytest_chatstore.adapters.agents`): sessions checked with no glue."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from hypothesis import given

from tests.conftest import checked_with_no_glue, require_module

require_module("agents", "the agents extra is not installed")

from pytest_chatstore.adapters.agents import AgentsAdapter, SessionStore, agents_items  # noqa: E402
from pytest_chatstore.engine.strategies import messages  # noqa: E402
from pytest_chatstore.spec.contract import ChatMessage  # noqa: E402


@given(message=agents_items | messages)
def test_items_and_messages_round_trip(message: ChatMessage) -> None:
    adapter = AgentsAdapter()
    assert adapter.from_store(adapter.to_store(message)) == message


def test_a_plain_message_is_the_sdks_own_item() -> None:
    item = AgentsAdapter().to_store(ChatMessage("user", "hi"))
    assert item == {"role": "user", "content": "hi"}


def test_a_session_class_is_checked_with_no_glue(pytester: pytest.Pytester, tmp_path: Path) -> None:
    target = checked_with_no_glue(pytester, tmp_path / "report.json", "agents:SQLiteSession")
    assert target["package"]["name"] == "openai-agents"
    assert target["store_class"] == "agents.memory.sqlite_session:SQLiteSession"
    # The protocol has no insert, delete at an index or key listing: declared absent, their clauses skipped.
    assert set(target["capabilities"]["detected"]) == {"async", "batch", "delete_all", "delete_last", "tail", "threads"}


def test_a_sessions_bug_is_the_sessions_verdict(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess(
        "--chatstore=tests.broken_sessions:PopsOldest", "--chatstore-only", "--chatstore-hypothesis=ci", "-k", "DLL_001"
    )
    result.assert_outcomes(failed=1, deselected=len(_clauses()) - 1)
    result.stdout.fnmatch_lines(["*[[]DLL-001 MUST[]]*"])


@pytest.mark.parametrize(
    ("target", "failing"),
    [("list_sessions", None), ("tail_from_oldest", "TAL-001"), ("zero_limit_reads_all", "TAL-002")],
)
def test_each_tail_read_bug_of_a_session_fails_its_own_clause(
    pytester: pytest.Pytester, target: str, failing: str | None
) -> None:
    """The tail read through the adapter: a correct session passes both TAL clauses, each broken one fails its own
    clause and only it."""
    result = pytester.runpytest_subprocess(
        f"--chatstore=tests.broken_sessions:{target}", "--chatstore-only", "--chatstore-hypothesis=ci", "-k", "TAL_00"
    )
    deselected = len(_clauses()) - 2
    if failing is None:
        result.assert_outcomes(passed=2, deselected=deselected)
        return
    result.assert_outcomes(passed=1, failed=1, deselected=deselected)
    result.stdout.fnmatch_lines([f"*FAILED {failing} *"])


def test_a_factory_form_passes_its_keywords_to_every_session(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess(
        "--chatstore=tests.broken_sessions:on_file", "--chatstore-only", "--chatstore-hypothesis=ci", "-k", "ORD or DLL"
    )
    result.assert_outcomes(passed=4, deselected=len(_clauses()) - 4)


def test_a_sync_call_inside_a_running_loop_says_what_to_do() -> None:
    store = SessionStore(lambda key: None)

    async def inside() -> None:
        store.get_messages("k")

    with pytest.raises(RuntimeError, match="await its async twin"):
        asyncio.run(inside())


def _clauses() -> dict[str, object]:
    from pytest_chatstore.spec.clauses import CLAUSES

    return dict(CLAUSES)


class _LoopBoundSession:
    """A session that, like the SDK's RedisSession, binds a lock to the first event loop that uses it."""

    def __init__(self, session_id: str) -> None:
        self.items: list[dict[str, str]] = []
        self.lock = asyncio.Lock()

    async def get_items(self, limit: int | None = None) -> list[dict[str, str]]:
        async with self.lock:
            return list(self.items)

    async def add_items(self, items: list[dict[str, str]]) -> None:
        async with self.lock:
            await asyncio.sleep(0)
            self.items.extend(items)


def test_threads_and_loops_all_reach_the_session_on_one_loop() -> None:
    import threading

    store = SessionStore(_LoopBoundSession)

    def append(n: int) -> None:
        store.add_message("k", {"role": "user", "content": f"{n}"})

    try:
        threads = [threading.Thread(target=append, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        asyncio.run(store.async_add_message("k", {"role": "user", "content": "from another loop"}))
        assert len(store.get_messages("k")) == 9
    finally:
        store.close()
    assert not [t for t in threading.enumerate() if t.name == "chatstore-adapter-loop"]


def test_a_session_made_by_a_function_is_named_after_the_store_is_closed() -> None:
    """``session_factory(lambda sid: ...)`` gives no class up front: the first session made names it, for the report
    written after every store was closed (RedisSession and EncryptedSession rows named no package before)."""
    from agents.memory import SQLiteSession

    from pytest_chatstore.adapters.agents import session_factory

    store = session_factory(lambda sid: SQLiteSession(sid))()
    assert store.backend_class() is None  # nothing made yet
    store.add_message("k", {"role": "user", "content": "hi"})
    store.close()
    assert store.backend_class() is SQLiteSession
