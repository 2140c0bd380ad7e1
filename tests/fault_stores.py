"""Correct stores under faults that get there their own way (the faults clauses judge what the caller sees).

``IdempotentRetries`` is built on redis-py's default, retrying clients, like
``tests.broken_redis.RetriesEverything``, but makes every write idempotent: each
call sends one Lua script carrying a write ID of its own, which the server
records with the write's result. A retry of a write whose reply was lost finds
the ID and answers the recorded result instead of applying the write again.

``via_proxied`` is a factory for a store whose backend is not reached through
``redis_url``: it takes ``proxied``, as a PostgreSQL store's factory would to
build its DSN, and the kit's fault proxy stands in front of its server.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable
from typing import Any

import redis

from pytest_chatstore.spec.contract import ChatMessage
from reference_impls._validate import check_index
from reference_impls.redis import (
    _DELETE_AT,
    _INSERT,
    _TOMBSTONE,
    ChatStoreConnectionError,
    RedisChatStore,
    _decode,
    _encode,
)
from tests.broken_redis import RetriesEverything

_GUARDED = """
local done = redis.call('GET', KEYS[2])
if done then return cjson.decode(done)[1] end
local function write()
%s
end
local result = write()
redis.call('SET', KEYS[2], cjson.encode({result}), 'PX', 600000)
return result
"""
_APPEND = _GUARDED % "redis.call('RPUSH', KEYS[1], ARGV[1]) return false"
_INSERT_AT = _GUARDED % _INSERT.replace("return n + 1", "return false")
_DELETE = _GUARDED % _DELETE_AT
_DELETE_LAST = _GUARDED % "return redis.call('RPOP', KEYS[1])"
_REPLACE = _GUARDED % (
    "redis.call('DEL', KEYS[1]) if #ARGV > 0 then redis.call('RPUSH', KEYS[1], unpack(ARGV)) end return false"
)
_DELETE_ALL = _GUARDED % "local v = redis.call('LRANGE', KEYS[1], 0, -1) redis.call('DEL', KEYS[1]) return v"


class IdempotentRetries(RetriesEverything):
    """Retrying clients, idempotent writes: passes every faults clause."""

    def _run(self, script: str, key: str, *args: Any) -> Any:
        guard = f"chatstore-write:{uuid.uuid4().hex}"  # the same ID in every retry of this call
        try:
            return self._sync.eval(script, 2, self._key(key), guard, *args)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise self._connection_error(exc) from exc

    async def _arun(self, script: str, key: str, *args: Any) -> Any:
        guard = f"chatstore-write:{uuid.uuid4().hex}"
        try:
            return await self._aclient().eval(script, 2, self._key(key), guard, *args)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise self._connection_error(exc) from exc

    @staticmethod
    def _add_args(message: ChatMessage, idx: int | None) -> tuple[str, tuple[Any, ...]]:
        if idx is None:
            return _APPEND, (_encode(message),)
        check_index(idx)
        return _INSERT_AT, (idx, _encode(message), 0)

    def set_messages(self, key: str, messages: Iterable[ChatMessage]) -> None:
        self._run(_REPLACE, key, *(_encode(m) for m in messages))

    def add_message(self, key: str, message: ChatMessage, idx: int | None = None) -> None:
        script, args = self._add_args(message, idx)
        self._run(script, key, *args)

    def delete_message(self, key: str, idx: int) -> ChatMessage | None:
        check_index(idx)
        found = self._run(_DELETE, key, idx, _TOMBSTONE)
        return None if not found else _decode(found[1], key, int(found[0]))

    def delete_last_message(self, key: str) -> ChatMessage | None:
        raw = self._run(_DELETE_LAST, key)
        return None if raw is None else _decode(raw, key, "last")

    def delete_messages(self, key: str) -> list[ChatMessage] | None:
        raw = self._run(_DELETE_ALL, key)
        return [_decode(item, key, i) for i, item in enumerate(raw)] or None

    async def aset_messages(self, key: str, messages: Iterable[ChatMessage]) -> None:
        await self._arun(_REPLACE, key, *(_encode(m) for m in messages))

    async def async_add_message(self, key: str, message: ChatMessage, idx: int | None = None) -> None:
        script, args = self._add_args(message, idx)
        await self._arun(script, key, *args)

    async def adelete_message(self, key: str, idx: int) -> ChatMessage | None:
        check_index(idx)
        found = await self._arun(_DELETE, key, idx, _TOMBSTONE)
        return None if not found else _decode(found[1], key, int(found[0]))

    async def adelete_last_message(self, key: str) -> ChatMessage | None:
        raw = await self._arun(_DELETE_LAST, key)
        return None if raw is None else _decode(raw, key, "last")

    async def adelete_messages(self, key: str) -> list[ChatMessage] | None:
        raw = await self._arun(_DELETE_ALL, key)
        return [_decode(item, key, i) for i, item in enumerate(raw)] or None


SERVER = "CHATSTORE_TEST_REDIS"
"""The environment variable naming the server ``via_proxied`` uses: ``HOST:PORT/DB``."""


def via_proxied(namespace: str, proxied: Any) -> RedisChatStore:
    """A Redis store whose factory is given no URL, only ``proxied`` (and a ``namespace`` to keep its keys apart)."""
    where, _, db = os.environ[SERVER].partition("/")
    host, port = proxied(where.rpartition(":")[0], int(where.rpartition(":")[2]))
    return RedisChatStore(f"redis://{host}:{port}/{db or 0}", prefix=f"{namespace}:")


__all__ = ["ChatStoreConnectionError", "IdempotentRetries", "RetriesOnTimeout", "via_proxied"]


class RetriesOnTimeout(RedisChatStore):
    """Fails FLT-001 only through a stalled reply: its client never retries a dropped connection, but gives up on a
    reply after 0.5 s and sends the command again once (``retry_on_timeout``, as many configurations set it)."""

    def __init__(self, redis_url: str | None = None, *, ttl: float | None = None) -> None:
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        client = redis.Redis.from_url(
            str(redis_url), socket_timeout=0.5, retry=Retry(NoBackoff(), 1, supported_errors=(redis.TimeoutError,))
        )
        super().__init__(redis_url, ttl=ttl, client=client)
