"""Deliberately broken stores: for every clause, one that fails it.

Each is the in-memory reference store with one realistic bug, most of them
bugs seen in published chat stores. ``BROKEN`` maps each clause ID to the
store that breaks it; ``tests/test_broken_stores.py`` checks that each fails
its clause and that every clause has one.
"""

from __future__ import annotations

import asyncio
import fnmatch
import json
import math
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from pytest_chatstore.spec.contract import ChatMessage
from reference_impls._validate import check_key, copy_message
from reference_impls.memory import InMemoryChatStore, _Conversation
from tests.broken_redis import (
    CachesReads,
    EmptyOnReadError,
    FirstPageKeys,
    InsertWithoutTransaction,
    LockedReadModifyWrite,
    ResetsOnOpen,
    RetriesEverything,
    StaysBroken,
    SwallowsErrors,
    UnscopedKeys,
)


def _yield_thread() -> None:
    """Give other threads the interpreter, widening the window a missing lock leaves open."""
    time.sleep(0)


class SharedState(InMemoryChatStore):
    """FRE-001: every instance shares one class-level dict (a module-level singleton in disguise)."""

    _shared: ClassVar[dict[str, Any]] = {}

    def __init__(self) -> None:
        super().__init__()
        self._data = self._shared


class ReversedAfterDelete(InMemoryChatStore):
    """ORD-001: after a delete_last the list is rewritten in reverse (seen in the wild)."""

    def delete_last_message(self, key: str) -> ChatMessage | None:
        removed = super().delete_last_message(key)
        rest = self.get_messages(key)
        if len(rest) > 1:
            InMemoryChatStore.set_messages(self, key, rest[::-1])
        return removed


class NoneForUnknown(InMemoryChatStore):
    """ORD-002: an unknown key reads as None."""

    def get_messages(self, key: str) -> list[ChatMessage]:
        return super().get_messages(key) or None  # type: ignore[return-value]


class SetAppends(InMemoryChatStore):
    """SET-001: set_messages appends to the old conversation instead of replacing it."""

    def set_messages(self, key: str, messages: Iterable[ChatMessage]) -> None:
        super().set_messages(key, self.get_messages(key) + list(messages))


class SetEmptyIsNoop(InMemoryChatStore):
    """SET-002: set_messages(key, []) skips the write."""

    def set_messages(self, key: str, messages: Iterable[ChatMessage]) -> None:
        messages = list(messages)
        if messages:
            super().set_messages(key, messages)


class Prepends(InMemoryChatStore):
    """INS-001: appends go to the front (LPUSH instead of RPUSH)."""

    def add_message(self, key: str, message: ChatMessage, idx: int | None = None) -> None:
        super().add_message(key, message, 0 if idx is None else idx)


class NegativeInsertAfter(InMemoryChatStore):
    """INS-002: a negative idx counts from the end as len + idx + 1 (inserts after, not before)."""

    def add_message(self, key: str, message: ChatMessage, idx: int | None = None) -> None:
        if idx is not None and idx < 0:
            idx = max(0, len(self.get_messages(key)) + idx + 1)
        super().add_message(key, message, idx)


class DeleteReturnsJson(InMemoryChatStore):
    """DEL-001: delete_message returns the stored JSON text instead of the message."""

    def delete_message(self, key: str, idx: int) -> ChatMessage | None:
        removed = super().delete_message(key, idx)
        if removed is None or idx < 0:
            return removed
        return json.dumps(removed.__dict__)  # type: ignore[return-value]


class DeleteOutOfRangeRaises(InMemoryChatStore):
    """DEL-002: an index past the end raises IndexError."""

    def delete_message(self, key: str, idx: int) -> ChatMessage | None:
        if idx >= len(self.get_messages(key)):
            raise IndexError("list index out of range")
        return super().delete_message(key, idx)


class NegativeDeleteHitsHead(InMemoryChatStore):
    """DEL-003: a negative index is clamped to 0, removing the first message."""

    def delete_message(self, key: str, idx: int) -> ChatMessage | None:
        return super().delete_message(key, max(idx, 0))


class NegativeDeleteRefused(InMemoryChatStore):
    """DEL-004: negative indices answer None (safe, so DEL-003 passes, but not list.pop)."""

    def delete_message(self, key: str, idx: int) -> ChatMessage | None:
        return None if idx < 0 else super().delete_message(key, idx)

    def delete_last_message(self, key: str) -> ChatMessage | None:
        return super().delete_message(key, -1)


class DeleteLastTakesFirst(InMemoryChatStore):
    """DLL-001: delete_last_message pops the head (LPOP instead of RPOP)."""

    def delete_last_message(self, key: str) -> ChatMessage | None:
        return self.delete_message(key, 0)


class DeleteLastOfEmptyRaises(InMemoryChatStore):
    """DLL-002: delete_last_message on an empty conversation raises IndexError."""

    def delete_last_message(self, key: str) -> ChatMessage | None:
        if not self.get_messages(key):
            raise IndexError("pop from empty list")
        return super().delete_last_message(key)


class DeleteAllKeepsLast(InMemoryChatStore):
    """DLA-001: delete_messages leaves the last message behind (an off-by-one LTRIM)."""

    def delete_messages(self, key: str) -> list[ChatMessage] | None:
        messages = self.get_messages(key)
        super().set_messages(key, messages[-1:])
        return messages[:-1] or None


class DeleteAllReturnsCount(InMemoryChatStore):
    """DLA-002: delete_messages returns how many were removed."""

    def delete_messages(self, key: str) -> list[ChatMessage] | None:
        removed = super().delete_messages(key)
        return len(removed or [])  # type: ignore[return-value]


class ListsForeignKey(InMemoryChatStore):
    """KEY-001: get_keys lists an internal bookkeeping key the caller never wrote."""

    def get_keys(self) -> list[str]:
        keys = super().get_keys()
        return [*keys, "__index__"] if keys else keys


class ListsEmptiedKeys(InMemoryChatStore):
    """KEY-002: a conversation emptied by deletes stays listed."""

    def __init__(self) -> None:
        super().__init__()
        self._seen: set[str] = set()

    def add_message(self, key: str, message: ChatMessage, idx: int | None = None) -> None:
        self._seen.add(key)
        super().add_message(key, message, idx)

    def set_messages(self, key: str, messages: Iterable[ChatMessage]) -> None:
        self._seen.add(key)
        super().set_messages(key, messages)

    def get_keys(self) -> list[str]:
        return sorted(self._seen)


class TruncatesListedKeys(InMemoryChatStore):
    """KEY-003: get_keys lists keys cut to 255 characters (a VARCHAR(255) index)."""

    def get_keys(self) -> list[str]:
        return [k[:255] for k in super().get_keys()]


class DeletesByPattern(InMemoryChatStore):
    """KEY-004, only beside look-alikes: delete_messages(key) deletes every key matching the glob ``key*`` (a Redis
    store that cleans up with ``SCAN MATCH {key}*``), so deleting ``"a"`` also deletes ``"a:meta"`` and ``"a "``.
    Appending to look-alikes, and every sequence over ``"a"`` and ``"b"``, show nothing."""

    def delete_messages(self, key: str) -> list[ChatMessage] | None:
        for other in [k for k in self.get_keys() if k != key and fnmatch.fnmatchcase(k, key + "*")]:
            super().delete_messages(other)
        return super().delete_messages(key)


class CaseInsensitiveKeys(InMemoryChatStore):
    """KEY-004: keys are folded to lower case (a case-insensitive collation)."""

    def set_messages(self, key: str, messages: Iterable[ChatMessage]) -> None:
        super().set_messages(key.lower(), messages)

    def get_messages(self, key: str) -> list[ChatMessage]:
        return super().get_messages(key.lower())

    def add_message(self, key: str, message: ChatMessage, idx: int | None = None) -> None:
        super().add_message(key.lower(), message, idx)


class ForgetsRole(InMemoryChatStore):
    """FID-001: every message comes back as role 'user'."""

    def get_messages(self, key: str) -> list[ChatMessage]:
        return [ChatMessage("user", m.content, m.additional_kwargs) for m in super().get_messages(key)]


class StripsContent(InMemoryChatStore):
    """FID-002: content is stripped of surrounding whitespace."""

    def get_messages(self, key: str) -> list[ChatMessage]:
        return [ChatMessage(m.role, m.content.strip(), m.additional_kwargs) for m in super().get_messages(key)]


class FlattensNestedKwargs(InMemoryChatStore):
    """FID-003: nested values in additional_kwargs come back as their str() (no JSON)."""

    def get_messages(self, key: str) -> list[ChatMessage]:
        return [
            ChatMessage(
                m.role,
                m.content,
                {k: v if not isinstance(v, (dict, list)) else str(v) for k, v in m.additional_kwargs.items()},
            )
            for m in super().get_messages(key)
        ]


class CapsAt1000(InMemoryChatStore):
    """FID-004: conversations are silently capped at the last 1000 messages."""

    def get_messages(self, key: str) -> list[ChatMessage]:
        return super().get_messages(key)[-1000:]


class ReturnsStoredList(InMemoryChatStore):
    """OWN-001: get_messages returns the stored list itself."""

    def get_messages(self, key: str) -> list[ChatMessage]:
        with self._lock:
            conv = self._live(key)
            return conv.messages if conv else []


class KeepsGivenList(InMemoryChatStore):
    """OWN-002: set_messages keeps the caller's list object itself."""

    def set_messages(self, key: str, messages: Iterable[ChatMessage]) -> None:
        super().set_messages(key, messages)
        if isinstance(messages, list) and messages:
            with self._lock:
                self._data[key].messages = messages


class KeepsAddedMessage(InMemoryChatStore):
    """OWN-003: add_message keeps the caller's message object (a SHOULD)."""

    def add_message(self, key: str, message: ChatMessage, idx: int | None = None) -> None:
        super().add_message(key, message, idx)
        with self._lock:
            messages = self._data[key].messages
            messages[messages.index(message)] = message


class AsyncDeleteLastReturnsNone(InMemoryChatStore):
    """PAR-001: the async delete_last removes the message but answers None."""

    async def adelete_last_message(self, key: str) -> ChatMessage | None:
        super().delete_last_message(key)
        return None


class AsyncUsesOtherStore(InMemoryChatStore):
    """PAR-002: the async twins talk to a second, separate store (another database index)."""

    def __init__(self) -> None:
        super().__init__()
        self._other = InMemoryChatStore()

    async def aset_messages(self, key: str, messages: Iterable[ChatMessage]) -> None:
        self._other.set_messages(key, messages)

    async def aget_messages(self, key: str) -> list[ChatMessage]:
        return self._other.get_messages(key)

    async def async_add_message(self, key: str, message: ChatMessage, idx: int | None = None) -> None:
        self._other.add_message(key, message, idx)


class UnlockedAppend(InMemoryChatStore):
    """CON-001: append is get, then set, with no lock: concurrent appends lose messages."""

    def add_message(self, key: str, message: ChatMessage, idx: int | None = None) -> None:
        messages = self.get_messages(key)
        _yield_thread()
        messages.insert(len(messages) if idx is None else idx, message)
        self.set_messages(key, messages)


class UnlockedDeleteLast(InMemoryChatStore):
    """CON-002: delete_last reads the last message, then trims, with no lock."""

    def delete_last_message(self, key: str) -> ChatMessage | None:
        messages = self.get_messages(key)
        if not messages:
            return None
        _yield_thread()
        self.set_messages(key, self.get_messages(key)[:-1])
        return messages[-1]


class AsyncAppendAcrossAwait(InMemoryChatStore):
    """CON-003: async append reads, awaits, then writes: tasks overwrite each other."""

    async def async_add_message(self, key: str, message: ChatMessage, idx: int | None = None) -> None:
        messages = self.get_messages(key)
        await asyncio.sleep(0)
        messages.insert(len(messages) if idx is None else idx, message)
        self.set_messages(key, messages)


class UnlockedInsert(InMemoryChatStore):
    """CON-004: insert at an index reads, then writes, with no lock (plain appends are atomic)."""

    def add_message(self, key: str, message: ChatMessage, idx: int | None = None) -> None:
        if idx is None:
            super().add_message(key, message)
            return
        messages = self.get_messages(key)
        _yield_thread()
        messages.insert(idx, message)
        self.set_messages(key, messages)


class AcceptsAnyKey(InMemoryChatStore):
    """BAD-001: non-str keys are converted with str(), so 1 and '1' are one conversation."""

    def set_messages(self, key: Any, messages: Iterable[ChatMessage]) -> None:
        super().set_messages(str(key), messages)

    def get_messages(self, key: Any) -> list[ChatMessage]:
        return super().get_messages(str(key))

    def add_message(self, key: Any, message: ChatMessage, idx: int | None = None) -> None:
        super().add_message(str(key), message, idx)


class TruncatesIndex(InMemoryChatStore):
    """BAD-002: a float or numeric-string idx is truncated with int()."""

    def add_message(self, key: str, message: ChatMessage, idx: Any = None) -> None:
        super().add_message(key, message, None if idx is None else int(float(idx)))

    def delete_message(self, key: str, idx: Any) -> ChatMessage | None:
        return super().delete_message(key, int(float(idx or 0)))


class PartialSet(InMemoryChatStore):
    """BAD-003: set_messages writes the valid messages before the first bad one."""

    def set_messages(self, key: str, messages: Iterable[Any]) -> None:
        good = []
        for m in messages:
            if not hasattr(m, "role"):
                break
            good.append(m)
        super().set_messages(key, good)

    def add_message(self, key: str, message: Any, idx: int | None = None) -> None:
        if hasattr(message, "role"):
            super().add_message(key, message, idx)


class LazyHeadDelete(InMemoryChatStore):
    """MDL-001: deleting index 0 only bumps a head offset, and insert-at-index forgets the offset.

    Every focused test starts from a freshly set list, so only an interleaving
    (delete at the head, then insert at an index) shows the bug.
    """

    def __init__(self) -> None:
        super().__init__()
        self._offset: dict[str, int] = {}

    def _visible(self, key: str) -> list[ChatMessage]:
        return super().get_messages(key)[self._offset.get(key, 0) :]

    def get_messages(self, key: str) -> list[ChatMessage]:
        return self._visible(key)

    def set_messages(self, key: str, messages: Iterable[ChatMessage]) -> None:
        self._offset.pop(key, None)
        super().set_messages(key, messages)

    def add_message(self, key: str, message: ChatMessage, idx: int | None = None) -> None:
        if not self._visible(key):
            self.set_messages(key, [])
        super().add_message(key, message, idx)  # bug: idx ignores the hidden head

    def delete_message(self, key: str, idx: int) -> ChatMessage | None:
        visible = self._visible(key)
        if idx == 0 and len(visible) > 1:
            self._offset[key] = self._offset.get(key, 0) + 1
            return visible[0]
        offset = self._offset.pop(key, 0)
        removed = visible.pop(idx) if -len(visible) <= idx < len(visible) else None
        if offset or removed is not None:
            super().set_messages(key, visible)
        return removed

    def delete_last_message(self, key: str) -> ChatMessage | None:
        return self.delete_message(key, -1)

    def delete_messages(self, key: str) -> list[ChatMessage] | None:
        visible = self._visible(key)
        self.set_messages(key, [])
        return visible or None

    def get_keys(self) -> list[str]:
        return [k for k in super().get_keys() if self._visible(k)]


class ForgetsPast40Conversations(InMemoryChatStore):
    """No clause of its own: a cache of the 40 conversations written last, the oldest evicted (an LRU cache that
    was meant to sit in front of a database). Two conversations never show it; a packed batch of fifty does."""

    LIMIT = 40

    def _evict(self, key: str) -> None:
        data = self._data
        if key in data:
            data[key] = data.pop(key)  # most recent last
        while len(data) > self.LIMIT:
            del data[next(iter(data))]

    def set_messages(self, key: str, messages: Iterable[ChatMessage]) -> None:
        super().set_messages(key, messages)
        self._evict(key)

    def add_message(self, key: str, message: ChatMessage, idx: int | None = None) -> None:
        super().add_message(key, message, idx)
        self._evict(key)


# -- time -----------------------------------------------------------------------


class ExpiredKeysStayListed(InMemoryChatStore):
    """TTL-001: get_keys does not check expiry (a sweeper would remove them... later)."""

    def get_keys(self) -> list[str]:
        with self._lock:
            return list(self._data)


class ExpiresEarly(InMemoryChatStore):
    """TTL-002: the TTL is applied as half of what was asked (a unit or rounding slip)."""

    def __init__(self, ttl: float | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(ttl=None if ttl is None else ttl / 2, clock=clock)


class RefreshOnCreateOnly(InMemoryChatStore):
    """TTL-003: the expiry is set when the conversation is created and never refreshed (EXPIRE NX)."""

    def _touch(self, key: str, conv: Any) -> None:
        if conv.messages and conv.expires_at != math.inf:
            return
        super()._touch(key, conv)


class DeleteDropsDeadline(InMemoryChatStore):
    """TTL-004: a delete rewrites the list without its expiry (DEL + RPUSH, no EXPIRE)."""

    def delete_message(self, key: str, idx: int) -> ChatMessage | None:
        removed = super().delete_message(key, idx)
        with self._lock:
            if key in self._data:
                self._data[key].expires_at = math.inf
        return removed


class ReadsExtend(InMemoryChatStore):
    """TTL-005: every read refreshes the expiry (a sliding window)."""

    def get_messages(self, key: str) -> list[ChatMessage]:
        messages = super().get_messages(key)
        with self._lock:
            conv = self._data.get(key)
            if conv is not None and self.ttl is not None:
                conv.expires_at = self._clock() + self.ttl
        return messages


class ResurrectsOnAppend(InMemoryChatStore):
    """TTL-006: expiry only hides a conversation from reads; an append brings the old messages back."""

    def _live(self, key: str) -> Any:
        conv = self._data.get(key)
        if conv is not None and self._clock() >= conv.expires_at:
            return None  # hidden, but not removed
        return conv

    def add_message(self, key: str, message: ChatMessage, idx: int | None = None) -> None:
        with self._lock:
            conv = self._data.get(key)
            if conv is not None:
                conv.expires_at = math.inf  # "revive" it
        super().add_message(key, message, idx)


class NoneMeansDefault(InMemoryChatStore):
    """TTL-007: ttl=None falls back to a default lifetime of one second."""

    def __init__(self, ttl: float | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(ttl=1 if ttl is None else ttl, clock=clock)


class StaleInsertAfterExpiry(InMemoryChatStore):
    """TTL-008: insert at an index reads the conversation without checking expiry.

    Appends and sets handle expiry, so every focused TTL scenario passes; only an
    interleaving (expire, then insert at an index) shows the old messages coming back.
    """

    def add_message(self, key: str, message: ChatMessage, idx: int | None = None) -> None:
        if idx is None:
            super().add_message(key, message)
            return
        with self._lock:
            conv = self._data.setdefault(key, _Conversation())
            conv.messages.insert(idx, copy_message(message))
            self._touch(key, conv)


class FoldsCommaKeys(InMemoryChatStore):
    """Keeps only the part of a key after its last comma (a CSV-ish session column): ``a,b`` is ``b``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._originals: dict[str, str] = {}

    def _fold(self, key: Any) -> Any:
        if not isinstance(key, str):
            return key
        folded = key.rsplit(",", 1)[-1] or key
        self._originals[folded] = key
        return folded

    def set_messages(self, key: str, messages: Any) -> None:
        super().set_messages(self._fold(key), messages)

    def get_messages(self, key: str) -> list[ChatMessage]:
        return super().get_messages(self._fold(key))

    def add_message(self, key: str, message: ChatMessage, idx: int | None = None) -> None:
        super().add_message(self._fold(key), message, idx)

    def get_keys(self) -> list[str]:
        return [self._originals.get(k, k) for k in super().get_keys()]


class SplitsBatches(InMemoryChatStore):
    """``add_messages`` appends one message at a time, letting other threads in between."""

    def add_messages(self, key: str, messages: Any) -> None:
        for message in messages:
            self.add_message(key, message)
            _yield_thread()


class ShallowCopiesKwargs(InMemoryChatStore):
    """OWN-004: messages are validated and copied on the way in and out, but ``additional_kwargs`` only with
    ``dict()``: a caller who edits ``tool_calls[0]["args"]`` later edits what is stored."""

    def __init__(self, ttl: float | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(ttl=ttl, clock=clock)
        self._writing = threading.RLock()  # each write is the base class's, then a swap: one at a time

    @staticmethod
    def _shallow(message: ChatMessage) -> ChatMessage:
        return ChatMessage(message.role, message.content, dict(message.additional_kwargs))

    def delete_message(self, key: str, idx: int) -> ChatMessage | None:
        with self._writing:
            return super().delete_message(key, idx)

    def delete_last_message(self, key: str) -> ChatMessage | None:
        with self._writing:
            return super().delete_last_message(key)

    def delete_messages(self, key: str) -> list[ChatMessage] | None:
        with self._writing:
            return super().delete_messages(key)

    def set_messages(self, key: str, messages: Iterable[ChatMessage]) -> None:
        given = list(messages) if not isinstance(messages, (str, bytes, dict)) else messages
        with self._writing:
            self._set_shallow(key, given)

    def _set_shallow(self, key: str, given: Any) -> None:
        super().set_messages(key, given)  # validates; then keep the caller's nested data
        with self._lock:
            conv = self._data.get(key)
            if conv is not None:
                conv.messages[:] = [self._shallow(m) for m in given]

    def add_message(self, key: str, message: ChatMessage, idx: int | None = None) -> None:
        with self._writing:
            super().add_message(key, message, idx)  # validates and inserts a deep copy; then swap in a shallow one
            self._swap(key, message, idx)

    def _swap(self, key: str, message: ChatMessage, idx: int | None) -> None:
        with self._lock:
            stored = self._data[key].messages
            before = len(stored) - 1
            position = before if idx is None else max(0, before + idx) if idx < 0 else min(idx, before)
            stored[position] = self._shallow(message)

    def get_messages(self, key: str) -> list[ChatMessage]:
        check_key(key)
        with self._lock:
            conv = self._live(key)
            return [self._shallow(m) for m in conv.messages] if conv else []


class IntegersAsDoubles(InMemoryChatStore):
    """FID-005: ``additional_kwargs`` go through a JSON parser that reads every number as a double (as
    JavaScript does): 7 comes back as 7.0, 2**63 - 1 as 9.223372036854776e18."""

    def get_messages(self, key: str) -> list[ChatMessage]:
        return [
            ChatMessage(m.role, m.content, json.loads(json.dumps(m.additional_kwargs), parse_int=float))
            for m in super().get_messages(key)
        ]


class ReadsAtMost10000(InMemoryChatStore):
    """SCL-002: reads at most 10,000 messages of a conversation (langchain-redis's default page)."""

    def get_messages(self, key: str) -> list[ChatMessage]:
        return super().get_messages(key)[:10_000]


class CapsConversationSize(InMemoryChatStore):
    """SCL-003: a conversation is one 2 MB document (Cosmos DB's item limit); the oldest messages are
    dropped to fit, silently."""

    LIMIT = 2 << 20

    def set_messages(self, key: str, messages: Iterable[ChatMessage]) -> None:
        kept = list(messages)
        while sum(len(m.content) for m in kept) > self.LIMIT:
            kept.pop(0)
        super().set_messages(key, kept)


def realtime(cls: type[InMemoryChatStore]) -> Callable[..., InMemoryChatStore]:
    """A factory for ``cls`` that takes ``ttl`` but no ``clock``: its TTL clauses run in real time."""

    def factory(ttl: float | None = None) -> InMemoryChatStore:
        return cls(ttl=ttl)

    factory.__name__ = f"realtime_{cls.__name__}"
    return factory


realtime_ExpiredKeysStayListed = realtime(ExpiredKeysStayListed)
realtime_ExpiresEarly = realtime(ExpiresEarly)
realtime_RefreshOnCreateOnly = realtime(RefreshOnCreateOnly)
realtime_DeleteDropsDeadline = realtime(DeleteDropsDeadline)
realtime_ReadsExtend = realtime(ReadsExtend)
realtime_ResurrectsOnAppend = realtime(ResurrectsOnAppend)
realtime_NoneMeansDefault = realtime(NoneMeansDefault)
realtime_InMemoryChatStore = realtime(InMemoryChatStore)


BROKEN: dict[str, type[Any]] = {
    "FID-005": IntegersAsDoubles,
    "OWN-004": ShallowCopiesKwargs,
    "SHR-001": CachesReads,
    "SHR-002": LockedReadModifyWrite,
    "SHR-003": ResetsOnOpen,
    "PRC-001": LockedReadModifyWrite,
    "SCL-001": FirstPageKeys,
    "SCL-002": ReadsAtMost10000,
    "SCL-003": CapsConversationSize,
    "FRE-001": SharedState,
    "ORD-001": ReversedAfterDelete,
    "ORD-002": NoneForUnknown,
    "SET-001": SetAppends,
    "SET-002": SetEmptyIsNoop,
    "INS-001": Prepends,
    "INS-002": NegativeInsertAfter,
    "DEL-001": DeleteReturnsJson,
    "DEL-002": DeleteOutOfRangeRaises,
    "DEL-003": NegativeDeleteHitsHead,
    "DEL-004": NegativeDeleteRefused,
    "DLL-001": DeleteLastTakesFirst,
    "DLL-002": DeleteLastOfEmptyRaises,
    "DLA-001": DeleteAllKeepsLast,
    "DLA-002": DeleteAllReturnsCount,
    "KEY-001": ListsForeignKey,
    "KEY-002": ListsEmptiedKeys,
    "KEY-003": TruncatesListedKeys,
    "KEY-004": CaseInsensitiveKeys,
    "FID-001": ForgetsRole,
    "FID-002": StripsContent,
    "FID-003": FlattensNestedKwargs,
    "FID-004": CapsAt1000,
    "OWN-001": ReturnsStoredList,
    "OWN-002": KeepsGivenList,
    "OWN-003": KeepsAddedMessage,
    "PAR-001": AsyncDeleteLastReturnsNone,
    "PAR-002": AsyncUsesOtherStore,
    "CON-001": UnlockedAppend,
    "CON-002": UnlockedDeleteLast,
    "CON-003": AsyncAppendAcrossAwait,
    "CON-004": UnlockedInsert,
    "BAD-001": AcceptsAnyKey,
    "BAD-002": TruncatesIndex,
    "BAD-003": PartialSet,
    "MDL-001": LazyHeadDelete,
    "TTL-001": ExpiredKeysStayListed,
    "TTL-002": ExpiresEarly,
    "TTL-003": RefreshOnCreateOnly,
    "TTL-004": DeleteDropsDeadline,
    "TTL-005": ReadsExtend,
    "TTL-006": ResurrectsOnAppend,
    "TTL-007": NoneMeansDefault,
    "TTL-008": StaleInsertAfterExpiry,
    "KEY-006": FoldsCommaKeys,
    "BAT-001": SplitsBatches,
    "KEY-005": UnscopedKeys,  # a Redis store: only a kit-managed server can show it
    "FLT-001": RetriesEverything,  # the faults clauses: Redis stores, behind the kit's fault proxy
    "FLT-002": SwallowsErrors,
    "FLT-003": InsertWithoutTransaction,
    "FLT-004": EmptyOnReadError,
    "FLT-005": StaysBroken,
}
"""Clause ID -> a store that breaks it (and as few other clauses as the bug allows)."""


class TailFromHead(InMemoryChatStore):
    """TAL-001: the tail read takes the oldest ``limit`` messages (``ORDER BY id ASC LIMIT n``)."""

    def get_last_messages(self, key: str, limit: int) -> list[ChatMessage]:
        return self.get_messages(key)[:limit] if limit > 0 else []


class TailNegativeReadsAll(InMemoryChatStore):
    """TAL-002: a negative limit passes through to the query, where ``LIMIT -1`` means no limit."""

    def get_last_messages(self, key: str, limit: int) -> list[ChatMessage]:
        messages = self.get_messages(key)
        return messages if limit < 0 else messages[-limit:] if limit else []


BROKEN["TAL-001"] = TailFromHead
BROKEN["TAL-002"] = TailNegativeReadsAll


class SharedHeadOffsetPastTrailingSpace(InMemoryChatStore):
    """KEY-004, only after two writes beside a look-alike: deleting the head of a conversation of two or more only
    bumps a head offset, kept in a table whose key column ignores trailing spaces (SQL's PAD SPACE collation), so
    ``'a'`` and ``'a '`` share one offset. One write per key never shows it."""

    def __init__(self) -> None:
        super().__init__()
        self._offset: dict[str, int] = {}
        self._guard = threading.RLock()

    @staticmethod
    def _slot(key: str) -> str:
        check_key(key)
        return key.rstrip(" ")

    def _settle(self, key: str) -> None:
        """Apply the offset for real (before any write but the lazy delete)."""
        visible = self.get_messages(key)
        if self._offset.pop(self._slot(key), 0):
            super().set_messages(key, visible)

    def get_messages(self, key: str) -> list[ChatMessage]:
        with self._guard:
            return super().get_messages(key)[self._offset.get(self._slot(key), 0) :]

    def set_messages(self, key: str, messages: Iterable[ChatMessage]) -> None:
        with self._guard:
            self._offset.pop(self._slot(key), None)
            super().set_messages(key, messages)

    def add_message(self, key: str, message: ChatMessage, idx: int | None = None) -> None:
        with self._guard:
            self._settle(key)
            super().add_message(key, message, idx)

    def delete_message(self, key: str, idx: int) -> ChatMessage | None:
        with self._guard:
            visible = self.get_messages(key)
            if idx == 0 and len(visible) > 1:
                self._offset[self._slot(key)] = self._offset.get(self._slot(key), 0) + 1
                return visible[0]
            self._settle(key)
            return super().delete_message(key, idx)

    def delete_last_message(self, key: str) -> ChatMessage | None:
        with self._guard:
            self._settle(key)
            return super().delete_last_message(key)

    def delete_messages(self, key: str) -> list[ChatMessage] | None:
        with self._guard:
            self._settle(key)
            return super().delete_messages(key)

    def get_keys(self) -> list[str]:
        with self._guard:
            return [k for k in super().get_keys() if self.get_messages(k)]
