"""A SQLite chat store written the way published ones are, and its one-bug twin.

Not a reference store: a second, independent implementation the kit's search is measured against
(issue: "same store, same verdict"). ``SQLiteChatStore`` keeps one row per conversation in
``conversations`` and one row per message in ``messages`` (``pos`` orders them); every write is one
transaction behind one lock, so it is thread-safe.

``SQLiteListsEmptiedKeys`` (no ``delete_message``, as the store first seen with it) has one bug, seen in
the wild: ``set_messages(key, [])`` drops the conversation's row, but a delete that empties it does not,
so ``add_message("a", m)``, ``delete_last_message("a")``, ``get_keys()`` still lists ``"a"`` (KEY-002).
Every other clause holds.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable
from typing import Any, ClassVar

from pytest_chatstore.spec.contract import ChatMessage
from reference_impls._validate import check_index, check_key, copy_message, copy_messages


class _SQLiteStore:
    """A conversation table and a message table in one in-memory SQLite database; deletes from the end only."""

    chatstore_capabilities: ClassVar[dict[str, bool]] = {"shared": False, "processes": False}

    drop_emptied = True
    """Whether a delete that empties a conversation drops its row (the twin below forgets)."""

    def __init__(self) -> None:
        self._db = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        self._db.executescript(
            "CREATE TABLE conversations (key TEXT PRIMARY KEY);"
            "CREATE TABLE messages (key TEXT, pos INTEGER, body TEXT, PRIMARY KEY (key, pos));"
        )
        self._lock = threading.Lock()

    def close(self) -> None:
        self._db.close()

    def _read(self, key: str) -> list[ChatMessage]:
        rows = self._db.execute("SELECT body FROM messages WHERE key = ? ORDER BY pos", (key,)).fetchall()
        return [_decode(body) for (body,) in rows]

    def _write(self, key: str, messages: list[ChatMessage], *, drop_if_empty: bool) -> None:
        """Rewrite ``key``'s messages in one transaction (the caller holds the lock)."""
        self._db.execute("BEGIN")
        self._db.execute("DELETE FROM messages WHERE key = ?", (key,))
        self._db.executemany(
            "INSERT INTO messages (key, pos, body) VALUES (?, ?, ?)",
            [(key, pos, _encode(m)) for pos, m in enumerate(messages)],
        )
        if messages:
            self._db.execute("INSERT OR IGNORE INTO conversations (key) VALUES (?)", (key,))
        elif drop_if_empty:
            self._db.execute("DELETE FROM conversations WHERE key = ?", (key,))
        self._db.execute("COMMIT")

    def set_messages(self, key: str, messages: Iterable[ChatMessage]) -> None:
        check_key(key)
        copies = copy_messages(messages)
        with self._lock:
            self._write(key, copies, drop_if_empty=True)

    def get_messages(self, key: str) -> list[ChatMessage]:
        check_key(key)
        with self._lock:
            return self._read(key)

    def add_message(self, key: str, message: ChatMessage, idx: int | None = None) -> None:
        check_key(key)
        if idx is not None:
            check_index(idx)
        copy = copy_message(message)
        with self._lock:
            messages = self._read(key)
            messages.insert(len(messages) if idx is None else idx, copy)
            self._write(key, messages, drop_if_empty=True)

    def delete_messages(self, key: str) -> list[ChatMessage] | None:
        check_key(key)
        with self._lock:
            messages = self._read(key)
            self._write(key, [], drop_if_empty=True)
            return messages or None

    def _pop(self, key: str, idx: int) -> ChatMessage | None:
        check_key(key)
        with self._lock:
            messages = self._read(key)
            if not -len(messages) <= idx < len(messages):
                return None
            removed = messages.pop(idx)
            self._write(key, messages, drop_if_empty=self.drop_emptied)
            return removed

    def delete_last_message(self, key: str) -> ChatMessage | None:
        return self._pop(key, -1)

    def get_keys(self) -> list[str]:
        with self._lock:
            return [key for (key,) in self._db.execute("SELECT key FROM conversations ORDER BY key")]


class SQLiteChatStore(_SQLiteStore):
    """The whole interface, deletes at an index included: every clause holds."""

    def delete_message(self, key: str, idx: int) -> ChatMessage | None:
        check_index(idx)
        return self._pop(key, idx)


class SQLiteListsEmptiedKeys(_SQLiteStore):
    """KEY-002: a delete that empties a conversation leaves its row, so the key stays listed. Like the store
    first seen with this bug, it has no ``delete_message`` (the DEL clauses are skipped)."""

    drop_emptied = False


def _encode(message: ChatMessage) -> str:
    return json.dumps({"role": message.role, "content": message.content, "kwargs": message.additional_kwargs})


def _decode(body: str) -> ChatMessage:
    data: dict[str, Any] = json.loads(body)
    return ChatMessage(data["role"], data["content"], data["kwargs"])
