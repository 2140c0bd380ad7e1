"""Broken Redis stores, for the clauses only a kit-managed server can check."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable
from urllib.parse import urlsplit

import redis

from pytest_chatstore.spec.contract import ChatMessage
from reference_impls._validate import check_index, check_key
from reference_impls.redis import ChatStoreConnectionError, RedisChatStore, _encode


class UnscopedKeys(RedisChatStore):
    """KEY-005: get_keys scans the whole database (``SCAN *``), listing keys it never wrote."""

    def get_keys(self) -> list[str]:
        return sorted(k.decode().removeprefix(self.prefix) for k in self._sync.scan_iter(match="*"))


class CachesReads(RedisChatStore):
    """SHR-001: each instance caches what it read, and forgets only on its own writes (a stale cache for
    every other worker's writes). Its cache is consistent for threads sharing the instance."""

    def __init__(self, redis_url: str | None = None, *, ttl: float | None = None) -> None:
        super().__init__(redis_url, ttl=ttl)
        self._cache: dict[str, list[ChatMessage]] = {}
        self._lock = threading.RLock()

    def get_messages(self, key: str) -> list[ChatMessage]:
        with self._lock:
            if key not in self._cache:
                self._cache[key] = super().get_messages(key)
            return [m.copy() for m in self._cache[key]]

    def _written(self, key: str) -> None:
        self._cache.pop(key, None)

    def set_messages(self, key: str, messages: Iterable[ChatMessage]) -> None:
        with self._lock:
            super().set_messages(key, messages)
            self._written(key)

    def add_message(self, key: str, message: ChatMessage, idx: int | None = None) -> None:
        with self._lock:
            super().add_message(key, message, idx)
            self._written(key)

    def delete_messages(self, key: str) -> list[ChatMessage] | None:
        with self._lock:
            removed = super().delete_messages(key)
            self._written(key)
            return removed

    def delete_message(self, key: str, idx: int) -> ChatMessage | None:
        with self._lock:
            removed = super().delete_message(key, idx)
            self._written(key)
            return removed

    def delete_last_message(self, key: str) -> ChatMessage | None:
        with self._lock:
            removed = super().delete_last_message(key)
            self._written(key)
            return removed

    # The async twins write through the same instance: they forget what it cached too.
    async def aset_messages(self, key: str, messages: Iterable[ChatMessage]) -> None:
        await super().aset_messages(key, messages)
        self._written(key)

    async def async_add_message(self, key: str, message: ChatMessage, idx: int | None = None) -> None:
        await super().async_add_message(key, message, idx)
        self._written(key)

    async def adelete_messages(self, key: str) -> list[ChatMessage] | None:
        removed = await super().adelete_messages(key)
        self._written(key)
        return removed

    async def adelete_message(self, key: str, idx: int) -> ChatMessage | None:
        removed = await super().adelete_message(key, idx)
        self._written(key)
        return removed

    async def adelete_last_message(self, key: str) -> ChatMessage | None:
        removed = await super().adelete_last_message(key)
        self._written(key)
        return removed


class ResetsOnOpen(RedisChatStore):
    """SHR-003: a new instance deletes the conversations under its prefix ("start clean"), so a worker
    restart loses every conversation."""

    def __init__(self, redis_url: str | None = None, *, ttl: float | None = None) -> None:
        super().__init__(redis_url, ttl=ttl)
        for key in self._sync.scan_iter(match=self.prefix + "*"):
            self._sync.delete(key)


class LockedReadModifyWrite(RedisChatStore):
    """SHR-002, PRC-001: insert and delete at an index read the list, change it in Python and write it
    back; every write takes the instance's ``threading.Lock``. Right for threads sharing one instance
    (CON-004 passes), lost updates as soon as two instances or two processes write one conversation."""

    def __init__(self, redis_url: str | None = None, *, ttl: float | None = None) -> None:
        super().__init__(redis_url, ttl=ttl)
        self._lock = threading.RLock()

    def set_messages(self, key: str, messages: Iterable[ChatMessage]) -> None:
        with self._lock:
            super().set_messages(key, messages)

    def add_message(self, key: str, message: ChatMessage, idx: int | None = None) -> None:
        with self._lock:
            if idx is None:
                super().add_message(key, message)
                return
            check_key(key)
            check_index(idx)
            messages = self.get_messages(key)
            messages.insert(idx, message)
            self.set_messages(key, messages)

    def delete_message(self, key: str, idx: int) -> ChatMessage | None:
        with self._lock:
            check_key(key)
            check_index(idx)
            messages = self.get_messages(key)
            if not -len(messages) <= idx < len(messages):
                return None
            removed = messages.pop(idx)
            self.set_messages(key, messages)
            return removed

    def delete_last_message(self, key: str) -> ChatMessage | None:
        with self._lock:
            return super().delete_last_message(key)

    def delete_messages(self, key: str) -> list[ChatMessage] | None:
        with self._lock:
            return super().delete_messages(key)


class FirstPageKeys(RedisChatStore):
    """SCL-001: get_keys makes one SCAN call and never follows the cursor (fine with five conversations)."""

    def get_keys(self) -> list[str]:
        _, page = self._sync.scan(cursor=0, match=self.prefix + "*", count=100, _type="list")
        return sorted({(k.decode() if isinstance(k, bytes) else k).removeprefix(self.prefix) for k in page})


# -- faults: each a correct store but for what it does when the network fails -----------------


class RetriesEverything(RedisChatStore):
    """FLT-001: built on redis-py's default clients (``Redis(host=..., port=...)``), which retry any command on a
    connection error, 10 times: a write whose reply was lost is sent again, and applied twice."""

    def __init__(self, redis_url: str | None = None, *, ttl: float | None = None) -> None:
        import redis.asyncio as aioredis

        parts = urlsplit(str(redis_url))
        host, port, db = parts.hostname or "localhost", parts.port or 6379, int(parts.path.strip("/") or 0)
        super().__init__(
            redis_url,
            ttl=ttl,
            client=redis.Redis(host=host, port=port, db=db),
            async_client=aioredis.Redis(host=host, port=port, db=db),
        )


class RetriesEachPush(RetriesEverything):
    """FLT-001, in part: ``set_messages`` is a DEL, then one RPUSH per message, each its own request on a client that
    retries. A lost reply to one push sends it again: that message of the new conversation is there twice, and
    nothing else is wrong, so only at-most-once fails (FLT-002 and FLT-003 are not charged with a duplicate)."""

    def set_messages(self, key: str, messages: Iterable[ChatMessage]) -> None:
        rkey, encoded = self._key(key), [_encode(m) for m in messages]
        self._sync.delete(rkey)
        for item in encoded:
            self._sync.rpush(rkey, item)


class SwallowsErrors(RedisChatStore):
    """FLT-002: a write that cannot reach the server is logged and forgotten: the caller sees a normal return."""

    def set_messages(self, key: str, messages: Iterable[ChatMessage]) -> None:
        with contextlib.suppress(ChatStoreConnectionError):
            super().set_messages(key, messages)

    def add_message(self, key: str, message: ChatMessage, idx: int | None = None) -> None:
        with contextlib.suppress(ChatStoreConnectionError):
            super().add_message(key, message, idx)


class InsertWithoutTransaction(RedisChatStore):
    """FLT-003: inserts by reading the list, deleting it and writing it back, three round trips with no
    transaction: a connection lost between the delete and the write leaves the conversation empty."""

    def add_message(self, key: str, message: ChatMessage, idx: int | None = None) -> None:
        if idx is None:
            super().add_message(key, message)
            return
        check_index(idx)
        rkey = self._key(key)
        try:
            items = self._sync.lrange(rkey, 0, -1)
            items.insert(idx, _encode(message))
            self._sync.delete(rkey)
            self._sync.rpush(rkey, *items)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise self._connection_error(exc) from exc


class EmptyOnReadError(RedisChatStore):
    """FLT-004: a read that cannot reach the server answers ``[]``, as if the conversation were empty."""

    def get_messages(self, key: str) -> list[ChatMessage]:
        try:
            return super().get_messages(key)
        except ChatStoreConnectionError:
            return []


class StaysBroken(RedisChatStore):
    """FLT-005: remembers the first connection error and refuses every later call (a client pool left
    broken): it works again only when rebuilt."""

    broken: Exception | None = None

    def _connection_error(self, exc: Exception) -> ChatStoreConnectionError:
        self.broken = exc
        return super()._connection_error(exc)

    def _key(self, key: str) -> str:
        if self.broken is not None:
            raise ChatStoreConnectionError(f"the connection was lost earlier ({self.broken}); rebuild the store")
        return super()._key(key)
