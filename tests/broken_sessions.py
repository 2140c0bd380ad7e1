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
