"""Agents SDK sessions for the adapter's tests: one with a bug the kit must see through the adapter."""

from __future__ import annotations

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


def on_file(tmp: str = "") -> Any:
    """``session_factory`` with a keyword for every session: one database file per store."""
    import tempfile
    from pathlib import Path

    path = Path(tempfile.mkdtemp(prefix="chatstore-sessions-")) / "sessions.db"
    return session_factory(SQLiteSession, db_path=str(path))()
