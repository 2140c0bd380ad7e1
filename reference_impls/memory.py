"""``InMemoryChatStore``: the in-memory reference chat store.

A dict of lists behind one lock, with Python-list semantics, input
validation, defensive copies, optional expiry and async twins. It passes every
clause of the pytest-chatstore spec and is meant to be read and copied.

Expiry: with ``ttl`` (seconds), a conversation is gone ``ttl`` seconds after
its last refresh; ``add_message`` and a non-empty ``set_messages`` refresh it,
and so do deletes that leave messages (the window restarts, so no delete can
make a conversation immortal). Reads never extend a conversation's life.
``clock`` (a zero-argument callable returning seconds) defaults to
``time.monotonic``; tests inject their own.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import ClassVar

from pytest_chatstore.spec.contract import ChatMessage
from reference_impls._validate import check_index, check_key, check_limit, copy_message, copy_messages


@dataclass
class _Conversation:
    messages: list[ChatMessage] = field(default_factory=list)
    expires_at: float = math.inf


class InMemoryChatStore:
    """A thread-safe, in-process chat store. See the module docstring."""

    chatstore_capabilities: ClassVar[dict[str, bool]] = {"shared": False, "processes": False}
    """Two instances never share data (each has its own dict): the kit's multi-instance and
    multi-process clauses do not apply."""

    def __init__(self, ttl: float | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or not ttl > 0):
            raise ValueError(f"ttl must be a positive number of seconds or None, not {ttl!r}")
        self.ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._data: dict[str, _Conversation] = {}

    # -- internals (call with the lock held) -------------------------------------
    def _live(self, key: str) -> _Conversation | None:
        conv = self._data.get(key)
        if conv is not None and self._clock() >= conv.expires_at:
            del self._data[key]
            return None
        return conv

    def _touch(self, key: str, conv: _Conversation) -> None:
        """Restart the window, or drop the key if the conversation is now empty."""
        if not conv.messages:
            self._data.pop(key, None)
        elif self.ttl is not None:
            conv.expires_at = self._clock() + self.ttl

    # -- the contract ---------------------------------------------------------
    def set_messages(self, key: str, messages: Iterable[ChatMessage]) -> None:
        """Replace the conversation at ``key``; an empty list deletes it."""
        check_key(key)
        copies = copy_messages(messages)
        with self._lock:
            conv = _Conversation(copies)
            self._data[key] = conv
            self._touch(key, conv)

    def get_messages(self, key: str) -> list[ChatMessage]:
        """The messages at ``key``, oldest first (copies); ``[]`` for an unknown key."""
        check_key(key)
        with self._lock:
            conv = self._live(key)
            return [m.copy() for m in conv.messages] if conv else []

    def get_last_messages(self, key: str, limit: int) -> list[ChatMessage]:
        """The last ``limit`` messages at ``key``, oldest first (copies); ``[]`` for 0; a negative ``limit``
        raises ``ValueError``."""
        check_key(key)
        if check_limit(limit) == 0:
            return []
        with self._lock:
            conv = self._live(key)
            return [m.copy() for m in conv.messages[-limit:]] if conv else []

    def add_message(self, key: str, message: ChatMessage, idx: int | None = None) -> None:
        """Append ``message``, or insert it at ``idx`` exactly as ``list.insert`` does."""
        check_key(key)
        if idx is not None:
            check_index(idx)
        copy = copy_message(message)
        with self._lock:
            conv = self._live(key) or self._data.setdefault(key, _Conversation())
            if idx is None:
                conv.messages.append(copy)
            else:
                conv.messages.insert(idx, copy)
            self._touch(key, conv)

    def add_messages(self, key: str, messages: Iterable[ChatMessage]) -> None:
        """Append a batch in one step: another writer's messages never land inside it."""
        check_key(key)
        copies = copy_messages(messages)
        if not copies:
            return
        with self._lock:
            conv = self._live(key) or self._data.setdefault(key, _Conversation())
            conv.messages.extend(copies)
            self._touch(key, conv)

    def delete_messages(self, key: str) -> list[ChatMessage] | None:
        """Remove the conversation; return its messages, or ``None`` if there were none."""
        check_key(key)
        with self._lock:
            conv = self._live(key)
            self._data.pop(key, None)
            return conv.messages if conv else None

    def delete_message(self, key: str, idx: int) -> ChatMessage | None:
        """Remove and return the message at ``idx`` (``list.pop`` semantics); ``None`` if there is none."""
        check_key(key)
        check_index(idx)
        with self._lock:
            conv = self._live(key)
            if conv is None or not -len(conv.messages) <= idx < len(conv.messages):
                return None
            removed = conv.messages.pop(idx)
            self._touch(key, conv)
            return removed

    def delete_last_message(self, key: str) -> ChatMessage | None:
        """Remove and return the last message; ``None`` for an unknown or empty conversation."""
        return self.delete_message(key, -1)

    def get_keys(self) -> list[str]:
        """Every key holding at least one message."""
        with self._lock:
            return [key for key in list(self._data) if self._live(key)]

    # -- async twins: the work is in-memory and never blocks, so they call the sync ones
    async def aset_messages(self, key: str, messages: Iterable[ChatMessage]) -> None:
        self.set_messages(key, messages)

    async def aget_messages(self, key: str) -> list[ChatMessage]:
        return self.get_messages(key)

    async def async_add_message(self, key: str, message: ChatMessage, idx: int | None = None) -> None:
        self.add_message(key, message, idx)

    async def aadd_messages(self, key: str, messages: Iterable[ChatMessage]) -> None:
        self.add_messages(key, messages)

    async def aget_last_messages(self, key: str, limit: int) -> list[ChatMessage]:
        return self.get_last_messages(key, limit)

    async def adelete_messages(self, key: str) -> list[ChatMessage] | None:
        return self.delete_messages(key)

    async def adelete_message(self, key: str, idx: int) -> ChatMessage | None:
        return self.delete_message(key, idx)

    async def adelete_last_message(self, key: str) -> ChatMessage | None:
        return self.delete_last_message(key)

    async def aget_keys(self) -> list[str]:
        return self.get_keys()
