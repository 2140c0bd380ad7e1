"""Google ADK session services for the adapter's tests: ones with a bug the kit must see through the adapter."""

from __future__ import annotations

from typing import Any

from google.adk.sessions import InMemorySessionService
from google.adk.sessions.base_session_service import GetSessionConfig


class TailFromOldest(InMemorySessionService):
    """TAL-001: ``num_recent_events=n`` keeps the *oldest* ``n`` events (``ORDER BY timestamp ASC LIMIT n``)."""

    async def get_session(self, *, config: GetSessionConfig | None = None, **where: Any) -> Any:
        session = await super().get_session(**where)
        if session is not None and config is not None and config.num_recent_events is not None:
            session.events = session.events[: config.num_recent_events]
        return session


class ListsDeletedSessions(InMemorySessionService):
    """KEY-001: ``delete_session`` forgets the events but ``list_sessions`` goes on listing the session."""

    async def delete_session(self, *, app_name: str, user_id: str, session_id: str) -> None:
        session = self.sessions.get(app_name, {}).get(user_id, {}).get(session_id)
        if session is not None:
            session.events.clear()
