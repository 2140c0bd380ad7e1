"""Stores with several independent bugs, or one bug that used to fail many clauses: attribution's test cases.

Unlike ``broken_stores`` (one bug, one clause), these check that a run names each root cause
under its own clause, and that a known failure does not fail the clauses around it.
"""

from __future__ import annotations

import json
import math
import threading
import time
from typing import Any

from pytest_chatstore.spec.contract import ChatMessage
from reference_impls.memory import InMemoryChatStore
from tests.broken_stores import UnlockedInsert


def _raw(message: ChatMessage) -> bytes:
    return json.dumps({"role": message.role, "content": message.content}).encode()


class LlamaRedisLike(UnlockedInsert):
    """LlamaIndex ``RedisChatStore`` 0.8.0's bugs, in memory, each independent of the others:

    - ``delete_message`` and ``delete_last_message`` answer raw JSON bytes (DEL-001, DLL-001);
    - ``delete_message`` rewrites the rest of the list reversed (ORD-001)...
    - ...and without its deadline, so the conversation never expires (TTL-004);
    - ``adelete_message`` on a one-message conversation raises (PAR-001);
    - insert at an index is a read-modify-write without a lock (CON-004, inherited from ``UnlockedInsert``).
    """

    def delete_last_message(self, key: str) -> ChatMessage | None:
        removed = InMemoryChatStore.delete_message(self, key, -1)
        return None if removed is None else _raw(removed)  # type: ignore[return-value]

    def delete_message(self, key: str, idx: int) -> ChatMessage | None:
        removed = InMemoryChatStore.delete_message(self, key, idx)
        if removed is None:
            return None
        with self._lock:
            conv = self._data.get(key)
            if conv is not None:
                conv.messages.reverse()
                conv.expires_at = math.inf
        return _raw(removed)  # type: ignore[return-value]

    async def adelete_message(self, key: str, idx: int) -> ChatMessage | None:
        if len(self.get_messages(key)) == 1:
            raise RuntimeError("wrong number of arguments for 'lpush' command")
        return self.delete_message(key, idx)


INDEPENDENT_BUGS = {"DEL-001", "DLL-001", "ORD-001", "TTL-004", "PAR-001", "CON-004"}
"""The clauses :class:`LlamaRedisLike`'s bugs break, one each."""


def _burn(seconds: float) -> None:
    """CPU work (not a sleep): under load it takes longer, as a real store's serialisation would."""
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


class SlowInsert(InMemoryChatStore):
    """Correct, but its insert at an index is a slow read-modify-write (under its own lock).

    Under CPU load the insert may end after the conversation's first deadline; the earlier message has
    then legitimately expired. TTL-003 must not blame the store for that: it is inconclusive, then
    retried with a longer ttl.
    """

    def __init__(self, ttl: float | None = None) -> None:
        super().__init__(ttl=ttl)
        self._writing = threading.Lock()

    def add_message(self, key: str, message: ChatMessage, idx: int | None = None) -> None:
        if idx is None:
            super().add_message(key, message)
            return
        with self._writing:
            messages = self.get_messages(key)
            _burn(0.3)
            messages.insert(idx, message)
            InMemoryChatStore.set_messages(self, key, messages)


def _rounded(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    if isinstance(value, float) and math.isfinite(value):
        return float(f"{value:.15g}")  # a JSON encoder printing 15 significant digits
    return value


def _as_stored(message: ChatMessage | None) -> ChatMessage | None:
    return None if message is None else ChatMessage(message.role, message.content, _rounded(message.additional_kwargs))


class RoundsFloats(InMemoryChatStore):
    """Every float in ``additional_kwargs`` comes back printed with 15 significant digits (one serialiser's
    setting): FID-001's bug, which every clause reading a message back meets (it used to be 9 root causes)."""

    def get_messages(self, key: str) -> list[ChatMessage]:
        return [m for m in map(_as_stored, super().get_messages(key)) if m is not None]

    def delete_messages(self, key: str) -> list[ChatMessage] | None:
        removed = super().delete_messages(key)
        return None if removed is None else [m for m in map(_as_stored, removed) if m is not None]

    def delete_message(self, key: str, idx: int) -> ChatMessage | None:
        return _as_stored(super().delete_message(key, idx))

    def delete_last_message(self, key: str) -> ChatMessage | None:
        return _as_stored(super().delete_last_message(key))


class NoOpAppend:
    """The tutorial's first store (docs/tutorial.md), as written: ``add_message`` is ``...``. Replace works, append
    and insert store nothing; returned messages are the stored objects, nested data is shared, and nothing is
    refused."""

    def __init__(self) -> None:
        self._data: dict[Any, list[ChatMessage]] = {}

    def set_messages(self, key: Any, messages: Any) -> None:
        self._data[key] = [ChatMessage(m.role, m.content, dict(m.additional_kwargs)) for m in messages]

    def get_messages(self, key: Any) -> list[ChatMessage]:
        return list(self._data.get(key, []))

    def add_message(self, key: Any, message: Any, idx: Any = None) -> None: ...


NO_OP_APPEND_ROOT_CAUSES = {"INS-001", "INS-002", "CON-001", "BAD-001", "BAD-002", "BAD-003"}
"""Its root causes: the append and the insert that store nothing; appends from threads, which store nothing either
(their calls are not logged one by one, so the kit cannot charge them to INS-001); and bad input accepted
(BAD-002 and BAD-003 through the no-op append: it accepts anything). Every check that wrote with an append and read
back nothing is blocked by INS-001: 17 root causes before, 6 now."""


class Column255(InMemoryChatStore):
    """A key column of 255 characters: the database refuses a longer key, and the store swallows the error (the
    write does nothing). One bug, KEY-003's (long keys round-trip); KEY-006 (keys past 255 characters), KEY-004,
    KEY-001, MDL-001 and TTL-008 meet it too and are blocked by it: 4 root causes before, 1 now."""

    LIMIT = 255

    def set_messages(self, key: Any, messages: Any) -> None:
        if not (isinstance(key, str) and len(key) > self.LIMIT):
            super().set_messages(key, messages)

    def add_message(self, key: Any, message: Any, idx: Any = None) -> None:
        if not (isinstance(key, str) and len(key) > self.LIMIT):
            super().add_message(key, message, idx=idx)


class StripsKeys(InMemoryChatStore):
    """Keys stripped of surrounding whitespace in every method (Google ADK's session services strip session ids):
    ``' a'`` and ``'a'`` are one conversation, and a whitespace-only key, stripped to nothing, is refused with
    ``ValueError``. Two root causes: KEY-003 (a key comes back changed, and ``'\\t'`` cannot be held) and KEY-004
    (look-alike keys share storage). Before, ORD-002 and KEY-001 (whose searches drew ``'\\t'``), MDL-001 and TTL-008
    (whose listings showed ``'a'`` for ``' a'``, or whose reads showed ``' a'``'s messages at ``'a'``) failed too,
    depending on the seed."""

    KEEPS_BLANK = False
    """Whether a whitespace-only key is kept as given rather than stripped to nothing."""

    def _k(self, key: Any) -> Any:
        if not isinstance(key, str):
            return key
        return key.strip() or (key if self.KEEPS_BLANK else "")

    def set_messages(self, key: Any, messages: Any) -> None:
        super().set_messages(self._k(key), messages)

    def get_messages(self, key: Any) -> list[ChatMessage]:
        return super().get_messages(self._k(key))

    def add_message(self, key: Any, message: Any, idx: Any = None) -> None:
        super().add_message(self._k(key), message, idx=idx)

    def add_messages(self, key: Any, messages: Any) -> None:
        super().add_messages(self._k(key), messages)

    def get_last_messages(self, key: Any, limit: int) -> list[ChatMessage]:
        return super().get_last_messages(self._k(key), limit)

    def delete_messages(self, key: Any) -> list[ChatMessage] | None:
        return super().delete_messages(self._k(key))

    def delete_message(self, key: Any, idx: int) -> ChatMessage | None:
        return super().delete_message(self._k(key), idx)

    def delete_last_message(self, key: Any) -> ChatMessage | None:
        return super().delete_last_message(self._k(key))


class FoldsKeys(StripsKeys):
    """:class:`StripsKeys`, but a whitespace-only key is kept as given: only look-alikes fold together."""

    KEEPS_BLANK = True


class RewritesWholeBlob:
    """Every write reads the whole stored JSON blob, changes it and writes it all back, with no lock (a file store
    that rewrites its file per write). One design flaw in two methods: appends race (CON-001) and deletes race
    (CON-002); the linearizability check (CON-004) meets the append race and is blocked by it. Five root causes were
    seen for such a store, two now."""

    def __init__(self) -> None:
        self._blob = "{}"

    def _load(self) -> dict[str, list[dict[str, Any]]]:
        data: dict[str, list[dict[str, Any]]] = json.loads(self._blob)
        return data

    def _save(self, data: dict[str, list[dict[str, Any]]]) -> None:
        time.sleep(0)  # the file's write: another thread runs between the read and here
        self._blob = json.dumps(data)

    @staticmethod
    def _row(message: Any) -> dict[str, Any]:
        return {"role": message.role, "content": message.content, "additional_kwargs": message.additional_kwargs}

    @staticmethod
    def _message(row: dict[str, Any]) -> ChatMessage:
        return ChatMessage(row["role"], row["content"], row["additional_kwargs"])

    def set_messages(self, key: str, messages: Any) -> None:
        data = self._load()
        rows = [self._row(m) for m in messages]
        if rows:
            data[key] = rows
        else:
            data.pop(key, None)
        self._save(data)

    def get_messages(self, key: str) -> list[ChatMessage]:
        return [self._message(row) for row in self._load().get(key, [])]

    def add_message(self, key: str, message: Any, idx: int | None = None) -> None:
        data = self._load()
        row = self._row(message)
        conversation = data.setdefault(key, [])
        conversation.append(row) if idx is None else conversation.insert(idx, row)
        self._save(data)

    def delete_message(self, key: str, idx: int) -> ChatMessage | None:
        data = self._load()
        conversation = data.get(key, [])
        if not -len(conversation) <= idx < len(conversation):
            return None
        row = conversation.pop(idx)
        if not conversation:
            del data[key]
        self._save(data)
        return self._message(row)

    def delete_last_message(self, key: str) -> ChatMessage | None:
        return self.delete_message(key, -1)
