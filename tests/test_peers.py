"""The peers' own chat-store tests, ported: what LlamaIndex's stores are tested for, checked on ours.

LlamaIndex tests its chat stores one backend at a time: the core ``SimpleChatStore`` and the Redis,
SQLite, Postgres, Mongo, Upstash and DynamoDB integrations each have a test file of their own. Their
assertions are behaviour a user of any chat store relies on, so they are ported here (rewritten, not
copied: the same calls and the same expectations) and run against both reference stores: the in-memory
store, and the Redis store built from a URL and from ready clients of both decodings (``bytes``, and
``str`` with ``decode_responses=True``, the case the Redis peer tests with fakeredis), each through
the sync methods and through their async twins.

Where the spec decides otherwise, the test checks the spec *and* that the peer's expectation fails
on our store, so that a disagreement listed here is real: :data:`DISAGREEMENTS` names each with its
clause and the reason, and ``docs/peers.md`` says the same for readers. :data:`PORTED` maps every
peer test function to the test here that ports it, or to why it is not ported (a backend's own
set-up, a method outside the interface).
"""

from __future__ import annotations

import asyncio
import importlib.util
import inspect
import itertools
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_chatstore.spec.contract import ChatMessage
from pytest_chatstore.spec.operations import OPERATIONS
from reference_impls.memory import InMemoryChatStore

PEERS = {
    "core": "llama-index-core tests/storage/chat_store/test_simple_chat_store.py (SimpleChatStore)",
    "redis": "llama-index-storage-chat-store-redis tests/test_chat_store_redis_chat_store.py",
    "redis-delete": "llama-index-storage-chat-store-redis tests/test_delete_message.py (parametrized)",
    "sqlite": "llama-index-storage-chat-store-sqlite tests/test_chat_store_sqlite_chat_store.py",
    "postgres": "llama-index-storage-chat-store-postgres tests/test_chat_store_postgres_chat_store.py",
    "mongo": "llama-index-storage-chat-store-mongo tests/test_chat_store_mongo_chat_store.py",
    "upstash": "llama-index-storage-chat-store-upstash tests/test_chat_store_upstash_chat_store.py",
    "dynamodb": "llama-index-storage-chat-store-dynamodb tests/test_chat_store_dynamodb_chat_store.py",
}
"""The peer test files ported (LlamaIndex's repository, ``llama-index-integrations/storage/chat_store/``)."""

NOT_PORTED = {
    "inherits": "checks that the class inherits LlamaIndex's BaseChatStore; ours implement the interface "
    "structurally, so that the kit and its stores need no LlamaIndex (the adapter covers LlamaIndex's own)",
    "backend": "inspects the backend itself (a Mongo TTL index, an Upstash client's class name or its "
    "refusal of an empty REST URL), not the chat-store interface",
    "persist": "persist() and from_persist_path() are SimpleChatStore's own, not the interface's; the "
    "non-ASCII round trip it also checks is ported (test_non_ascii_content_round_trips)",
}

PORTED: dict[tuple[str, str], str] = {
    **{(peer, "test_class"): NOT_PORTED["inherits"] for peer in ("redis", "sqlite", "postgres", "mongo")},
    ("core", "test_add_messages"): "test_appends_keep_order_per_key_and_insert_at_zero",
    ("core", "test_delete_chat_messages"): "test_delete_messages_empties_one_key_only",
    ("core", "test_delete_chat_message"): "test_delete_last_message_removes_and_returns_the_last",
    ("core", "test_delete_chat_message_idx"): "test_delete_message_at_an_index",
    ("core", "test_delete_chat_message_out_of_bounds"): "test_delete_message_below_minus_len_changes_nothing",
    ("core", "test_delete_last_chat_message_from_empty_history"): "test_delete_last_message_on_an_emptied_key",
    ("core", "test_persist_non_ascii_unescaped"): NOT_PORTED["persist"],
    ("redis", "test_add_message"): "test_add_message_then_get",
    ("redis", "test_async_add_message"): "test_add_message_then_get",
    ("redis", "test_add_message_with_additional_kwargs"): "test_additional_kwargs_round_trip",
    ("redis", "test_async_add_message_with_additional_kwargs"): "test_additional_kwargs_round_trip",
    ("redis", "test_set_messages"): "test_set_messages_then_get",
    ("redis", "test_aset_messages"): "test_set_messages_then_get",
    ("redis", "test_delete_messages"): "test_delete_messages_empties_one_key_only",
    ("redis", "test_adelete_messages"): "test_delete_messages_empties_one_key_only",
    ("redis", "test_delete_message"): "test_delete_message_at_an_index",
    ("redis", "test_adelete_message"): "test_delete_message_at_an_index",
    ("redis", "test_delete_last_message"): "test_delete_last_message_removes_and_returns_the_last",
    ("redis", "test_get_keys"): "test_get_keys_on_a_fresh_store_lists_exactly_what_was_written",
    ("redis-delete", "test_delete_message"): "test_redis_peers_delete_message_table",
    **{(peer, "test_add_message"): "test_add_message_then_get" for peer in ("mongo", "dynamodb")},
    ("sqlite", "test_sqlite_add_message"): "test_add_message_then_get",
    ("sqlite", "test_async_sqlite_add_message"): "test_add_message_then_get",
    ("postgres", "test_postgres_add_message"): "test_add_message_then_get",
    ("postgres", "test_async_postgres_add_message"): "test_add_message_then_get",
    ("upstash", "test_upstash_add_message"): "test_add_message_then_get",
    ("upstash", "test_async_upstash_add_message"): "test_add_message_then_get",
    **{
        (peer, name): "test_set_messages_then_get"
        for peer in ("sqlite", "postgres", "upstash")
        for name in ("test_set_and_retrieve_messages", "test_async_set_and_retrieve_messages")
    },
    **{
        (peer, name): "test_delete_messages_empties_one_key_only"
        for peer in ("postgres", "upstash")
        for name in ("test_delete_messages", "test_async_delete_messages")
    },
    ("sqlite", "test_delete_messages"): "test_delete_messages_empties_one_key_only",
    ("sqlite", "test_adelete_messages"): "test_delete_messages_empties_one_key_only",
    ("sqlite", "test_delete_specific_message"): "test_sqlite_peer_deletes_by_row_number",
    ("sqlite", "test_async_delete_specific_message"): "test_sqlite_peer_deletes_by_row_number",
    **{
        (peer, name): "test_delete_message_at_an_index"
        for peer in ("postgres", "upstash")
        for name in ("test_delete_specific_message", "test_async_delete_specific_message")
    },
    **{
        (peer, name): "test_get_keys_lists_each_written_key"
        for peer in ("sqlite", "postgres", "upstash", "mongo")
        for name in ("test_get_keys", "test_async_get_keys")
        if (peer, name) not in (("upstash", "test_get_keys"), ("mongo", "test_get_keys"))
    },
    **{
        (peer, name): "test_delete_last_message_removes_and_returns_the_last"
        for peer in ("sqlite", "postgres", "upstash", "mongo")
        for name in ("test_delete_last_message", "test_async_delete_last_message")
        if (peer, name) != ("upstash", "test_delete_last_message")
    },
    ("upstash", "test_invalid_initialization"): NOT_PORTED["backend"],
    ("upstash", "test_upstash_basic"): NOT_PORTED["backend"],
    ("upstash", "test_ttl_on_messages"): "test_a_conversation_expires_after_its_ttl",
    ("upstash", "test_async_ttl_on_messages"): "test_a_conversation_expires_after_its_ttl",
    ("upstash", "test_add_message_at_index"): "test_insert_in_the_middle",
    ("upstash", "test_async_add_message_at_index"): "test_insert_in_the_middle",
    ("mongo", "test_create_chat"): "test_get_keys_lists_each_written_key",
    ("mongo", "test_get_messages"): "test_set_messages_then_get",
    ("mongo", "test_async_get_messages"): "test_set_messages_then_get",
    ("mongo", "test_async_add_message"): "test_add_message_then_get",
    ("mongo", "test_async_set_messages"): "test_set_messages_then_get",
    ("mongo", "test_delete_messages"): "test_delete_messages_returns_what_it_removed_and_unlists_the_key",
    ("mongo", "test_async_delete_messages"): "test_delete_messages_returns_what_it_removed_and_unlists_the_key",
    ("mongo", "test_delete_message"): "test_delete_message_at_an_index",
    ("mongo", "test_async_delete_message"): "test_delete_message_at_an_index",
    ("mongo", "test_nonexistent_key"): "test_an_unknown_key_reads_empty_and_deletes_nothing",
    ("mongo", "test_ttl_configuration"): NOT_PORTED["backend"],
    ("mongo", "test_invalid_message_index"): "test_delete_message_past_the_end_changes_nothing",
    ("mongo", "test_multiple_clients"): "test_two_stores_on_one_backend_see_each_others_writes",
    ("dynamodb", "test_set_get_messages"): "test_set_messages_then_get",
    ("dynamodb", "test_delete_messages"): "test_delete_messages_returns_what_it_removed_and_unlists_the_key",
    ("dynamodb", "test_delete_message"): "test_delete_message_at_an_index",
    ("dynamodb", "test_delete_last_message"): "test_delete_last_message_removes_and_returns_the_last",
    ("dynamodb", "test_get_keys"): "test_dynamodb_peer_lists_a_row_with_an_empty_history",
}
"""(peer, peer test function) -> the test here that ports it, or why it is not ported."""

DISAGREEMENTS: dict[str, tuple[str, str]] = {
    "test_redis_peers_delete_message_table": (
        "DEL-001, DEL-004",
        "the Redis peer's delete_message returns the stored JSON text (bytes or str, as the client decodes), "
        "and a negative index removes nothing; the spec returns the message, equal to what was stored (a caller "
        "that undoes a turn needs the turn, not one backend's encoding of it), and a negative index is "
        "list.pop's (SHOULD; DEL-003 only forbids removing another message)",
    ),
    "test_sqlite_peer_deletes_by_row_number": (
        "DEL-001, DEL-002",
        "the SQLite peer's idx is a 1-based row number (delete_message(key, 2) removes the second of two); "
        "the spec's idx is a list index, so 2 is past the end and removes nothing",
    ),
    "test_dynamodb_peer_lists_a_row_with_an_empty_history": (
        "KEY-002",
        "the DynamoDB peer lists a key whose history is empty; the spec does not list a conversation "
        "that holds no messages (SHOULD)",
    ),
    "test_appends_keep_order_per_key_and_insert_at_zero": (
        "KEY-001",
        "the core peer expects get_keys() == ['user1', 'user2'], in writing order; the spec lets get_keys "
        "answer in any order (Redis's SCAN, a SQL table without ORDER BY), so the port compares sorted",
    ),
    "test_delete_messages_returns_what_it_removed_and_unlists_the_key": (
        "DLA-002",
        "peers disagree on delete_messages' answer: Mongo and DynamoDB return the removed messages, "
        "SimpleChatStore and Redis return None; the spec accepts either (ours return the messages)",
    ),
}
"""Tests here where the spec and a peer differ: test -> (clauses, what differs and why)."""

Twin = Callable[..., Awaitable[Any]]


class Calls:
    """A store's interface as coroutines: through its sync methods or through their async twins, so that one
    ported test checks both (the peers test each twin with a copy of the same test)."""

    def __init__(self, store: Any, use_async: bool) -> None:
        self.store = store
        self.use_async = use_async

    def __getattr__(self, name: str) -> Twin:
        if self.use_async:
            twin: Twin = getattr(self.store, ASYNC_NAMES[name])
            return twin
        method = getattr(self.store, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            return method(*args, **kwargs)

        return call


ASYNC_NAMES = {op.sync: op.async_ for op in OPERATIONS.values()}
STORES = ("memory", "redis", "redis-str")
PREFIXES = (f"peers-{n}:" for n in itertools.count())


def user(content: str, **extra: Any) -> ChatMessage:
    return ChatMessage("user", content, dict(extra))


def build(kind: str, request: pytest.FixtureRequest, **options: Any) -> Any:
    """A fresh reference store: in memory, or on the test server's Redis from a URL or from ready clients that
    decode responses to ``str``."""
    if kind == "memory":
        return InMemoryChatStore(**options)
    pytest.importorskip("redis", reason="the redis extra is not installed")
    import redis
    import redis.asyncio as aioredis

    from reference_impls.redis import RedisChatStore

    server = request.getfixturevalue("redis_server")
    if kind == "redis":
        return RedisChatStore(server.url, prefix=next(PREFIXES), **options)
    client = redis.Redis.from_url(server.url, decode_responses=True)
    async_client = aioredis.Redis.from_url(server.url, decode_responses=True)
    return RedisChatStore(prefix=next(PREFIXES), client=client, async_client=async_client, **options)


@pytest.fixture(params=[(kind, mode) for kind in STORES for mode in ("sync", "async")], ids="-".join)
def run(request: pytest.FixtureRequest) -> Iterator[Callable[[Callable[[Calls], Awaitable[None]]], None]]:
    """Runs a ported test body against one reference store through one set of twins, in one event loop."""
    kind, mode = request.param
    store = build(kind, request)

    def go(body: Callable[[Calls], Awaitable[None]]) -> None:
        async def whole() -> None:
            await body(Calls(store, mode == "async"))
            if hasattr(store, "aclose"):
                await store.aclose()  # the async client belongs to this loop

        asyncio.run(whole())

    yield go
    if hasattr(store, "close"):
        store.close()


# -- behaviour the peers and the spec agree on ------------------------------------------------------------


def test_add_message_then_get(run: Any) -> None:
    async def body(s: Calls) -> None:
        await s.add_message("test_add_key", user("add_message_test"))
        got = await s.get_messages("test_add_key")
        assert [(m.role, m.content) for m in got] == [("user", "add_message_test")]
        await s.add_message("test_add_key", ChatMessage("assistant", "Added"))
        assert [m.content for m in await s.get_messages("test_add_key")] == ["add_message_test", "Added"]

    run(body)


def test_additional_kwargs_round_trip(run: Any) -> None:
    async def body(s: Calls) -> None:
        await s.add_message("k", user("test_user_message", metadata={"foo": "bar", "count": 5}))
        (got,) = await s.get_messages("k")
        assert got.additional_kwargs["metadata"] == {"foo": "bar", "count": 5}
        assert type(got.additional_kwargs["metadata"]["count"]) is int

    run(body)


def test_non_ascii_content_round_trips(run: Any) -> None:
    async def body(s: Calls) -> None:
        await s.add_message("user1", user("ハロー héllo"))
        assert await s.get_messages("user1") == [user("ハロー héllo")]

    run(body)


def test_set_messages_then_get(run: Any) -> None:
    async def body(s: Calls) -> None:
        messages = [user("Hello, MongoDB!"), ChatMessage("system", "test_system_message"), user("Third")]
        await s.set_messages("test_set_key", messages)
        got = await s.get_messages("test_set_key")
        assert [(m.role, m.content) for m in got] == [(m.role, m.content) for m in messages]

    run(body)


def test_appends_keep_order_per_key_and_insert_at_zero(run: Any) -> None:
    async def body(s: Calls) -> None:
        for key in ("user1", "user2"):
            await s.add_message(key, user("hello"))
            await s.add_message(key, user("world"))
        for key in ("user1", "user2"):
            assert await s.get_messages(key) == [user("hello"), user("world")]
        assert sorted(await s.get_keys()) == ["user1", "user2"]  # KEY-001: in any order
        await s.add_message("user1", user("hello"), idx=0)
        assert await s.get_messages("user1") == [user("hello"), user("hello"), user("world")]

    run(body)


def test_insert_in_the_middle(run: Any) -> None:
    async def body(s: Calls) -> None:
        await s.delete_messages("k")  # the peer clears the key first: on a missing key, a no-op
        await s.set_messages("k", [user("First message"), user("Third message")])
        await s.add_message("k", user("Second message"), idx=1)
        assert [m.content for m in await s.get_messages("k")] == ["First message", "Second message", "Third message"]

    run(body)


def test_delete_messages_empties_one_key_only(run: Any) -> None:
    async def body(s: Calls) -> None:
        await s.set_messages("user1", [user("hello"), user("world")])
        await s.set_messages("user2", [user("hello"), user("world")])
        await s.delete_messages("user1")
        assert await s.get_messages("user1") == []
        assert await s.get_messages("user2") == [user("hello"), user("world")]

    run(body)


def test_delete_messages_returns_what_it_removed_and_unlists_the_key(run: Any) -> None:
    async def body(s: Calls) -> None:
        messages = [user("Message to be deleted"), ChatMessage("assistant", "This will also be deleted")]
        await s.set_messages("k", messages)
        assert await s.delete_messages("k") == messages  # DLA-002 allows None as well; ours answer this
        assert await s.get_messages("k") == []
        assert "k" not in await s.get_keys()

    run(body)


def test_delete_message_at_an_index(run: Any) -> None:
    async def body(s: Calls) -> None:
        first, middle, last = user("First message"), ChatMessage("assistant", "Middle"), user("Last message")
        await s.set_messages("k", [first, middle, last])
        assert await s.delete_message("k", 1) == middle
        assert await s.get_messages("k") == [first, last]
        assert await s.delete_message("k", 0) == first
        assert await s.get_messages("k") == [last]

    run(body)


def test_delete_message_below_minus_len_changes_nothing(run: Any) -> None:
    async def body(s: Calls) -> None:
        await s.add_message("user1", user("hello"))
        assert await s.delete_message("user1", -2) is None
        assert await s.get_messages("user1") == [user("hello")]

    run(body)


def test_delete_message_past_the_end_changes_nothing(run: Any) -> None:
    async def body(s: Calls) -> None:
        await s.set_messages("k", [user("Only message")])
        assert await s.delete_message("k", 5) is None
        assert await s.get_messages("k") == [user("Only message")]

    run(body)


def test_delete_last_message_removes_and_returns_the_last(run: Any) -> None:
    async def body(s: Calls) -> None:
        await s.set_messages("k", [user("First message"), ChatMessage("assistant", "Last message")])
        assert await s.delete_last_message("k") == ChatMessage("assistant", "Last message")
        assert await s.get_messages("k") == [user("First message")]

    run(body)


def test_delete_last_message_on_an_emptied_key(run: Any) -> None:
    async def body(s: Calls) -> None:
        await s.add_message("user1", user("hello"))
        assert await s.delete_last_message("user1") == user("hello")
        assert await s.delete_last_message("user1") is None

    run(body)


def test_an_unknown_key_reads_empty_and_deletes_nothing(run: Any) -> None:
    async def body(s: Calls) -> None:
        assert await s.get_messages("nonexistent_key") == []
        assert await s.delete_message("nonexistent_key", 0) is None
        assert await s.delete_last_message("nonexistent_key") is None

    run(body)


def test_get_keys_lists_each_written_key(run: Any) -> None:
    async def body(s: Calls) -> None:
        await s.set_messages("key1", [user("Test1")])
        await s.set_messages("key2", [user("Test2")])
        keys = await s.get_keys()
        assert "key1" in keys
        assert "key2" in keys

    run(body)


def test_get_keys_on_a_fresh_store_lists_exactly_what_was_written(run: Any) -> None:
    async def body(s: Calls) -> None:
        await s.add_message("redis_chat_store_tests", user("test_user_message"))
        assert await s.get_keys() == ["redis_chat_store_tests"]

    run(body)


@pytest.mark.parametrize("kind", ["redis", "redis-str"])
def test_two_stores_on_one_backend_see_each_others_writes(kind: str, request: pytest.FixtureRequest) -> None:
    """Mongo's test_multiple_clients (SHR-001). Two in-memory stores are two stores: not ported to them."""
    one = build(kind, request)
    two = type(one)(request.getfixturevalue("redis_server").url, prefix=one.prefix)
    one.set_messages("k", [user("Message from client 1")])
    two.add_message("k", ChatMessage("assistant", "Message from client 2"))
    expected = [user("Message from client 1"), ChatMessage("assistant", "Message from client 2")]
    assert one.get_messages("k") == two.get_messages("k") == expected


def test_a_conversation_expires_after_its_ttl(request: pytest.FixtureRequest) -> None:
    """Upstash's TTL tests, sync and async: written, then read back after the TTL. On a clock we control for the
    in-memory store; in real time, one short wait for every Redis store and twin at once."""
    now = [0.0]
    memory = InMemoryChatStore(ttl=3, clock=lambda: now[0])
    memory.add_message("ttl_test_key", user("This message will expire"))
    now[0] = 2.9
    assert memory.get_messages("ttl_test_key") == [user("This message will expire")]
    now[0] = 3.1
    assert memory.get_messages("ttl_test_key") == []
    if importlib.util.find_spec("redis") is None:
        return
    stores = [build(kind, request, ttl=0.3) for kind in ("redis", "redis-str")]

    async def write(store: Any) -> None:
        await store.async_add_message("async_ttl_test_key", user("This async message will expire"))
        await store.aclose()

    for store in stores:
        store.add_message("ttl_test_key", user("This message will expire"))
        asyncio.run(write(store))
    time.sleep(0.45)  # a real-time TTL check: the only wait in this module
    for store in stores:
        assert store.get_messages("ttl_test_key") == []
        assert store.get_messages("async_ttl_test_key") == []
        assert store.get_keys() == []


# -- where the spec and a peer differ (DISAGREEMENTS): the spec's answer, and the peer's shown to fail -------------

REDIS_PEER_CASES = [
    pytest.param(["A", "B", "C"], 0, ["B", "C"], id="first"),
    pytest.param(["A", "B", "C"], 1, ["A", "C"], id="middle"),
    pytest.param(["A", "B", "C"], 2, ["A", "B"], id="last"),
    pytest.param(["A"], 0, [], id="only-message"),
    pytest.param(["A", "B", "C"], -1, ["A", "B", "C"], id="negative-index"),
    pytest.param(["A", "B", "C"], 3, ["A", "B", "C"], id="out-of-range"),
    pytest.param([], 0, [], id="missing-key"),
    pytest.param(["A", "B", "A"], 2, ["A", "B"], id="duplicate-content"),
]
"""The Redis peer's table: contents, index, what the peer expects to remain."""


@pytest.mark.parametrize(("contents", "idx", "peer_remaining"), REDIS_PEER_CASES)
def test_redis_peers_delete_message_table(run: Any, contents: list[str], idx: int, peer_remaining: list[str]) -> None:
    async def body(s: Calls) -> None:
        messages = [user(c, metadata={"source": "test"}) for c in contents]
        if messages:
            await s.set_messages("chat-history", messages)
        removed = await s.delete_message("chat-history", idx)
        remaining = await s.get_messages("chat-history")
        spec = list(messages)
        expected = spec.pop(idx) if -len(spec) <= idx < len(spec) else None  # DEL-001, DEL-002, DEL-004
        assert removed == expected
        assert remaining == spec
        assert ("chat-history" in await s.get_keys()) == bool(spec)  # the peer's EXISTS check, as KEY-001/002
        if expected is not None:  # the peer expects the stored JSON text, not the message
            assert not isinstance(removed, (str, bytes))
        if idx < 0 and contents:  # the peer expects a negative index to remove nothing
            assert [m.content for m in remaining] != peer_remaining
        else:
            assert [m.content for m in remaining] == peer_remaining

    run(body)


def test_sqlite_peer_deletes_by_row_number(run: Any) -> None:
    async def body(s: Calls) -> None:
        await s.set_messages("k", [user("Keep me"), user("Delete me")])
        assert await s.delete_message("k", 2) is None  # DEL-002: past the end; the peer removes "Delete me"
        assert [m.content for m in await s.get_messages("k")] == ["Keep me", "Delete me"]
        assert await s.delete_message("k", 1) == user("Delete me")  # what the spec's index for it is
        assert [m.content for m in await s.get_messages("k")] == ["Keep me"]

    run(body)


def test_dynamodb_peer_lists_a_row_with_an_empty_history(run: Any) -> None:
    """The peer writes rows ``{"SessionId": "1", "History": []}`` straight into its table and expects both listed;
    through the interface, an empty history is ``set_messages(key, [])``, and the spec does not list it."""

    async def body(s: Calls) -> None:
        await s.set_messages("1", [])
        await s.set_messages("2", [])
        assert await s.get_keys() == []  # KEY-002; the peer expects ["1", "2"]
        await s.set_messages("2", [user("now a conversation")])
        assert await s.get_keys() == ["2"]

    run(body)


# -- the port's own bookkeeping ------------------------------------------------------------------------------------


def test_every_peer_test_is_ported_or_says_why_not() -> None:
    here = {name for name, obj in globals().items() if name.startswith("test_") and inspect.isfunction(obj)}
    reasons = set(NOT_PORTED.values())
    for (peer, name), target in PORTED.items():
        assert peer in PEERS, (peer, name)
        assert target in here or target in reasons, f"{peer} {name}: {target} is neither a test here nor a reason"
    assert set(DISAGREEMENTS) <= here
    ported_to = set(PORTED.values())
    assert set(DISAGREEMENTS) <= ported_to
    assert not {"test_non_ascii_content_round_trips"} - here


def test_the_docs_name_every_disagreement() -> None:
    page = (Path(__file__).parents[1] / "docs" / "peers.md").read_text(encoding="utf-8")
    for name, (clauses, _why) in DISAGREEMENTS.items():
        assert f"`{name}`" in page, name
        for clause in clauses.split(", "):
            assert clause in page, (name, clause)
