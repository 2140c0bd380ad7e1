"""Small factories that adapt published backends' constructors to the kit's target contract.

The ecosystem matrix (``python -m ecosystem``) names these as targets.
Each builds a fresh, empty store per call, taking only what the kit injects (``ttl``,
``redis_url``) and what the matrix provides through the environment
(``CHATSTORE_POSTGRES_URL``: a PostgreSQL server the matrix started). Every adaptation
is written down here, so a reader can judge whether a failure is the backend's or ours:

- a temporary SQLite file per store (SQLite backends);
- a fresh table per store on the matrix's PostgreSQL (Postgres backends);
- for langchain-postgres, session ids must be UUIDs: the key is mapped to ``uuid5(key)``,
  which keeps different keys different.

Nothing here is imported by the kit itself; each factory imports its backend when called.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # langchain-core is only in the LangChain backends' environments
    from pytest_chatstore.adapters.langchain import HistoryStore


def _postgres_url() -> str:
    url = os.environ.get("CHATSTORE_POSTGRES_URL")
    if not url:
        raise RuntimeError("CHATSTORE_POSTGRES_URL is not set: the ecosystem matrix starts PostgreSQL and sets it")
    return url


def _table() -> str:
    return f"chatstore_{uuid.uuid4().hex[:12]}"


def llamaindex_sqlite() -> Iterator[Any]:
    """LlamaIndex ``SQLiteChatStore`` on a temporary database file."""
    from llama_index.storage.chat_store.sqlite import SQLiteChatStore

    with tempfile.TemporaryDirectory(prefix="chatstore-sqlite-") as tmp:
        yield SQLiteChatStore.from_uri(f"sqlite+aiosqlite:///{Path(tmp) / 'chat.db'}")


def llamaindex_postgres() -> Any:
    """LlamaIndex ``PostgresChatStore`` on a fresh table of the matrix's PostgreSQL."""
    from llama_index.storage.chat_store.postgres import PostgresChatStore

    url = _postgres_url()
    return PostgresChatStore.from_uri(uri=url.replace("postgresql://", "postgresql+asyncpg://"), table_name=_table())


def langchain_sql() -> Iterator[HistoryStore]:
    """langchain-community ``SQLChatMessageHistory`` on a temporary SQLite file."""
    from langchain_community.chat_message_histories import SQLChatMessageHistory

    from pytest_chatstore.adapters.langchain import history_factory

    with tempfile.TemporaryDirectory(prefix="chatstore-sqlite-") as tmp:
        connection = f"sqlite:///{Path(tmp) / 'chat.db'}"

        def make(session_id: str) -> Any:
            return SQLChatMessageHistory(session_id=session_id, connection=connection)

        yield history_factory(make)()


def langchain_postgres() -> Iterator[HistoryStore]:
    """langchain-postgres ``PostgresChatMessageHistory`` on a fresh table; keys become ``uuid5`` session ids."""
    import psycopg
    from langchain_postgres import PostgresChatMessageHistory

    from pytest_chatstore.adapters.langchain import history_factory

    table = _table()
    connection = psycopg.connect(_postgres_url(), autocommit=True)
    try:
        PostgresChatMessageHistory.create_tables(connection, table)

        def make(session_id: str) -> Any:
            if not isinstance(session_id, str):
                raise TypeError(f"key must be a str, not {type(session_id).__name__}")
            session = str(uuid.uuid5(uuid.NAMESPACE_URL, session_id))
            return PostgresChatMessageHistory(table, session, sync_connection=connection)

        yield history_factory(make)()
    finally:
        connection.close()
