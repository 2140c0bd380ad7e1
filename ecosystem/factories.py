"""Small factories that adapt published backends' constructors to the kit's target contract.

The ecosystem matrix (``python -m ecosystem``) names these as targets.
Each builds a store per call, taking only what the kit injects (``ttl``,
``redis_url``, ``namespace``) and what the matrix provides through the environment
(``CHATSTORE_POSTGRES_URL``: a PostgreSQL server the matrix started; the PostgreSQL factories
take ``proxied``, so the faults clauses put the kit's fault proxy in front of it). Every adaptation
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

import contextlib
import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # langchain-core is only in the LangChain backends' environments
    from pytest_chatstore.adapters.langchain import HistoryStore


def _postgres_url(proxied: Any = None) -> str:
    """The matrix's PostgreSQL, reached through ``proxied`` (the kit's fault proxy in the faults clauses)."""
    from pytest_chatstore.servers.proxy import proxied_url

    url = _endpoint("CHATSTORE_POSTGRES_URL")
    return url if proxied is None else proxied_url(url, proxied, default_port=5432)


def _endpoint(name: str) -> str:
    """What the matrix set ``name`` to when it started the server (or stand-in) the factories need."""
    url = os.environ.get(name)
    if not url:
        raise RuntimeError(f"{name} is not set: the ecosystem matrix starts its server and sets it")
    return url


def _table(namespace: str) -> str:
    return "chatstore_" + "".join(c if c.isalnum() else "_" for c in namespace).lower()


def _sqlite_file(namespace: str) -> Path:
    """The namespace's SQLite file, in the temporary directory the matrix gives each row and removes after it
    (the same path in every process of the run, as the worker-process clauses need)."""
    return Path(tempfile.gettempdir()) / f"chatstore-sqlite-{namespace}.db"


def llamaindex_sqlite(namespace: str) -> Any:
    """LlamaIndex ``SQLiteChatStore`` on the namespace's database file."""
    from llama_index.storage.chat_store.sqlite import SQLiteChatStore

    return SQLiteChatStore.from_uri(f"sqlite+aiosqlite:///{_sqlite_file(namespace)}")


def llamaindex_postgres(namespace: str, proxied: Any = None) -> Any:
    """LlamaIndex ``PostgresChatStore`` on the namespace's table of the matrix's PostgreSQL."""
    from llama_index.storage.chat_store.postgres import PostgresChatStore

    url = _postgres_url(proxied)
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


def langchain_postgres(namespace: str, proxied: Any = None) -> Iterator[HistoryStore]:
    """langchain-postgres ``PostgresChatMessageHistory`` on the namespace's table; keys become ``uuid5`` session
    ids."""
    import psycopg
    from langchain_postgres import PostgresChatMessageHistory

    from pytest_chatstore.adapters.langchain import history_factory

    table = _table(namespace)
    connection = psycopg.connect(_postgres_url(proxied), autocommit=True)
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


def _seconds(ttl: float | None) -> int | None:
    """The kit's ttl in whole seconds, as these stores take it (``ttl_seconds``, Redis ``EXPIRE``)."""
    return None if ttl is None else max(1, round(ttl))


_AWS = {"region_name": "us-east-1", "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
"""moto accepts any credentials; these keep boto3 from looking for real ones."""


def _dynamodb_table(namespace: str, key: str) -> str:
    """A table per namespace on the matrix's moto server (created once; another instance finds it)."""
    import boto3

    name = _table(namespace)
    client = boto3.client("dynamodb", endpoint_url=_endpoint("CHATSTORE_DYNAMODB_URL"), **_AWS)
    with contextlib.suppress(client.exceptions.ResourceInUseException):
        client.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    return name


def llamaindex_dynamodb(namespace: str, ttl: float | None = None) -> Any:
    """LlamaIndex ``DynamoDBChatStore`` on a table of the namespace; the kit's ``ttl`` is its ``ttl_seconds``."""
    from llama_index.storage.chat_store.dynamodb import DynamoDBChatStore

    endpoint = {"endpoint_url": _endpoint("CHATSTORE_DYNAMODB_URL")}
    return DynamoDBChatStore(
        table_name=_dynamodb_table(namespace, "SessionId"),
        **_AWS,
        session_kwargs=dict(_AWS),
        resource_kwargs=endpoint,
        ttl_seconds=_seconds(ttl),
    )


def langchain_dynamodb(namespace: str, ttl: float | None = None) -> HistoryStore:
    """langchain-community ``DynamoDBChatMessageHistory`` on a table of the namespace (``ttl`` as its ``ttl``)."""
    import boto3
    from langchain_community.chat_message_histories import DynamoDBChatMessageHistory

    from pytest_chatstore.adapters.langchain import history_factory

    session = boto3.Session(**_AWS)
    return history_factory(
        DynamoDBChatMessageHistory,
        table_name=_dynamodb_table(namespace, "SessionId"),
        endpoint_url=_endpoint("CHATSTORE_DYNAMODB_URL"),
        boto3_session=session,
        ttl=_seconds(ttl),
    )()


def llamaindex_azure(namespace: str) -> Any:
    """LlamaIndex ``AzureChatStore`` on Azurite's table service: a chat table and a metadata table per
    namespace (the store creates them)."""
    from llama_index.storage.chat_store.azure import AzureChatStore

    table = "t" + uuid.uuid5(uuid.NAMESPACE_URL, namespace).hex[:20]
    return AzureChatStore.from_connection_string(
        _endpoint("CHATSTORE_AZURITE_CONNECTION"), chat_table_name=f"{table}chat", metadata_table_name=f"{table}meta"
    )


def llamaindex_upstash(redis_url: str, ttl: float | None = None) -> Any:
    """LlamaIndex ``UpstashChatStore`` through :mod:`ecosystem.upstash`, the REST bridge to the kit's real Redis.

    The token names the Redis database the kit emptied for this store."""
    from llama_index.storage.chat_store.upstash import UpstashChatStore

    from ecosystem.upstash import bridge_url

    return UpstashChatStore(redis_url=bridge_url(), redis_token=redis_url, ttl=_seconds(ttl))


def langchain_upstash(redis_url: str, ttl: float | None = None) -> HistoryStore:
    """langchain-community ``UpstashRedisChatMessageHistory`` through the same bridge."""
    from langchain_community.chat_message_histories import UpstashRedisChatMessageHistory

    from ecosystem.upstash import bridge_url
    from pytest_chatstore.adapters.langchain import history_factory

    return history_factory(UpstashRedisChatMessageHistory, url=bridge_url(), token=redis_url, ttl=_seconds(ttl))()


def llamaindex_yugabytedb(namespace: str, proxied: Any = None) -> Any:
    """LlamaIndex ``YugabyteDBChatStore`` on the matrix's PostgreSQL, through its ``connection_string``
    with SQLAlchemy's PostgreSQL dialect and the psycopg2 of its own driver (``psycopg2-yugabytedb``).
    Its ``yugabytedb+psycopg2`` dialect refuses a server whose ``version()`` has no ``-YB-`` in it
    (``AttributeError: 'NoneType' object has no attribute 'group'``), so that dialect is not what runs;
    the store's SQL, which YSQL shares with PostgreSQL, is."""
    from llama_index.storage.chat_store.yugabytedb import YugabyteDBChatStore

    return YugabyteDBChatStore.from_params(
        connection_string=_postgres_url(proxied).replace("postgresql://", "postgresql+psycopg2://"),
        table_name=_table(namespace),
    )


def _google_engine(engine_class: Any, proxied: Any) -> Any:
    url = _postgres_url(proxied).replace("postgresql://", "postgresql+asyncpg://")
    # AlloyDB's engine names it from_connection_string, Cloud SQL's from_engine_args: the same thing.
    build = getattr(engine_class, "from_connection_string", None) or engine_class.from_engine_args
    return build(url)


def _google_store(engine_class: Any, store_class: Any, namespace: str, proxied: Any) -> Any:
    engine = _google_engine(engine_class, proxied)
    table = _table(namespace)
    with contextlib.suppress(Exception):  # another instance of the namespace made it
        engine.init_chat_store_table(table_name=table)
    return store_class.create_sync(engine=engine, table_name=table)


def llamaindex_alloydb(namespace: str, proxied: Any = None) -> Any:
    """LlamaIndex ``AlloyDBChatStore`` (llama-index-alloydb-pg) on the matrix's PostgreSQL, through
    ``AlloyDBEngine.from_connection_string``: the engine's usual constructor connects through Google's
    connector, which needs an AlloyDB instance; this one takes a plain SQLAlchemy URL (asyncpg), with the
    engine's own background event loop for the sync methods (``from_engine`` has none)."""
    from llama_index_alloydb_pg import AlloyDBChatStore, AlloyDBEngine

    return _google_store(AlloyDBEngine, AlloyDBChatStore, namespace, proxied)


def llamaindex_cloud_sql(namespace: str, proxied: Any = None) -> Any:
    """LlamaIndex ``PostgresChatStore`` of llama-index-cloud-sql-pg on the matrix's PostgreSQL, through
    ``PostgresEngine.from_engine_args`` (as for AlloyDB)."""
    from llama_index_cloud_sql_pg import PostgresChatStore, PostgresEngine

    return _google_store(PostgresEngine, PostgresChatStore, namespace, proxied)


_MONGO: dict[str, Any] = {}
"""mongomock keeps its data per client object: one client per process, so instances of a namespace share."""


def llamaindex_mongo(namespace: str, ttl: float | None = None) -> Any:
    """LlamaIndex ``MongoChatStore`` on mongomock (sync) and mongomock-motor (async), a database per namespace;
    the kit's ``ttl`` is its ``ttl_seconds``. An emulator: see the row's notes."""
    import mongomock
    from llama_index.storage.chat_store.mongo import MongoChatStore
    from mongomock_motor import AsyncMongoMockClient

    client = _MONGO.setdefault("sync", mongomock.MongoClient())
    aclient = _MONGO.setdefault("async", AsyncMongoMockClient(mock_mongo_client=client))  # the same data
    name = _table(namespace)
    return MongoChatStore(
        db_name=name,
        mongo_client=client,
        amongo_client=aclient,
        collection=client[name]["sessions"],
        async_collection=aclient[name]["sessions"],
        ttl_seconds=_seconds(ttl),
    )


def langchain_mongo(namespace: str) -> HistoryStore:
    """langchain-mongodb ``MongoDBChatMessageHistory`` on mongomock, a database per namespace."""
    import mongomock
    from langchain_mongodb import MongoDBChatMessageHistory

    from pytest_chatstore.adapters.langchain import history_factory

    client = _MONGO.setdefault("sync", mongomock.MongoClient())
    return history_factory(
        MongoDBChatMessageHistory, connection_string=None, database_name=_table(namespace), client=client
    )()


# -- the OpenAI Agents SDK's sessions (one session per conversation key: pytest_chatstore.adapters.agents) -----


def agents_sqlite_file(namespace: str) -> Any:
    """Agents SDK ``SQLiteSession`` on the namespace's database file (the class alone, ``agents:SQLiteSession``, is
    the in-memory row: each session its own ``:memory:`` database)."""
    from agents.memory import SQLiteSession

    from pytest_chatstore.adapters.agents import session_factory

    return session_factory(SQLiteSession, db_path=str(_sqlite_file(namespace)))()


def _sqlalchemy_sessions(url: str, namespace: str) -> Any:
    from agents.extensions.memory import SQLAlchemySession
    from sqlalchemy.ext.asyncio import create_async_engine

    from pytest_chatstore.adapters.agents import session_factory

    table = _table(namespace)
    return session_factory(
        SQLAlchemySession,
        engine=create_async_engine(url),
        create_tables=True,
        sessions_table=f"{table}_sessions",
        messages_table=f"{table}_messages",
    )()


def agents_sqlalchemy_sqlite(namespace: str) -> Any:
    """Agents SDK ``SQLAlchemySession`` on the namespace's SQLite file (aiosqlite), one engine per store."""
    return _sqlalchemy_sessions(f"sqlite+aiosqlite:///{_sqlite_file(namespace)}", namespace)


def agents_sqlalchemy_postgres(namespace: str, proxied: Any = None) -> Any:
    """Agents SDK ``SQLAlchemySession`` on the matrix's PostgreSQL (asyncpg), tables named after the namespace."""
    return _sqlalchemy_sessions(_postgres_url(proxied).replace("postgresql://", "postgresql+asyncpg://"), namespace)


def agents_redis(redis_url: str, namespace: str) -> Any:
    """Agents SDK ``RedisSession`` on the kit's Redis database, its key prefix named after the namespace."""
    from agents.extensions.memory import RedisSession

    from pytest_chatstore.adapters.agents import session_factory

    return session_factory(lambda sid: RedisSession.from_url(sid, url=redis_url, key_prefix=f"{namespace}:s"))()


def agents_encrypted(namespace: str) -> Any:
    """Agents SDK ``EncryptedSession`` over a ``SQLiteSession`` on the namespace's file (a fixed test key)."""
    from agents.extensions.memory import EncryptedSession
    from agents.memory import SQLiteSession

    from pytest_chatstore.adapters.agents import session_factory

    path = str(_sqlite_file(namespace))

    def make(sid: str) -> Any:
        return EncryptedSession(sid, SQLiteSession(sid, db_path=path), encryption_key="chatstore-matrix-key")

    return session_factory(make)()


def _adk_store(service: Any, namespace: str) -> Any:
    from pytest_chatstore.adapters.adk import ServiceStore

    return ServiceStore(service, app_name=namespace)


def adk_sqlite_file(namespace: str) -> Any:
    """Google ADK ``SqliteSessionService`` on the namespace's database file, the namespace as the app name (the
    class alone, ``google.adk.sessions:InMemorySessionService``, is the in-memory row)."""
    from google.adk.sessions.sqlite_session_service import SqliteSessionService

    return _adk_store(SqliteSessionService(db_path=str(_sqlite_file(namespace))), namespace)


def adk_database_sqlite(namespace: str) -> Any:
    """Google ADK ``DatabaseSessionService`` (SQLAlchemy) on the namespace's SQLite file (aiosqlite)."""
    from google.adk.sessions import DatabaseSessionService

    return _adk_store(DatabaseSessionService(db_url=f"sqlite+aiosqlite:///{_sqlite_file(namespace)}"), namespace)


def adk_database_postgres(namespace: str, proxied: Any = None) -> Any:
    """Google ADK ``DatabaseSessionService`` on the matrix's PostgreSQL (asyncpg): ADK's own tables, shared by
    every run, each store's conversations under the namespace as the app name."""
    from google.adk.sessions import DatabaseSessionService

    url = _postgres_url(proxied).replace("postgresql://", "postgresql+asyncpg://")
    return _adk_store(DatabaseSessionService(db_url=url), namespace)
