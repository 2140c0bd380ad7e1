"""LangChain histories of our own, one right and some broken, for the adapter's tests.

Importing this module needs langchain-core (the ``langchain`` extra).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from typing import ClassVar

from langchain_core.chat_history import BaseChatMessageHistory
from langchain_core.messages import BaseMessage, message_to_dict, messages_from_dict

from pytest_chatstore.adapters.langchain import HistoryStore, history_factory


class SessionHistory(BaseChatMessageHistory):
    """A history per ``session_id``, kept in a class-level table of JSON rows (as a database keeps it)."""

    TABLE: ClassVar[dict[str, list[str]]] = {}
    LOCK: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, session_id: str) -> None:
        if not isinstance(session_id, str):
            raise TypeError(f"session_id must be a str, not {type(session_id).__name__}")
        self.session_id = session_id

    def _row(self) -> str:
        return self.session_id

    @property
    def messages(self) -> list[BaseMessage]:  # type: ignore[override]
        with self.LOCK:
            return messages_from_dict([json.loads(row) for row in self.TABLE.get(self._row(), [])])

    def add_messages(self, messages: Sequence[BaseMessage]) -> None:
        rows = [json.dumps(message_to_dict(_checked(m))) for m in messages]  # all checked before anything is written
        with self.LOCK:
            self.TABLE.setdefault(self._row(), []).extend(rows)

    def clear(self) -> None:
        with self.LOCK:
            self.TABLE.pop(self._row(), None)


def _checked(message: object) -> BaseMessage:
    if not isinstance(message, BaseMessage):
        raise TypeError(f"not a LangChain message: {type(message).__name__}")
    return message


def session_history() -> HistoryStore:
    """A fresh table per store, through the kit's own history wrapper (session ids as keys)."""
    SessionHistory.TABLE.clear()
    return history_factory(SessionHistory)()


class FoldsSessionIds(SessionHistory):
    """Session ids compared case-insensitively and stripped: ``" A"`` is ``"a"``."""

    def _row(self) -> str:
        return self.session_id.strip().lower()


def folds_session_ids() -> HistoryStore:
    FoldsSessionIds.TABLE.clear()
    return history_factory(FoldsSessionIds)()


class DropsFields(SessionHistory):
    """Keeps type, content, role and ``additional_kwargs``, and drops the rest: tool calls, ids, names,
    response and usage metadata, artifacts (what a table with a few columns does)."""

    KEPT: ClassVar[tuple[str, ...]] = ("type", "content", "additional_kwargs", "role", "tool_call_id")

    def add_messages(self, messages: Sequence[BaseMessage]) -> None:
        rows = [message_to_dict(_checked(m)) for m in messages]
        for row in rows:
            row["data"] = {k: v for k, v in row["data"].items() if k in self.KEPT}
        with self.LOCK:
            self.TABLE.setdefault(self._row(), []).extend(json.dumps(row) for row in rows)


def drops_fields() -> HistoryStore:
    DropsFields.TABLE.clear()
    return history_factory(DropsFields)()


class SplitsBatches(SessionHistory):
    """Appends a batch one message at a time, letting other threads in between."""

    def add_messages(self, messages: Sequence[BaseMessage]) -> None:
        for message in messages:
            super().add_messages([message])
            time.sleep(0)


def splits_batches() -> HistoryStore:
    SplitsBatches.TABLE.clear()
    return history_factory(SplitsBatches)()


class ByConversation(SessionHistory):
    """Keyed by a ``conversation_id`` given by position (not ``session_id``), which it formats into its row
    name without checking: ``1`` and ``"1"`` are one conversation. The adapter passes the key through, so
    BAD-001 sees the history's own (missing) check."""

    def __init__(self, conversation_id: str) -> None:
        self.session_id = f"conv:{conversation_id}"


def any_key_by_position() -> HistoryStore:
    ByConversation.TABLE.clear()
    return history_factory(ByConversation)()
