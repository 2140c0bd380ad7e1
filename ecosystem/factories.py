"""Small factories that adapt published backends' constructors to the kit's target contract.

The ecosystem matrix (``python -m ecosystem``) names these as targets.
Each builds a store per call, taking only what the kit injects (``ttl``,
``redis_url``, ``namespace``) and what the matrix provides through the environment
(``CHATSTORE_POSTGRES_URL``: a PostgreSQL server the matrix started). Every adaptation
is written down here, so a reader can judge whether a failure is the backend's or ours:

- the kit's ``namespace`` names the backend's data: a new namespace is a new SQLite file in the
  temporary directory, or a new table on the matrix's PostgreSQL; the same namespace (another
  instance, a reopened store, a worker process) is the same file or table. So the clauses on
  several instances and worker processes (spec 0.4) apply to these backends. The files are left
  in the temporary directory (a reopened store needs them after the first one closed);
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


def _table(namespace: str) -> str:
    return "chatstore_" + "".join(c if c.isalnum() else "_" for c in namespace).lower()


def _sqlite_file(namespace: str) -> Path:
    return Path(tempfile.gettempdir()) / f"chatstore-sqlite-{namespace}.db"


def llamaindex_sqlite(namespace: str) -> Any:
    """LlamaIndex ``SQLiteChatStore`` on the namespace's database file."""
    from llama_index.storage.chat_store.sqlite import SQLiteChatStore

    return SQLiteChatStore.from_uri(f"sqlite+aiosqlite:///{_sqlite_file(namespace)}")


def llamaindex_postgres(namespace: str) -> Any:
    """LlamaIndex ``PostgresChatStore`` on the namespace's table of the matrix's PostgreSQL."""
    from llama_index.storage.chat_store.postgres import PostgresChatStore

    url = _postgres_url()
    return PostgresChatStore.from_uri(
        uri=url.replace("postgresql://", "postgresql+asyncpg://"), table_name=_table(namespace)
    )


def langchain_sql(namespace: str) -> HistoryStore:
    """langchain-community ``SQLChatMessageHistory`` on the namespace's SQLite file."""
    from langchain_community.chat_message_histories import SQLChatMessageHistory

    from pytest_chatstore.adapters.langchain import history_factory

    connection = f"sqlite:///{_sqlite_file(namespace)}"

    def make(session_id: str) -> Any:
        return SQLChatMessageHistory(session_id=session_id, connection=connection)

    return history_factory(make)()


def langchain_postgres(namespace: str) -> Iterator[HistoryStore]:
    """langchain-postgres ``PostgresChatMessageHistory`` on the namespace's table; keys become ``uuid5`` session
    ids."""
    import psycopg
    from langchain_postgres import PostgresChatMessageHistory

    from pytest_chatstore.adapters.langchain import history_factory

    table = _table(namespace)
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
