"""A hand-rolled chat store with the usual bugs: the README's "failing run" comes from it.

Run, from ``docs/examples``: ``pytest --chatstore=jsondict_store:JsonDictStore --chatstore-only``
"""

from __future__ import annotations

import json
from typing import Any

from pytest_chatstore import ChatMessage


class JsonDictStore:
    """Each conversation is one JSON string: read, change, write back, no lock."""

    def __init__(self) -> None:
        self._data: dict[str, str] = {}

    def _load(self, key: Any) -> list[dict[str, Any]]:
        loaded: list[dict[str, Any]] = json.loads(self._data.get(str(key), "[]"))  # str(key): 1 and "1" merge
        return loaded

    def _save(self, key: Any, items: list[dict[str, Any]]) -> None:
        self._data[str(key)] = json.dumps(items)  # an emptied key stays, as "[]"

    def set_messages(self, key: str, messages: list[ChatMessage]) -> None:
        self._save(key, [vars(m) for m in messages])

    def get_messages(self, key: str) -> list[ChatMessage]:
        return [ChatMessage(**item) for item in self._load(key)]

    def add_message(self, key: str, message: ChatMessage, idx: int | None = None) -> None:
        items = self._load(key)
        items.insert(len(items) if idx is None else idx, vars(message))
        self._save(key, items)

    def delete_messages(self, key: str) -> None:
        self._data.pop(str(key), None)

    def delete_message(self, key: str, idx: int) -> ChatMessage | None:
        items = self._load(key)
        if idx >= len(items):
            return None
        removed = items.pop(idx)
        self._save(key, items)
        return ChatMessage(**removed)

    def delete_last_message(self, key: str) -> ChatMessage | None:
        items = self._load(key)
        if not items:
            return None
        removed = items.pop(0)  # the head, not the tail
        self._save(key, items)
        return ChatMessage(**removed)

    def get_keys(self) -> list[str]:
        return list(self._data)
