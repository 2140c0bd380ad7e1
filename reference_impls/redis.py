"""``RedisChatStore``: the Redis reference chat store.

One Redis list per conversation, at ``prefix + key`` (default prefix
``chatstore:``), each message a JSON object. Every operation is one atomic
round trip: a single command (``LRANGE``, ``RPOP``), a ``MULTI``/``EXEC``
transaction (append with its expiry, replace, delete-all), or a Lua script
(insert and delete at an index, sent with ``EVAL``: the server caches the
compiled script, and there is no ``NOSCRIPT`` fallback round trip). So concurrent clients never lose or duplicate
a message, and no write ever leaves a key without its expiry.

- ``ttl`` (seconds, may be fractional: applied with ``PEXPIRE`` in
  milliseconds) is refreshed by every append, insert and non-empty replace.
  Deletes keep the current deadline, so they never extend a conversation's
  life nor make it immortal. ``ttl=None`` leaves keys persistent.
- ``get_keys`` lists only this store's conversations: ``SCAN`` over the
  prefix with its glob characters escaped, lists only, never ``KEYS *``.
- A stored item that is not a message raises :class:`CorruptMessageError`
  naming the key and position. A lost connection, or a reply that never
  comes, raises :class:`ChatStoreConnectionError`; the operation was atomic,
  so it happened whole or not at all. The store's own clients never retry a write
  (a retried ``RPUSH`` whose reply was lost would duplicate a message).
- Sync and native async (``redis.asyncio``) methods share the scripts. Pass a
  URL, or ready clients (``client=``, ``async_client=``). Works unchanged on
  Redis Cluster: one key per conversation, and ``SCAN`` runs on every primary.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

import redis
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.cluster import RedisCluster
from redis.retry import Retry

from pytest_chatstore.spec.contract import ChatMessage
from reference_impls._validate import check_index, check_key, check_limit, copy_message, copy_messages

DEFAULT_PREFIX = "chatstore:"

# KEYS[1] = the list; ARGV[1] = index; ARGV[2] = message; ARGV[3] = ttl in ms (0: none).
# list.insert semantics: clamp, then re-push the tail after the new message.
_INSERT = """
local n = redis.call('LLEN', KEYS[1])
local i = tonumber(ARGV[1])
if i < 0 then i = math.max(i + n, 0) end
if i >= n then
  redis.call('RPUSH', KEYS[1], ARGV[2])
elseif i == 0 then
  redis.call('LPUSH', KEYS[1], ARGV[2])
else
  local tail = redis.call('LRANGE', KEYS[1], i, -1)
  redis.call('LTRIM', KEYS[1], 0, i - 1)
  redis.call('RPUSH', KEYS[1], ARGV[2])
  for s = 1, #tail, 1000 do
    redis.call('RPUSH', KEYS[1], unpack(tail, s, math.min(s + 999, #tail)))
  end
end
if tonumber(ARGV[3]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return n + 1
"""

# KEYS[1] = the list; ARGV[1] = index (list.pop semantics); ARGV[2] = a tombstone no message can equal.
# Returns {position, value} or false. Deletes keep the current expiry.
_DELETE_AT = """
local n = redis.call('LLEN', KEYS[1])
local i = tonumber(ARGV[1])
if i < 0 then i = i + n end
if i < 0 or i >= n then return false end
local v = redis.call('LINDEX', KEYS[1], i)
redis.call('LSET', KEYS[1], i, ARGV[2])
redis.call('LREM', KEYS[1], 1, ARGV[2])
return {i, v}
"""

_TOMBSTONE = "\x00pytest-chatstore:deleted\x00"  # messages are JSON objects: never equal to this
_NO_RETRY = Retry(NoBackoff(), 0)
_NO_ASYNC_RETRY = AsyncRetry(NoBackoff(), 0)  # redis-py warns when the async client is given the sync kind
_UNREACHABLE = (redis.ConnectionError, redis.TimeoutError)
"""A dead server, a dropped connection, or a reply that never came: all the same to the caller."""


class CorruptMessageError(ValueError):
    """A stored item is not a message; nothing was dropped (the raw item is in ``.raw``)."""

    def __init__(self, key: str, position: int | str, raw: object, reason: str) -> None:
        super().__init__(
            f"conversation {key!r}, position {position}: stored item is not a message ({reason}): {repr(raw)[:80]}"
        )
        self.key, self.position, self.raw = key, position, raw


class ChatStoreConnectionError(ConnectionError):
    """Redis could not be reached; the operation was atomic, so nothing was half-written."""


def _encode(message: ChatMessage) -> str:
    return json.dumps(
        {"role": message.role, "content": message.content, "additional_kwargs": message.additional_kwargs},
        ensure_ascii=False,
        separators=(",", ":"),
    )


def _decode(raw: object, key: str, position: int | str) -> ChatMessage:
    if not isinstance(raw, (bytes, str)):
        raise CorruptMessageError(key, position, raw, f"a {type(raw).__name__}, not a string")
    try:
        data = json.loads(raw)
        role, content, kwargs = data["role"], data["content"], data["additional_kwargs"]
    except (ValueError, TypeError, KeyError) as exc:
        raise CorruptMessageError(key, position, raw, f"{type(exc).__name__}: {exc}") from None
    if not isinstance(role, str) or not isinstance(content, str) or not isinstance(kwargs, dict):
        raise CorruptMessageError(key, position, raw, "role, content or additional_kwargs has the wrong type")
    return ChatMessage(role, content, kwargs)


def _escape_glob(text: str) -> str:
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)


class RedisChatStore:
    """A chat store on Redis. See the module docstring."""

    def __init__(
        self,
        redis_url: str | None = None,
        *,
        ttl: float | None = None,
        prefix: str = DEFAULT_PREFIX,
        client: redis.Redis | RedisCluster | None = None,
        async_client: aioredis.Redis | AsyncRedisCluster | None = None,
    ) -> None:
        if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or not ttl > 0):
            raise ValueError(f"ttl must be a positive number of seconds or None, not {ttl!r}")
        if client is None and redis_url is None:
            raise ValueError("give redis_url or client")
        self.prefix = prefix
        self.ttl = ttl
        self._ttl_ms = 0 if ttl is None else max(1, round(ttl * 1000))
        self._url = redis_url
        self._sync: redis.Redis | RedisCluster = (
            client if client is not None else redis.Redis.from_url(str(redis_url), retry=_NO_RETRY)
        )
        self._async = async_client

    # -- plumbing -------------------------------------------------------------
    def _key(self, key: str) -> str:
        check_key(key)
        return self.prefix + key

    def _unprefixed(self, rkey: bytes | str) -> str:
        """A conversation key from a Redis key of ours: bytes, or ``str`` from a client built with
        ``decode_responses=True``."""
        if isinstance(rkey, bytes):
            return rkey[len(self.prefix.encode()) :].decode()
        return rkey[len(self.prefix) :]

    def _aclient(self) -> aioredis.Redis | AsyncRedisCluster:
        if self._async is None:
            if self._url is None:
                raise ValueError("async methods need redis_url or async_client")
            self._async = aioredis.Redis.from_url(self._url, retry=_NO_ASYNC_RETRY)
        return self._async

    def _connection_error(self, exc: Exception) -> ChatStoreConnectionError:
        return ChatStoreConnectionError(
            f"Redis is unreachable ({exc}); the operation was not applied, or applied whole"
        )

    def _replace(self, pipe: Any, rkey: str, encoded: Sequence[str]) -> None:
        pipe.delete(rkey)
        if encoded:
            pipe.rpush(rkey, *encoded)
            if self._ttl_ms:
                pipe.pexpire(rkey, self._ttl_ms)

    def _append(self, pipe: Any, rkey: str, *encoded: str) -> None:
        pipe.rpush(rkey, *encoded)
        if self._ttl_ms:
            pipe.pexpire(rkey, self._ttl_ms)

    # -- sync ---------------------------------------------------------------------
    def set_messages(self, key: str, messages: Iterable[ChatMessage]) -> None:
        """Replace the conversation; an empty list deletes it. One transaction."""
        rkey, encoded = self._key(key), [_encode(m) for m in copy_messages(messages)]
        try:
            with self._sync.pipeline(transaction=True) as pipe:
                self._replace(pipe, rkey, encoded)
                pipe.execute()
        except _UNREACHABLE as exc:
            raise self._connection_error(exc) from exc

    def get_messages(self, key: str) -> list[ChatMessage]:
        """The messages at ``key``, oldest first; ``[]`` for an unknown or expired key."""
        rkey = self._key(key)
        try:
            raw = self._sync.lrange(rkey, 0, -1)
        except _UNREACHABLE as exc:
            raise self._connection_error(exc) from exc
        return [_decode(item, key, i) for i, item in enumerate(raw)]

    def get_last_messages(self, key: str, limit: int) -> list[ChatMessage]:
        """The last ``limit`` messages, oldest first (one ``LRANGE -limit -1``); ``[]`` for 0; a negative ``limit``
        raises ``ValueError``."""
        rkey = self._key(key)
        if check_limit(limit) == 0:
            return []
        try:
            raw = self._sync.lrange(rkey, -limit, -1)
        except _UNREACHABLE as exc:
            raise self._connection_error(exc) from exc
        return [_decode(item, key, i - len(raw)) for i, item in enumerate(raw)]

    def add_message(self, key: str, message: ChatMessage, idx: int | None = None) -> None:
        """Append, or insert at ``idx`` as ``list.insert`` does; refreshes the expiry."""
        rkey, encoded = self._key(key), _encode(copy_message(message))
        try:
            if idx is None and not self._ttl_ms:
                self._sync.rpush(rkey, encoded)  # one command: atomic by itself
            elif idx is None:
                with self._sync.pipeline(transaction=True) as pipe:
                    self._append(pipe, rkey, encoded)
                    pipe.execute()
            else:
                check_index(idx)
                self._sync.eval(_INSERT, 1, rkey, idx, encoded, self._ttl_ms)
        except _UNREACHABLE as exc:
            raise self._connection_error(exc) from exc

    def add_messages(self, key: str, messages: Iterable[ChatMessage]) -> None:
        """Append a batch: one RPUSH of all of it (and the expiry) in one transaction."""
        rkey, encoded = self._key(key), [_encode(m) for m in copy_messages(messages)]
        if not encoded:
            return
        try:
            with self._sync.pipeline(transaction=True) as pipe:
                self._append(pipe, rkey, *encoded)
                pipe.execute()
        except _UNREACHABLE as exc:
            raise self._connection_error(exc) from exc

    def delete_messages(self, key: str) -> list[ChatMessage] | None:
        """Remove the conversation; return its messages, or ``None`` if there were none."""
        rkey = self._key(key)
        try:
            with self._sync.pipeline(transaction=True) as pipe:
                pipe.lrange(rkey, 0, -1)
                pipe.delete(rkey)
                raw, _ = pipe.execute()
        except _UNREACHABLE as exc:
            raise self._connection_error(exc) from exc
        return [_decode(item, key, i) for i, item in enumerate(raw)] or None

    def delete_message(self, key: str, idx: int) -> ChatMessage | None:
        """Remove and return the message at ``idx`` (``list.pop`` semantics); ``None`` if there is none."""
        rkey = self._key(key)
        check_index(idx)
        try:
            found = self._sync.eval(_DELETE_AT, 1, rkey, idx, _TOMBSTONE)
        except _UNREACHABLE as exc:
            raise self._connection_error(exc) from exc
        return None if not found else _decode(found[1], key, int(found[0]))

    def delete_last_message(self, key: str) -> ChatMessage | None:
        """Remove and return the last message (``RPOP``); ``None`` for an unknown or empty conversation."""
        rkey = self._key(key)
        try:
            raw = self._sync.rpop(rkey)
        except _UNREACHABLE as exc:
            raise self._connection_error(exc) from exc
        return None if raw is None else _decode(raw, key, "last")

    def get_keys(self) -> list[str]:
        """This store's conversations (prefix-scoped ``SCAN``, lists only), prefix stripped."""
        pattern = _escape_glob(self.prefix) + "*"
        try:
            found = {self._unprefixed(k) for k in self._sync.scan_iter(match=pattern, count=1000, _type="list")}
        except _UNREACHABLE as exc:
            raise self._connection_error(exc) from exc
        return sorted(found)

    # -- async: the same commands and scripts on redis.asyncio ----------------------
    async def aset_messages(self, key: str, messages: Iterable[ChatMessage]) -> None:
        rkey, encoded = self._key(key), [_encode(m) for m in copy_messages(messages)]
        try:
            async with self._aclient().pipeline(transaction=True) as pipe:
                self._replace(pipe, rkey, encoded)
                await pipe.execute()
        except _UNREACHABLE as exc:
            raise self._connection_error(exc) from exc

    async def aget_messages(self, key: str) -> list[ChatMessage]:
        rkey = self._key(key)
        try:
            raw = await self._aclient().lrange(rkey, 0, -1)
        except _UNREACHABLE as exc:
            raise self._connection_error(exc) from exc
        return [_decode(item, key, i) for i, item in enumerate(raw)]

    async def aget_last_messages(self, key: str, limit: int) -> list[ChatMessage]:
        rkey = self._key(key)
        if check_limit(limit) == 0:
            return []
        try:
            raw = await self._aclient().lrange(rkey, -limit, -1)
        except _UNREACHABLE as exc:
            raise self._connection_error(exc) from exc
        return [_decode(item, key, i - len(raw)) for i, item in enumerate(raw)]

    async def async_add_message(self, key: str, message: ChatMessage, idx: int | None = None) -> None:
        rkey, encoded = self._key(key), _encode(copy_message(message))
        try:
            if idx is None and not self._ttl_ms:
                await self._aclient().rpush(rkey, encoded)
            elif idx is None:
                async with self._aclient().pipeline(transaction=True) as pipe:
                    self._append(pipe, rkey, encoded)
                    await pipe.execute()
            else:
                check_index(idx)
                await self._aclient().eval(_INSERT, 1, rkey, idx, encoded, self._ttl_ms)
        except _UNREACHABLE as exc:
            raise self._connection_error(exc) from exc

    async def aadd_messages(self, key: str, messages: Iterable[ChatMessage]) -> None:
        rkey, encoded = self._key(key), [_encode(m) for m in copy_messages(messages)]
        if not encoded:
            return
        try:
            async with self._aclient().pipeline(transaction=True) as pipe:
                self._append(pipe, rkey, *encoded)
                await pipe.execute()
        except _UNREACHABLE as exc:
            raise self._connection_error(exc) from exc

    async def adelete_messages(self, key: str) -> list[ChatMessage] | None:
        rkey = self._key(key)
        try:
            async with self._aclient().pipeline(transaction=True) as pipe:
                pipe.lrange(rkey, 0, -1)
                pipe.delete(rkey)
                raw, _ = await pipe.execute()
        except _UNREACHABLE as exc:
            raise self._connection_error(exc) from exc
        return [_decode(item, key, i) for i, item in enumerate(raw)] or None

    async def adelete_message(self, key: str, idx: int) -> ChatMessage | None:
        rkey = self._key(key)
        check_index(idx)
        try:
            found = await self._aclient().eval(_DELETE_AT, 1, rkey, idx, _TOMBSTONE)
        except _UNREACHABLE as exc:
            raise self._connection_error(exc) from exc
        return None if not found else _decode(found[1], key, int(found[0]))

    async def adelete_last_message(self, key: str) -> ChatMessage | None:
        rkey = self._key(key)
        try:
            raw = await self._aclient().rpop(rkey)
        except _UNREACHABLE as exc:
            raise self._connection_error(exc) from exc
        return None if raw is None else _decode(raw, key, "last")

    async def aget_keys(self) -> list[str]:
        pattern = _escape_glob(self.prefix) + "*"
        try:
            found = {
                self._unprefixed(k) async for k in self._aclient().scan_iter(match=pattern, count=1000, _type="list")
            }
        except _UNREACHABLE as exc:
            raise self._connection_error(exc) from exc
        return sorted(found)

    def close(self) -> None:
        """Close the sync client's connections."""
        self._sync.close()

    async def aclose(self) -> None:
        """Close the async client's connections (on the event loop that used them)."""
        if self._async is not None:
            await self._async.aclose()
            self._async = None
