"""The reference model: a dict of Python lists plus a clock.

This is what "correct" means. The state machine drives a store and this model
in lockstep and compares every answer. It is deliberately small and plain.

Time: with ``ttl`` set, a conversation expires ``ttl`` seconds after its last
refresh (an ``add_message`` or a non-empty ``set_messages``). A delete that
leaves messages may either keep the old deadline or restart the window; the
spec allows both, so the model keeps both candidate deadlines until the store
shows which policy it follows (:meth:`ChatModel.learn_delete_policy`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

from pytest_chatstore.spec.contract import ChatMessage

DeletePolicy = Literal["keep", "restart"]
Liveness = Literal["alive", "gone", "unknown"]


@dataclass
class Conversation:
    """One key's messages and its two candidate deadlines."""

    messages: list[ChatMessage] = field(default_factory=list)
    refreshed_at: float = 0.0
    """Time of the last add or non-empty set: the deadline if deletes keep it."""
    touched_at: float = 0.0
    """Time of the last write of any kind: the deadline if deletes restart it."""


class ChatModel:
    """A dict of lists with Python-list semantics and optional expiry."""

    def __init__(self, ttl: float | None = None) -> None:
        self.ttl = ttl
        self.now = 0.0
        self.delete_policy: DeletePolicy | None = None
        self.conversations: dict[str, Conversation] = {}

    # -- time ---------------------------------------------------------------
    def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass."""
        self.now += seconds

    def deadlines(self, key: str) -> tuple[float, float]:
        """Return (earliest, latest) possible expiry time of ``key``."""
        conv = self.conversations[key]
        if self.ttl is None:
            return math.inf, math.inf
        keep = conv.refreshed_at + self.ttl
        restart = conv.touched_at + self.ttl
        if self.delete_policy == "keep":
            return keep, keep
        if self.delete_policy == "restart":
            return restart, restart
        return min(keep, restart), max(keep, restart)

    def liveness(self, key: str) -> Liveness:
        """Whether ``key`` is alive, gone, or depends on the store's delete policy."""
        if key not in self.conversations:
            return "gone"
        earliest, latest = self.deadlines(key)
        if self.now < earliest:
            return "alive"
        if self.now >= latest:
            return "gone"
        return "unknown"

    def learn_delete_policy(self, key: str, alive: bool) -> None:
        """Record what the store showed for a key whose liveness was unknown."""
        conv = self.conversations[key]
        keep_alive = self.now < conv.refreshed_at + (self.ttl or 0)
        self.delete_policy = "keep" if keep_alive == alive else "restart"

    def _live(self, key: str) -> Conversation | None:
        state = self.liveness(key)
        if state == "unknown":
            raise LookupError(f"liveness of {key!r} depends on the delete policy; observe it first")
        if state == "gone":
            self.conversations.pop(key, None)
            return None
        return self.conversations[key]

    def _refresh(self, key: str) -> Conversation:
        conv = self._live(key) or self.conversations.setdefault(key, Conversation())
        conv.refreshed_at = conv.touched_at = self.now
        return conv

    def _after_delete(self, key: str, conv: Conversation) -> None:
        if conv.messages:
            conv.touched_at = self.now
        else:
            del self.conversations[key]

    # -- operations ----------------------------------------------------------
    def set_messages(self, key: str, messages: list[ChatMessage]) -> None:
        if messages:
            self._refresh(key).messages = [m.copy() for m in messages]
        else:
            self.conversations.pop(key, None)

    def get_messages(self, key: str) -> list[ChatMessage]:
        conv = self._live(key)
        return [m.copy() for m in conv.messages] if conv else []

    def add_message(self, key: str, message: ChatMessage, idx: int | None = None) -> None:
        conv = self._refresh(key)
        if idx is None:
            conv.messages.append(message.copy())
        else:
            conv.messages.insert(idx, message.copy())

    def add_messages(self, key: str, messages: list[ChatMessage]) -> None:
        """A batch: appended as one write."""
        conv = self._refresh(key)
        conv.messages.extend(m.copy() for m in messages)

    def delete_messages(self, key: str) -> list[ChatMessage]:
        conv = self._live(key)
        if conv is None:
            return []
        del self.conversations[key]
        return conv.messages

    def delete_message(self, key: str, idx: int) -> ChatMessage | None:
        """``list.pop(idx)`` semantics, ``None`` where pop would raise."""
        conv = self._live(key)
        if conv is None or not -len(conv.messages) <= idx < len(conv.messages):
            return None
        removed = conv.messages.pop(idx)
        self._after_delete(key, conv)
        return removed

    def delete_last_message(self, key: str) -> ChatMessage | None:
        return self.delete_message(key, -1)

    def get_last_messages(self, key: str, limit: int) -> list[ChatMessage]:
        """The last ``limit`` messages, oldest first; ``[]`` for a ``limit`` below 1 (TAL-001, TAL-002)."""
        return self.get_messages(key)[-limit:] if limit > 0 else []

    def get_keys(self) -> list[str]:
        return sorted(k for k in list(self.conversations) if self._live(k))


Names = tuple[str, ...]
"""One conversation as the names (unique contents) of its messages, oldest first."""


def step(state: Names, kind: str, *args: Any) -> tuple[Names, Any]:
    """The sequential model of one conversation, as the linearizability checks replay it: the state after
    ``kind`` (an operation of the registry) and its answer. ``add`` takes a name and, to insert, an index
    (``list.insert``); ``delete`` an index (the workloads use indices from 0 up: one out of range changes
    nothing and answers None); ``delete_last`` nothing; anything else is a read, answering the state."""
    if kind == "add":
        items = list(state)
        items.insert(len(items) if len(args) < 2 or args[1] is None else args[1], args[0])
        return tuple(items), None
    if kind == "delete":
        idx = args[0]
        return (state[:idx] + state[idx + 1 :], state[idx]) if 0 <= idx < len(state) else (state, None)
    if kind == "delete_last":
        return (state[:-1], state[-1]) if state else (state, None)
    return state, state
