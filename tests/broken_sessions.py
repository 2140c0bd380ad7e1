"""Agents SDK sessions for the adapter's tests: one with a bug the kit must see through the adapter."""

from __future__ import annotations

import itertools
import os
import tempfile
from pathlib import Path
from typing import Any

from agents.memory import SQLiteSession

from pytest_chatstore.adapters.agents import session_factory


class PopsOldest(SQLiteSession):
    """``pop_item`` removes and returns the oldest item, not the most recent (DLL-001)."""

    async def pop_item(self) -> Any:
        items = await self.get_items()
        if not items:
            return None
        await self.clear_session()
        await self.add_items(items[1:])
        return items[0]


_FILES = tempfile.TemporaryDirectory(prefix="chatstore-sessions-")
"""Where :func:`on_file`'s database files go: one directory for the process, removed when it exits (created at
import, in the process that names the target, so that forked children write into it and leave nothing behind)."""
_NUMBERS = itertools.count()


def on_file(tmp: str = "") -> Any:
    """``session_factory`` with a keyword for every session: one database file per store."""
    path = Path(_FILES.name) / f"sessions-{os.getpid()}-{next(_NUMBERS)}.db"
    return session_factory(SQLiteSession, db_path=str(path))()


class ListSession:
    """A correct Agents SDK session on a plain list (the ``Session`` protocol, nothing more): the baseline the two
    tail-read bugs below are made from. A limit of 0 or less reads nothing, which TAL-002 allows."""

    def __init__(self, session_id: str) -> None:
        self.session_id = session_id
        self._items: list[Any] = []  # the adapter makes one session per key and reuses it

    async def get_items(self, limit: int | None = None) -> list[Any]:
        if limit is None:
            return list(self._items)
        return list(self._items[-limit:]) if limit > 0 else []

    async def add_items(self, items: list[Any]) -> None:
        self._items.extend(items)

    async def pop_item(self) -> Any:
        return self._items.pop() if self._items else None

    async def clear_session(self) -> None:
        self._items.clear()


class TailFromOldest(ListSession):
    """TAL-001: ``get_items(limit)`` answers the *oldest* ``limit`` items (``ORDER BY id ASC LIMIT n``)."""

    async def get_items(self, limit: int | None = None) -> list[Any]:
        if limit is None or limit <= 0:
            return await super().get_items(limit)
        return list(self._items[:limit])


class ZeroLimitReadsAll(ListSession):
    """TAL-002: ``get_items(0)`` answers everything: ``items[-limit:]`` with ``limit == 0`` is ``items[0:]``."""

    async def get_items(self, limit: int | None = None) -> list[Any]:
        if limit is None or limit < 0:
            return await super().get_items(limit)
        return list(self._items[-limit:])


def list_sessions() -> Any:
    """The correct list session, as a factory."""
    return session_factory(ListSession)()


def tail_from_oldest() -> Any:
    return session_factory(TailFromOldest)()


def zero_limit_reads_all() -> Any:
    return session_factory(ZeroLimitReadsAll)()
