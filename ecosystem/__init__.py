"""The ecosystem matrix: the kit pointed at the chat-store backends people use, and the result published.

``python -m ecosystem`` creates an isolated virtual environment per
backend package (under ``.ecosystem/``), starts the servers they need on loopback (a
local ``redis-server`` through the kit's own provisioning; PostgreSQL from the machine's
packages, initialised in a temporary directory), runs the suite against each backend with
``--chatstore-report``, and regenerates ``docs/ecosystem.md`` from the reports and from
:data:`NOTES`, the reviewed judgement of every failure.

Factories that adapt a backend's constructor live in :mod:`ecosystem.factories`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Backend:
    """One row of the matrix."""

    name: str
    ecosystem: str
    target: str
    """``MODULE:ATTR`` as given to ``--chatstore`` (a factory in :mod:`.factories` where adapting was needed)."""
    packages: tuple[str, ...]
    """What ``pip install`` needs beyond the kit, in the backend's own environment."""
    distribution: str
    """The distribution whose version the row names."""
    needs: tuple[str, ...] = ()
    """Servers: ``redis``, ``redis-stack``, ``postgres``, ``dynamodb`` (moto), ``azurite``."""
    not_run: str = ""
    """Why the row cannot run here (then it is listed, not run)."""
    extra_args: tuple[str, ...] = field(default=())
    """Further options for this backend's run, such as a capability declaration."""
    why: str = ""
    """Why the matrix passes :attr:`extra_args` (shown on the page)."""
    pinned: str = ""
    """Why this row pins a dependency (shown on the page)."""
    emulator: str = ""
    """What stands in for the backend's service here, when it is not the real one (shown on the page)."""


@dataclass(frozen=True)
class Artifact:
    """A failure that the emulator a row runs on causes, not the store: marked on the page, not counted.

    It is tied to the failure's text, not only to the clause: a failure of the same clause whose text
    :attr:`matches` does not match is shown as the store's own (unreviewed until it gets a note), so a
    real bug in the same clause is never hidden behind the emulator's.
    """

    matches: str
    """A regular expression searched for in the clause's failure report (what happened, the operations)."""
    why: str
    """What the emulator does differently from the real service, and how we know."""


_ONE_APPEND_PER_MESSAGE = ("--chatstore-timeout=120",)
_ONE_APPEND_PER_MESSAGE_WHY = (
    "the service has no batch write, so the adapter's replace is one `append_event` per message (a transaction "
    "each): FID-004's 5,000-message replace takes about 40 s, past the 10 s the matrix allows a call"
)
_ONE_PROCESS_NO_THREADS = ("--chatstore-capabilities=-threads,-processes",)
_MONGOMOCK = (
    "mongomock is not thread-safe and lives in one process: the concurrency and worker-process clauses would "
    "test the emulator, so they are probed, not gated"
)

BACKENDS: tuple[Backend, ...] = (
    Backend(
        "InMemoryChatStore (ours)",
        "control",
        "reference_impls.memory:InMemoryChatStore",
        (),
        "pytest-chatstore",
    ),
    Backend(
        "RedisChatStore (ours)",
        "control",
        "reference_impls.redis:RedisChatStore",
        ("redis>=5",),
        "pytest-chatstore",
        ("redis",),
    ),
    Backend(
        "SimpleChatStore",
        "LlamaIndex",
        "llama_index.core.storage.chat_store:SimpleChatStore",
        ("llama-index-core",),
        "llama-index-core",
        extra_args=("--chatstore-capabilities=-threads",),
        why="a plain dict of lists, not documented as thread-safe: the concurrency clauses are probed, not gated",
    ),
    Backend(
        "RedisChatStore",
        "LlamaIndex",
        "llama_index.storage.chat_store.redis:RedisChatStore",
        ("llama-index-storage-chat-store-redis",),
        "llama-index-storage-chat-store-redis",
        ("redis",),
    ),
    Backend(
        "SQLiteChatStore",
        "LlamaIndex",
        "ecosystem.factories:llamaindex_sqlite",
        ("llama-index-storage-chat-store-sqlite",),
        "llama-index-storage-chat-store-sqlite",
    ),
    Backend(
        "PostgresChatStore",
        "LlamaIndex",
        "ecosystem.factories:llamaindex_postgres",
        ("llama-index-storage-chat-store-postgres",),
        "llama-index-storage-chat-store-postgres",
        ("postgres",),
    ),
    Backend(
        "InMemoryChatMessageHistory",
        "LangChain",
        "langchain_core.chat_history:InMemoryChatMessageHistory",
        ("langchain-core",),
        "langchain-core",
        extra_args=("--chatstore-capabilities=-threads",),
        why="a plain list, not documented as thread-safe: the concurrency clauses are probed, not gated",
    ),
    Backend(
        "RedisChatMessageHistory (community)",
        "LangChain",
        "langchain_community.chat_message_histories:RedisChatMessageHistory",
        ("langchain-community", "redis>=5"),
        "langchain-community",
        ("redis",),
    ),
    Backend(
        "SQLChatMessageHistory (community, SQLite)",
        "LangChain",
        "ecosystem.factories:langchain_sql",
        ("langchain-community", "sqlalchemy[asyncio]", "aiosqlite"),
        "langchain-community",
        extra_args=("--chatstore-capabilities=-async",),
        why="built on a sync connection, as here, its async methods refuse by design (async needs an async "
        "engine, a separate configuration)",
    ),
    Backend(
        "PostgresChatMessageHistory",
        "LangChain",
        "ecosystem.factories:langchain_postgres",
        ("langchain-postgres", "psycopg[binary]"),
        "langchain-postgres",
        ("postgres",),
        extra_args=("--chatstore-capabilities=-async",),
        why='built on a sync connection, as here, its async methods refuse by design ("initialize with an '
        'async connection"), a separate configuration',
    ),
    Backend(
        "RedisChatMessageHistory (langchain-redis)",
        "LangChain",
        "langchain_redis:RedisChatMessageHistory",
        ("langchain-redis",),
        "langchain-redis",
        ("redis-stack",),
    ),
    Backend(
        "RedisChatMessageHistory (langchain-redis, redis-py 7)",
        "LangChain",
        "langchain_redis:RedisChatMessageHistory",
        ("langchain-redis", "redis>=6.3,<8"),
        "langchain-redis",
        ("redis-stack",),
        pinned="redis-py 7, to check the history's own logic: with redis-py 8, which pip installs today, every "
        "history after the first fails to build (see the row above)",
    ),
    Backend(
        "DynamoDBChatStore",
        "LlamaIndex",
        "ecosystem.factories:llamaindex_dynamodb",
        ("llama-index-storage-chat-store-dynamodb", "aioboto3"),
        "llama-index-storage-chat-store-dynamodb",
        ("dynamodb",),
        extra_args=("--chatstore-budget=480",),
        why="every store is a fresh table in moto, 0.11 s to build, and the clauses build about 2,000: the default "
        "budget stopped the run after 45 of 63 clauses",
        emulator="moto",
    ),
    Backend(
        "DynamoDBChatMessageHistory",
        "LangChain",
        "ecosystem.factories:langchain_dynamodb",
        ("langchain-community", "boto3"),
        "langchain-community",
        ("dynamodb",),
        emulator="moto",
    ),
    Backend(
        "AzureChatStore",
        "LlamaIndex",
        "ecosystem.factories:llamaindex_azure",
        ("llama-index-storage-chat-store-azure",),
        "llama-index-storage-chat-store-azure",
        ("azurite",),
        extra_args=("--chatstore-budget=480",),
        why="every sync call runs the async client in a new event loop (LlamaIndex's `asyncio_run`): 25 to 35 ms "
        "a call against Azurite here, so the floors of evidence need about 330 s, more than the default budget",
        emulator="Azurite",
    ),
    Backend(
        "UpstashChatStore",
        "LlamaIndex",
        "ecosystem.factories:llamaindex_upstash",
        ("llama-index-storage-chat-store-upstash", "redis>=5"),
        "llama-index-storage-chat-store-upstash",
        ("redis",),
        extra_args=("--chatstore-timeout=120", "--chatstore-budget=720"),
        why="`set_messages` makes one REST request per message, so SCL-002's 20,000 messages take about 35 s "
        "through the local bridge (1.7 ms a request; more over the internet to Upstash): past the matrix's "
        "10 s limit per call, which would report a hang and block every clause after it. The faults group "
        "replays each write under each fault through the bridge, at 6 to 16 ms a call: the default budget "
        "stopped the run in FLT-002",
        emulator="the kit's Upstash REST bridge over real Redis",
    ),
    Backend(
        "UpstashRedisChatMessageHistory",
        "LangChain",
        "ecosystem.factories:langchain_upstash",
        ("langchain-community", "upstash-redis", "redis>=5"),
        "langchain-community",
        ("redis",),
        extra_args=("--chatstore-budget=480",),
        why="the faults group replays each write under each fault through the REST bridge, several ms a call: "
        "more than the default budget",
        emulator="the kit's Upstash REST bridge over real Redis",
    ),
    Backend(
        "YugabyteDBChatStore",
        "LlamaIndex",
        "ecosystem.factories:llamaindex_yugabytedb",
        ("llama-index-storage-chat-store-yugabytedb",),
        "llama-index-storage-chat-store-yugabytedb",
        ("postgres",),
        emulator="PostgreSQL 15 in place of YugabyteDB",
    ),
    Backend(
        "AlloyDBChatStore",
        "LlamaIndex",
        "ecosystem.factories:llamaindex_alloydb",
        ("llama-index-alloydb-pg", "asyncpg"),
        "llama-index-alloydb-pg",
        ("postgres",),
        emulator="PostgreSQL 15 in place of AlloyDB",
    ),
    Backend(
        "PostgresChatStore (Cloud SQL)",
        "LlamaIndex",
        "ecosystem.factories:llamaindex_cloud_sql",
        ("llama-index-cloud-sql-pg", "asyncpg"),
        "llama-index-cloud-sql-pg",
        ("postgres",),
        emulator="PostgreSQL 15 in place of Cloud SQL",
    ),
    Backend(
        "MongoChatStore",
        "LlamaIndex",
        "ecosystem.factories:llamaindex_mongo",
        ("llama-index-storage-chat-store-mongo", "mongomock", "mongomock-motor"),
        "llama-index-storage-chat-store-mongo",
        emulator="mongomock",
        extra_args=_ONE_PROCESS_NO_THREADS,
        why=_MONGOMOCK,
    ),
    Backend(
        "MongoDBChatMessageHistory",
        "LangChain",
        "ecosystem.factories:langchain_mongo",
        ("langchain-mongodb", "mongomock"),
        "langchain-mongodb",
        emulator="mongomock",
        extra_args=_ONE_PROCESS_NO_THREADS,
        why=_MONGOMOCK,
    ),
    Backend(
        "TablestoreChatStore",
        "LlamaIndex",
        "llama_index.storage.chat_store.tablestore:TablestoreChatStore",
        ("llama-index-storage-chat-store-tablestore",),
        "llama-index-storage-chat-store-tablestore",
        not_run="Alibaba Cloud Tablestore has no local emulator or server to run, and its client speaks only to "
        "Tablestore endpoints, so it cannot be run without a cloud account",
    ),
    Backend("SQLiteSession (in memory)", "Agents SDK", "agents:SQLiteSession", ("openai-agents",), "openai-agents"),
    Backend(
        "SQLiteSession (file)",
        "Agents SDK",
        "ecosystem.factories:agents_sqlite_file",
        ("openai-agents",),
        "openai-agents",
    ),
    Backend(
        "SQLAlchemySession (SQLite)",
        "Agents SDK",
        "ecosystem.factories:agents_sqlalchemy_sqlite",
        ("openai-agents[sqlalchemy]", "aiosqlite"),
        "openai-agents",
    ),
    Backend(
        "SQLAlchemySession (PostgreSQL)",
        "Agents SDK",
        "ecosystem.factories:agents_sqlalchemy_postgres",
        ("openai-agents[sqlalchemy]", "asyncpg"),
        "openai-agents",
        ("postgres",),
    ),
    Backend(
        "RedisSession",
        "Agents SDK",
        "ecosystem.factories:agents_redis",
        ("openai-agents[redis]",),
        "openai-agents",
        ("redis",),
    ),
    Backend(
        "EncryptedSession (over SQLiteSession)",
        "Agents SDK",
        "ecosystem.factories:agents_encrypted",
        ("openai-agents[encrypt]",),
        "openai-agents",
    ),
    Backend(
        "InMemorySessionService",
        "Google ADK",
        "google.adk.sessions:InMemorySessionService",
        ("google-adk",),
        "google-adk",
    ),
    Backend(
        "SqliteSessionService (file)",
        "Google ADK",
        "ecosystem.factories:adk_sqlite_file",
        ("google-adk",),
        "google-adk",
        extra_args=_ONE_APPEND_PER_MESSAGE,
        why=_ONE_APPEND_PER_MESSAGE_WHY,
    ),
    Backend(
        "DatabaseSessionService (SQLite)",
        "Google ADK",
        "ecosystem.factories:adk_database_sqlite",
        ("google-adk[db]", "aiosqlite"),
        "google-adk",
        extra_args=_ONE_APPEND_PER_MESSAGE,
        why=_ONE_APPEND_PER_MESSAGE_WHY,
    ),
    Backend(
        "DatabaseSessionService (PostgreSQL)",
        "Google ADK",
        "ecosystem.factories:adk_database_postgres",
        ("google-adk[db]", "asyncpg"),
        "google-adk",
        ("postgres",),
        extra_args=_ONE_APPEND_PER_MESSAGE,
        why=_ONE_APPEND_PER_MESSAGE_WHY,
    ),
)


_AGENTS_ROWS = (
    "SQLiteSession (in memory)",
    "SQLiteSession (file)",
    "SQLAlchemySession (SQLite)",
    "SQLAlchemySession (PostgreSQL)",
    "RedisSession",
    "EncryptedSession (over SQLiteSession)",
)
_AGENTS_BAD_ID = (
    "SHOULD. A session id that is not a `str` is accepted: `SQLiteSession(1)` binds it as an SQL parameter (a "
    "Redis key, a hash input), so `1` and `'1'` are one session. The protocol types ids as `str` and does not "
    "promise to check them."
)
_AGENTS_BAD_ITEM = (
    "SHOULD. `add_items(['hello'])` stores a string as an item (serialized as JSON), and it comes back as "
    "`'hello'`, which is not an item: code reading the history fails far from the cause."
)
_AGENTS_NEGATIVE_LIMIT = (
    "SHOULD. `get_items(limit=-1)` returns every item: the limit goes into `LIMIT ?` unchecked and SQLite "
    "reads a negative limit as none (`agents/memory/sqlite_session.py` and "
    "`agents/extensions/memory/sqlalchemy_session.py`, `get_items`). An agent that computes a limit from a "
    "token budget and goes below zero sends the model the whole history."
)
_ADK_STRIPPED_IDS = (
    "Real bug, by a design choice. The service strips session ids (`session_id.strip()` in "
    "`google/adk/sessions/in_memory_session_service.py`, `create_session` and `get_session`; "
    "`_resolve_session_id` in `sqlite_session_service.py`), so `'a'`, `' a'` and `'a '` are one session, and a "
    "whitespace-only id counts as none: `create_session` makes a random UUID, which `list_sessions` then lists. "
    "Ids are usually UUIDs, so few applications meet it; one that uses user-typed names merges conversations. "
    "`DatabaseSessionService` keeps ids as given and passes."
)
_ADK_STALE = (
    "By design, and a real failure for the caller. The persistent services refuse the second of two appends "
    "to one session that run at once with `StaleSessionError` ('The session has been modified in storage since "
    "it was loaded. Please reload the session before appending more events.'): optimistic concurrency, raised "
    "before anything is written, and ADK's runner does not reload and retry for a turn. Nothing is lost "
    "silently, but the second writer's message is not stored and its request fails. An application that runs "
    "one turn per session at a time never sees it; one that lets a user send two messages at once does."
)
_ADK_BAD_ID = (
    "SHOULD. A session id that is not a `str` fails inside the service with `AttributeError` (`'int' object "
    "has no attribute 'strip'`) or is accepted (the SQLAlchemy service binds it), not refused with `TypeError`."
)
_ADK_BAD_EVENT = (
    "SHOULD. `append_event(session, 'hello')` fails inside the service with `AttributeError` (`'str' object has "
    "no attribute 'partial'`), not with a `TypeError` naming the problem."
)
_ADK_ID_LENGTH = (
    "Real limit of the schema. Session ids are `VARCHAR(128)` (`DEFAULT_MAX_KEY_LENGTH = 128` in "
    "`google/adk/sessions/schemas/shared.py`), and PostgreSQL refuses a longer one (`value too long for type "
    "character varying(128)`), so a conversation under a 300-character key cannot be written. It fails loudly, "
    "not silently; on SQLite, which ignores the length, the same service passes."
)
_ADK_ROWS = (
    "InMemorySessionService",
    "SqliteSessionService (file)",
    "DatabaseSessionService (SQLite)",
    "DatabaseSessionService (PostgreSQL)",
)

_UPSTASH_RETRY = (
    "Real bug, in Upstash's client. `upstash_redis/http.py` (`SyncHttpClient.execute` and its async twin) sends a "
    "command again on any exception, once by default (`rest_retries=1`), including a connection closed after "
    "the server ran the command and before its answer came back. So a push whose reply was lost is pushed "
    "twice, and the conversation repeats a turn. Here the kit loses the reply between the REST bridge and Redis, "
    "and the bridge then closes the HTTP connection unanswered, which is what the client sees when its own "
    "connection to Upstash drops at that moment. Building the client with `rest_retries=0` (and retrying only "
    "reads) avoids it."
)
_GOOGLE_REPLACE = (
    "Real bug. `aset_messages` runs the DELETE and the INSERT as two transactions, each on its own connection "
    "and committed on its own (`__aexecute_query` twice, in `async_chat_store.py`), so a connection lost after "
    "the DELETE leaves the conversation emptied (16 of 128 faulted writes): the caller gets the error, but the "
    "history is gone. One transaction for both would leave the old conversation whole."
)
_SIMPLE_EMPTIED = (
    "Real bug. `delete_last_message` answers `None` for an unknown key but raises `IndexError: pop from "
    "empty list` for a conversation emptied by earlier deletes, so a caller that drains a conversation "
    "(`while store.delete_last_message(k): ...`) crashes."
)
_SIMPLE_NEGATIVE = (
    "Real bug. An index past the end answers `None` (`delete_message(k, 5)`), but a negative index past "
    "the start raises `IndexError` (`delete_message(k, -2)` on one message): out-of-range indices are "
    "handled on one side only."
)
_BAD_KEY = (
    "SHOULD. A key that is not a `str` (`set_messages(1, ...)`) is accepted and stored instead of refused "
    "with `TypeError`; a caller's type slip then writes to a conversation no `str` key reads. A SHOULD, "
    "not a MUST: the interface types keys as `str` but does not promise to check them."
)
_BAD_MESSAGE = (
    "SHOULD. A non-message (`add_message(k, 'hello')`) raises `AttributeError` from inside the store "
    "rather than a `TypeError` or `ValueError` that names the problem. Minor; a SHOULD."
)
_BAD_MESSAGE_STORED = (
    "SHOULD. A non-message (`'hello'`) is stored as is and comes back on the next read, where code "
    "expecting messages fails far from the cause."
)
_NEGATIVE_IGNORED = (
    "SHOULD. `delete_message(k, -1)` deletes nothing and answers `None`, where `list.pop(-1)` removes the "
    "last message. Negative indices are not documented by the interface, so this is a SHOULD."
)
_EMPTIED_LISTED = (
    "SHOULD. `get_keys` still lists a conversation whose messages were all deleted one by one; a UI "
    "listing conversations shows empty ones. Not a MUST: keeping an empty row is a defensible design."
)

_LCPG_SERIAL = (
    "Real bug. Messages are ordered by `id SERIAL` (`ORDER BY id`, `langchain_postgres/chat_message_histories.py`). "
    "A sequence hands out ids when the INSERT runs, not when it commits, so of two appends at once, the one with "
    "the smaller id may commit last: "
)

_DELETE_LAST_TWICE = (
    "Real bug. Threads calling `delete_last_message` on one conversation at once get the same message "
    "back more than once (reading and deleting the last row are not one atomic step)."
)

_DYNAMO_FLOAT = (
    "Real bug. A float anywhere in `additional_kwargs` (a score, a temperature, a cost) makes the write raise "
    "`TypeError: Float types are not supported. Use Decimal types instead.`: boto3's DynamoDB serializer takes "
    "only `Decimal`, and the store hands it the message dicts as they are. Its check also met a map entry "
    "whose key is the empty string, which moto answers with a response botocore cannot parse "
    "(`'bool' object has no attribute 'get'`): that part is an emulator artifact (whether DynamoDB itself "
    "accepts such a key was not checked here), the float is not."
)
_DYNAMO_DECIMAL = (
    "Real bug. Numbers in `additional_kwargs` come back as `decimal.Decimal` (boto3's deserializer): "
    "`{'i': 0}` is read back as `{'i': Decimal('0')}`, which is not equal and which `json.dumps` refuses. "
    "(Floats cannot be written at all: see SET-001.)"
)
_DYNAMO_ITEM = (
    "Real limit, by design of the store. The whole conversation is one DynamoDB item, and an item is at most "
    "400 KB (moto enforces DynamoDB's documented limit): once a conversation's JSON passes that, every write "
    "to it fails with `ValidationException: Item size has exceeded the maximum allowed size`."
)
_DYNAMO_ASYNC = (
    "Real bug. The async methods cannot work: `init_async_table()` is a coroutine that the async methods call "
    "without `await`, so `_atable` never exists and every async read or write raises `AttributeError`; and "
    "`adelete_last_message` returns an un-awaited coroutine instead of the message."
)
_DYNAMO_TTL = (
    "Real bug. The store writes an expiry attribute and leaves deletion to DynamoDB's TTL, which AWS documents "
    "as happening within a few days of expiry, not at it; reads and `get_keys` never look at the attribute, so "
    "an expired conversation is still read, listed and appended to (an append after expiry resurrects the old "
    "messages). moto does not delete expired items either, which is what DynamoDB does in the seconds that "
    "matter here."
)
_RMW_APPEND = (
    "Real bug. `add_message` reads the conversation, appends in Python and writes it all back, with no "
    "condition or transaction: threads appending at once overwrite each other and messages are lost."
)
_OWN_BY_FLOAT = (
    "Same root cause as SET-001: the check's draw put a float in `additional_kwargs`, and the write raised "
    "before the ownership rule could be checked. Not a separate bug; checked again once floats can be stored."
)
_LANGCHAIN_REDIS_8 = (
    "Real bug, with the dependencies pip installs today (redis-py 8.1, redisvl 0.28). Building a history when "
    "its search index already exists, that is every history after the first, parses `FT.INFO`'s "
    "`index_definition` as a list (`index_definition.index('prefixes')`), but redis-py 8 returns a dict: "
    "`AttributeError: 'dict' object has no attribute 'index'`. With redis-py 7 the same code works (the next "
    "row). langchain-redis allows redis-py 8 through redisvl's range."
)

_LCR = "RedisChatMessageHistory (langchain-redis, redis-py 7)"
_LCR_QUERY = (
    "Real bug. Reads find a session's messages with a RediSearch tag query built from the session id without "
    "escaping it: a tab is a syntax error (`RedisSearchError: Syntax error at offset 14 near session_id`), a "
    "leading space or a comma (the tag separator) silently matches nothing, so the history reads back empty."
)
_AZURE_SET = (
    "Real bug. `set_messages` deletes the conversation's entities and creates the new ones in one transaction, "
    "and a transaction may not touch one entity twice: replacing a conversation with one of the same length "
    "or shorter always fails (`InvalidDuplicateRow: A command with RowKey '0000000000' is already present in "
    "the batch`). Azure documents the same rule; Azurite enforces it."
)
_AZURE_EMPTY = (
    "Real bug. `set_messages(k, [])` on a conversation with nothing to delete submits an empty transaction, "
    "which the service refuses (Azurite answers `HttpResponseError` with no error code; Azure documents a "
    "batch as 1 to 100 operations), so a conversation cannot be cleared that way."
)
_AZURE_KEY = (
    "Real bug. Keys become the entity's `PartitionKey` as they are, and are interpolated into an OData filter "
    "(`PartitionKey eq '{key}'`) unescaped. Azure Table keys may not contain `/`, `\\`, `#`, `?` or control "
    "characters, so such a key fails (Azurite answers 500 where Azure answers 400; the write fails either way), "
    "and a quote in a key breaks the query."
)
_AZURE_NONE = "Real bug. `delete_message` and `delete_last_message` return `None` instead of the removed message."
_AZURE_MISSING = (
    "Real bug. `delete_message(k, i)` and `delete_last_message(k)` on a conversation the store has never "
    "written first read the conversation's metadata entity (`metadata_client.get_entity`, `adelete_message` and "
    "`adelete_last_message` in `llama_index/storage/chat_store/azure/base.py`), which the service answers with "
    "`ResourceNotFoundError`: the interface's `None` for an unknown key becomes an exception."
)
_AZURE_RMW = (
    "Real bug. Inserting at an index rewrites the row keys after it, and appending computes the next row key "
    "from a count read first, with no transaction around the read: two writers at once both create the same "
    "row key (`EntityAlreadyExists`) or overwrite each other. The sync methods also run the async client "
    "through LlamaIndex's `asyncio_run`, which refuses to run inside a thread that already has an event loop "
    "(`Detected nested async`)."
)
_AZURE_SIZE = (
    "Real limit of the design. Every message is one entity, and all of a `set_messages` goes in one transaction: "
    "Azure caps an entity at 1 MiB and a transaction at 100 operations and 4 MiB, so a long conversation or a "
    "large message cannot be written (Azurite fails the 2,000-message transaction with a malformed response, "
    "`BadStatusLine`, where Azure would answer 400; it is refused either way)."
)
_YB_ADD = (
    "Real bug. `add_message` is an upsert whose conflict branch sets the row to the new message alone "
    "(`ON CONFLICT (key) DO UPDATE SET value = [message]`): every append replaces the whole conversation with "
    "its last message. The SQL is the same on YugabyteDB, whose YSQL is PostgreSQL's."
)

_GOOGLE_EMPTY_SET = (
    "Real bug. `set_messages(k, [])` deletes the rows and then runs its `INSERT` with no rows to insert, which "
    "SQLAlchemy refuses (`A value is required for bind parameter 'key'`): a conversation cannot be cleared "
    "that way, and the delete before it is rolled back with it."
)
_GOOGLE_SQL = (
    "Real bug, and a serious one. `get_messages` (like the other reads and deletes) puts the key into the SQL "
    "text with an f-string (`WHERE key = '{key}'`): a key with a quote is a syntax error "
    '(`get_messages("\'")`), and a key from a user is SQL injection.'
)
_GOOGLE_NEGATIVE = (
    "Real bug. `delete_message(k, -2)` on a one-message conversation raises `IndexError` (the index goes "
    "into a Python list of row ids unchecked), where an index past the end answers `None`."
)
_GOOGLE_RACE = (
    "Real bug. `delete_last_message` reads the row ids, then deletes the last by id, with no lock or "
    "transaction around both: callers at once pick the same row, and one of them then raises `IndexError`."
)

_MONGO_TTL = (
    "Real bug, by design. The TTL is a MongoDB TTL index on each message's `created_at`, so a conversation "
    "expires message by message: its first messages vanish while later ones stay, and the history reads back "
    "with its beginning missing. mongomock removes expired documents at once; a real `mongod`'s TTL monitor "
    "runs every 60 s, so there the messages also outlive their `ttl` by up to a minute, and TTL-001 and "
    "TTL-002, which pass on mongomock, were not checked against a real server."
)

NOTES: dict[tuple[str, str], str] = {
    ("SimpleChatStore", "DLL-002"): _SIMPLE_EMPTIED,
    ("SimpleChatStore", "DEL-003"): _SIMPLE_NEGATIVE,
    ("SimpleChatStore", "DEL-004"): _SIMPLE_NEGATIVE + " (The SHOULD half of the same behaviour.)",
    ("SimpleChatStore", "KEY-002"): (
        "SHOULD. `set_messages(k, [])` stores an empty list under `k`, and `get_keys` goes on listing the "
        "empty conversation. (Before the kit charged answers to their own clauses, this row blamed the "
        "negative-index `IndexError` for it; with that rule left out, this is what remains.)"
    ),
    ("SimpleChatStore", "OWN-001"): (
        "Real bug. `get_messages` returns the store's own list: code that appends to what it read, as "
        "chat-memory code does before trimming, rewrites the stored conversation."
    ),
    ("SimpleChatStore", "OWN-002"): (
        "Real bug. `set_messages` keeps the caller's list object: appending to your own list afterwards "
        "changes the stored conversation."
    ),
    ("SimpleChatStore", "OWN-003"): (
        "SHOULD. It keeps the caller's message objects, so changing one later changes the store. Reasonable "
        "for an in-memory store (hence SHOULD since spec 0.3), but surprising when a message is reused."
    ),
    ("SimpleChatStore", "BAD-001"): _BAD_KEY,
    ("SimpleChatStore", "BAD-002"): (
        "SHOULD. `delete_message(k, 1.0)` is accepted instead of refused with `TypeError`."
    ),
    ("SimpleChatStore", "BAD-003"): _BAD_MESSAGE_STORED,
    ("RedisChatStore", "DLL-001"): (
        'Real bug. `delete_last_message` returns the raw stored bytes (`b\'{"role": "user", ...}\'`) '
        "instead of a `ChatMessage`: every caller has to decode it by hand."
    ),
    ("RedisChatStore", "KEY-005"): (
        "Real bug. `get_keys` runs `KEYS *` and lists every key in the database, including other "
        "applications' keys and keys of other stores with other prefixes; on a shared Redis that is wrong, "
        "and `KEYS` blocks the server on a large database."
    ),
    ("RedisChatStore", "DEL-004"): _NEGATIVE_IGNORED,
    ("RedisChatStore", "DEL-001"): (
        "Real bugs, two, in one method. `delete_message` reads the list (`LRANGE`), pops the item in "
        "Python, deletes the key and pushes the rest back with `LPUSH *rest`. It returns the popped raw "
        "bytes instead of a `ChatMessage` (as `delete_last_message` does, DLL-001); and on a "
        "conversation's only message `LPUSH` gets no values and raises `ResponseError: wrong number of "
        "arguments for 'lpush' command`. The checks of KEY-002 and PAR-001 meet the second one and are "
        "blocked by this clause."
    ),
    ("RedisChatStore", "ORD-001"): (
        "Real bug, independent of the bytes. The same `delete_message` pushes the remaining messages back "
        "with `LPUSH`, which prepends them one by one: after any delete at an index the rest of the "
        "conversation reads back reversed."
    ),
    ("RedisChatStore", "TTL-004"): (
        "Real bug, independent of the bytes. `delete_message` deletes the key and pushes the rest back "
        "without `EXPIRE`, so a conversation that had a TTL loses it and never expires after one delete at "
        "an index. (TTL-008's timed state machine meets the same bug and is blocked by this clause.)"
    ),
    ("RedisChatStore", "CON-004"): (
        "Real bug. Insert and delete at an index are client-side read-modify-writes (`LRANGE`, then "
        "`DEL` and a push) with no transaction or script: concurrent callers overwrite each other and "
        "messages are lost."
    ),
    ("RedisChatStore", "BAD-002"): (
        "SHOULD. `delete_message(k, 1.0)` is accepted instead of refused with `TypeError`."
    ),
    ("RedisChatStore", "BAD-001"): _BAD_KEY,
    ("RedisChatStore", "BAD-003"): _BAD_MESSAGE,
    ("SQLiteChatStore", "SET-001"): (
        "Real bug. `set_messages(key, messages)` appends to the stored conversation instead of replacing it; "
        "the interface's contract is to replace."
    ),
    ("SQLiteChatStore", "SET-002"): (
        "Real bug. `set_messages(key, [])` raises `IntegrityError: NOT NULL constraint failed: "
        "data_chatstore.key` instead of clearing the conversation."
    ),
    ("SQLiteChatStore", "DEL-001"): ("Real bug. `delete_message(k, 0)` answers `None` instead of the removed message."),
    ("SQLiteChatStore", "DEL-002"): (
        "Real bug. `delete_message(k, 1)` on a one-message conversation (an index past the end) returns a "
        "message instead of `None`: the index is off by one."
    ),
    ("SQLiteChatStore", "CON-002"): _DELETE_LAST_TWICE,
    ("SQLiteChatStore", "DEL-004"): _NEGATIVE_IGNORED,
    ("SQLiteChatStore", "BAD-001"): _BAD_KEY,
    ("SQLiteChatStore", "BAD-003"): _BAD_MESSAGE,
    ("PostgresChatStore", "KEY-002"): _EMPTIED_LISTED,
    ("PostgresChatStore", "DEL-004"): _NEGATIVE_IGNORED,
    ("PostgresChatStore", "BAD-001"): _BAD_KEY,
    ("PostgresChatStore", "BAD-003"): _BAD_MESSAGE,
    ("PostgresChatStore", "CON-002"): _DELETE_LAST_TWICE + " Two workers both process one turn.",
    ("InMemoryChatMessageHistory", "OWN-003"): (
        "SHOULD. The history keeps the caller's message objects: changing a message after adding it changes "
        "the history. Reasonable for an in-memory list (hence SHOULD since spec 0.3)."
    ),
    ("InMemoryChatMessageHistory", "BAD-003"): _BAD_MESSAGE_STORED,
    ("RedisChatMessageHistory (community)", "BAT-001"): (
        "SHOULD. `add_messages` pushes the batch one message at a time, so a turn (`[human, ai]`) written "
        "while another client writes to the same session can end up interleaved with the other's messages."
    ),
    ("RedisChatMessageHistory (community)", "BAD-003"): _BAD_MESSAGE,
    ("SQLChatMessageHistory (community, SQLite)", "BAD-001"): _BAD_KEY,
    ("SQLChatMessageHistory (community, SQLite)", "BAD-003"): _BAD_MESSAGE,
    ("PostgresChatMessageHistory", "BAD-003"): _BAD_MESSAGE,
    ("DynamoDBChatStore", "SET-001"): _DYNAMO_FLOAT,
    ("DynamoDBChatStore", "INS-001"): _DYNAMO_FLOAT,
    ("DynamoDBChatStore", "DLA-001"): _DYNAMO_FLOAT,
    ("DynamoDBChatStore", "DLA-002"): _DYNAMO_DECIMAL,
    ("DynamoDBChatStore", "KEY-002"): _EMPTIED_LISTED.replace("deleted one by one", "set to `[]`"),
    ("DynamoDBChatStore", "FID-001"): _DYNAMO_DECIMAL,
    ("DynamoDBChatStore", "FID-002"): _DYNAMO_ITEM,
    ("DynamoDBChatStore", "FID-003"): _DYNAMO_DECIMAL,
    ("DynamoDBChatStore", "FID-004"): _DYNAMO_DECIMAL,
    ("DynamoDBChatStore", "FID-005"): _DYNAMO_FLOAT,
    ("DynamoDBChatStore", "OWN-001"): _OWN_BY_FLOAT,
    ("DynamoDBChatStore", "OWN-002"): _OWN_BY_FLOAT,
    ("DynamoDBChatStore", "OWN-003"): _DYNAMO_DECIMAL,
    ("DynamoDBChatStore", "OWN-004"): _DYNAMO_DECIMAL,
    ("DynamoDBChatStore", "PAR-001"): _DYNAMO_ASYNC,
    ("DynamoDBChatStore", "PAR-002"): _DYNAMO_ASYNC,
    ("DynamoDBChatStore", "MDL-001"): _DYNAMO_ASYNC,
    ("DynamoDBChatStore", "CON-001"): _RMW_APPEND,
    ("DynamoDBChatStore", "CON-002"): _DELETE_LAST_TWICE,
    ("DynamoDBChatStore", "CON-003"): _DYNAMO_ASYNC,
    ("DynamoDBChatStore", "SCL-002"): _DYNAMO_ITEM,
    ("DynamoDBChatStore", "SCL-003"): _DYNAMO_ITEM,
    ("DynamoDBChatStore", "BAD-001"): (
        "SHOULD. A key that is not a `str` reaches DynamoDB and fails there (`ValidationException ... expected: S "
        "actual: N`) instead of a `TypeError` naming the problem."
    ),
    ("DynamoDBChatStore", "BAD-003"): _BAD_MESSAGE,
    ("DynamoDBChatStore", "TTL-001"): _DYNAMO_TTL,
    ("DynamoDBChatStore", "TTL-004"): _DYNAMO_TTL,
    ("DynamoDBChatStore", "TTL-005"): _DYNAMO_TTL,
    ("DynamoDBChatStore", "TTL-006"): _DYNAMO_TTL,
    **{
        ("DynamoDBChatMessageHistory", clause): note
        for clause, note in {
            "SET-001": _DYNAMO_FLOAT,
            "INS-001": _DYNAMO_FLOAT,
            "DLA-001": _DYNAMO_FLOAT,
            "DLA-002": _DYNAMO_FLOAT,
            "FID-001": _DYNAMO_DECIMAL,
            "FID-002": _DYNAMO_ITEM,
            "FID-003": _DYNAMO_DECIMAL,
            "FID-004": _DYNAMO_ITEM,
            "FID-005": _DYNAMO_FLOAT,
            "OWN-001": _OWN_BY_FLOAT,
            "OWN-002": _OWN_BY_FLOAT,
            "OWN-003": _DYNAMO_DECIMAL,
            "OWN-004": _DYNAMO_DECIMAL,
            "CON-001": _RMW_APPEND.replace("`add_message`", "`add_messages`"),
            "CON-003": _RMW_APPEND.replace("`add_message`", "`aadd_messages` (run in a thread)"),
            "BAT-001": _RMW_APPEND.replace("`add_message`", "`add_messages`") + " Whole batches vanish.",
            "PRC-001": _RMW_APPEND.replace("threads", "worker processes").replace("`add_message`", "`add_messages`")
            + " (CON-001's root cause, met across processes.)",
            "SCL-003": _DYNAMO_ITEM,
            "BAD-001": (
                "SHOULD. A session id that is not a `str` reaches DynamoDB and fails there (`ValidationException "
                "... expected: S actual: N`) instead of a `TypeError` naming the problem."
            ),
            "BAD-003": _BAD_MESSAGE,
            "TTL-001": _DYNAMO_TTL,
            "TTL-004": _DYNAMO_TTL,
            "TTL-005": _DYNAMO_TTL,
            "TTL-006": _DYNAMO_TTL,
        }.items()
    },
    (_LCR, "ORD-002"): _LCR_QUERY,
    (_LCR, "KEY-003"): _LCR_QUERY,
    (_LCR, "KEY-004"): _LCR_QUERY,
    (_LCR, "KEY-006"): _LCR_QUERY,
    (_LCR, "MDL-001"): _LCR_QUERY,
    (_LCR, "FID-001"): (
        "Real bug. Messages are stored as type, content and `additional_kwargs` only: a message's `name`, `id`, "
        "`tool_calls`, `response_metadata` and the like are dropped."
    ),
    (_LCR, "FID-003"): (
        "Real bug. Floats in `additional_kwargs` come back slightly changed (`4.835827373577415e-91` as "
        "`4.8358273735774144e-91`): RedisJSON prints doubles with 17 significant digits, not the shortest "
        "round-tripping form, and the number read back is another double."
    ),
    (_LCR, "OWN-003"): "SHOULD, same cause as FID-003: the float read back is not the float written.",
    (_LCR, "OWN-001"): (
        "Real bug. A `ChatMessage` with a custom role (`role='tool'`) is stored without its role and cannot be "
        "read back: every later read of that session raises pydantic's `ValidationError: role Field required`."
    ),
    (_LCR, "BAT-001"): (
        "SHOULD. `add_messages` writes a batch as separate JSON documents without a transaction, so batches "
        "written at the same time interleave."
    ),
    (_LCR, "BAD-003"): _BAD_MESSAGE,
    (_LCR, "TTL-003"): (
        "Real bug. Each message is its own key with its own expiry, set when it is written, so a conversation "
        "expires message by message: older messages vanish while newer ones stay, and the history reads back "
        "with its beginning missing."
    ),
    **{
        ("AzureChatStore", clause): note
        for clause, note in {
            "FRE-001": _AZURE_KEY,
            "KEY-001": _AZURE_KEY,
            "KEY-003": _AZURE_KEY,
            "KEY-004": _AZURE_KEY,
            "SET-001": _AZURE_SET,
            "ORD-001": _AZURE_SET + " (The check's later deletes then found no entity: `ResourceNotFound`.)",
            "MDL-001": _AZURE_SET + " (The model's later deletes then found no entity: `ResourceNotFound`.)",
            "INS-002": _AZURE_RMW,
            "DEL-001": _AZURE_NONE,
            "DEL-004": _NEGATIVE_IGNORED,
            "DLL-001": _AZURE_NONE,
            "SET-002": _AZURE_EMPTY,
            "DEL-002": _AZURE_MISSING,
            "DLL-002": _AZURE_MISSING,
            "DLA-002": (
                "Real bug. `delete_messages` on a key with no messages submits an empty transaction and raises "
                "`HttpResponseError` instead of answering `None` or `[]`."
            ),
            "KEY-002": _AZURE_EMPTY,
            "PAR-001": _AZURE_EMPTY,
            "PAR-002": _AZURE_EMPTY,
            "SHR-001": _AZURE_EMPTY,
            "SHR-003": _AZURE_EMPTY,
            "FID-002": _AZURE_SIZE,
            "FID-004": _AZURE_SIZE,
            "SCL-002": _AZURE_SIZE,
            "SCL-003": _AZURE_SIZE,
            "CON-001": _AZURE_RMW,
            "CON-002": _AZURE_RMW,
            "CON-003": _AZURE_RMW,
            "CON-004": _AZURE_RMW,
            "SHR-002": _AZURE_RMW,
            "PRC-001": _AZURE_RMW,
            "BAD-001": (
                "SHOULD. A key that is not a `str` reaches the service and fails there (`HttpResponseError`) "
                "instead of a `TypeError` naming the problem."
            ),
            "BAD-002": "SHOULD. `add_message(k, m, idx=1.0)` is accepted instead of refused with `TypeError`.",
            "BAD-003": _BAD_MESSAGE,
        }.items()
    },
    **{
        ("YugabyteDBChatStore", clause): note
        for clause, note in {
            "INS-001": _YB_ADD,
            "KEY-003": _YB_ADD,
            "FID-001": _YB_ADD,
            "FID-004": _YB_ADD,
            "CON-001": _YB_ADD,
            "CON-003": _YB_ADD,
            "CON-002": _DELETE_LAST_TWICE,
            "DEL-004": _NEGATIVE_IGNORED,
            "KEY-002": _EMPTIED_LISTED.replace("deleted one by one", "set to `[]`"),
            "BAD-001": _BAD_KEY,
            "BAD-003": _BAD_MESSAGE,
        }.items()
    },
    **{
        (row, clause): note
        for row in ("AlloyDBChatStore", "PostgresChatStore (Cloud SQL)")
        for clause, note in {
            "SET-001": _GOOGLE_EMPTY_SET,
            "SET-002": _GOOGLE_EMPTY_SET,
            "SHR-002": _GOOGLE_EMPTY_SET,
            "DEL-003": _GOOGLE_NEGATIVE,
            "DEL-004": _GOOGLE_NEGATIVE + " (The SHOULD half of the same behaviour.)",
            "CON-002": _GOOGLE_RACE,
            "PRC-001": _GOOGLE_RACE + " (Met across worker processes.)",
            "MDL-001": _GOOGLE_SQL,
            "KEY-004": _GOOGLE_SQL
            + " Met by the look-alike keys' search: a key such as `':0'` is read by SQLAlchemy's `text()` as a bind "
            "parameter (`A value is required for bind parameter '0'`).",
            "BAD-001": (
                "SHOULD. A key that is not a `str` reaches the database driver and fails there (`DBAPIError`) "
                "instead of a `TypeError` naming the problem."
            ),
            "BAD-003": _BAD_MESSAGE,
        }.items()
    },
    ("UpstashChatStore", "DEL-001"): (
        'Real bug. `delete_message` returns the raw stored JSON text (`\'{"role": "user", ...}\'`) instead '
        "of a `ChatMessage`."
    ),
    ("UpstashChatStore", "KEY-005"): (
        "Real bug. `get_keys` runs `KEYS *` and lists every key in the database, other applications' included."
    ),
    ("UpstashChatStore", "CON-004"): (
        "Real bug. Insert and delete at an index are several requests (`LINDEX`, `LSET` to a placeholder, "
        "`LREM`; or a read, a delete and a rewrite) with no transaction, so concurrent callers interleave and "
        "no sequential order explains what they see."
    ),
    ("UpstashChatStore", "PRC-001"): (
        "Real bug. `delete_message` overwrites the message with a placeholder (`LSET k i 'k:i:deleted'`), then "
        "removes the placeholder (`LREM`) in a second request: another worker reading in between gets the "
        "placeholder as a message and fails to parse it (`ValidationError ... input_value='other:1:deleted'`)."
    ),
    ("UpstashChatStore", "BAD-001"): _BAD_KEY,
    (
        "UpstashChatStore",
        "BAD-002",
    ): "SHOULD. `delete_message(k, '1')` is accepted instead of refused with `TypeError`.",
    ("UpstashChatStore", "BAD-003"): _BAD_MESSAGE,
    ("UpstashRedisChatMessageHistory", "BAT-001"): (
        "SHOULD. `add_messages` pushes the batch one message (one request) at a time, so batches written at the "
        "same time interleave."
    ),
    ("UpstashRedisChatMessageHistory", "BAD-003"): _BAD_MESSAGE,
    ("AlloyDBChatStore", "FLT-003"): _GOOGLE_REPLACE,
    ("PostgresChatStore (Cloud SQL)", "FLT-003"): _GOOGLE_REPLACE,
    ("UpstashChatStore", "FLT-001"): _UPSTASH_RETRY + " (`rpush` in `llama_index/storage/chat_store/upstash/base.py`.)",
    ("UpstashRedisChatMessageHistory", "FLT-001"): _UPSTASH_RETRY
    + " (`lpush` in `langchain_community/chat_message_histories/upstash_redis.py`.)",
    ("MongoChatStore", "INS-002"): (
        "Real bug. `add_message(k, m, idx=0)` stores the message with `index: 0` without moving the others, so "
        "two messages share index 0 and their order on reading (sorted by index) is whatever the database "
        "gives: an insert at an index does not insert."
    ),
    ("MongoChatStore", "DEL-004"): _NEGATIVE_IGNORED,
    ("MongoChatStore", "BAD-001"): _BAD_KEY,
    ("MongoChatStore", "BAD-002"): "SHOULD. `add_message(k, m, idx='1')` is accepted and stored with a string index.",
    ("MongoChatStore", "BAD-003"): _BAD_MESSAGE,
    ("MongoChatStore", "TTL-003"): _MONGO_TTL,
    ("MongoDBChatMessageHistory", "BAD-001"): _BAD_KEY,
    ("MongoDBChatMessageHistory", "BAD-003"): _BAD_MESSAGE,
    ("RedisChatMessageHistory (langchain-redis)", "FID-001"): _LANGCHAIN_REDIS_8,
    ("RedisChatMessageHistory (langchain-redis)", "ORD-002"): _LANGCHAIN_REDIS_8,
    ("RedisChatMessageHistory (langchain-redis)", "DLA-002"): _LANGCHAIN_REDIS_8,
    **{("RedisChatMessageHistory (langchain-redis)", f"TTL-00{n}"): _LANGCHAIN_REDIS_8 for n in range(1, 8)},
    ("RedisChatStore", "SHR-002"): (
        "Real bug. `add_message(k, m, idx=i)` is a read, a delete and a rewrite in separate round trips "
        "(`_insert_element_at_index` in `llama_index/storage/chat_store/redis/base.py`: `get_messages`, "
        "`delete`, `set_messages`, no WATCH or transaction), so two instances inserting at once each rewrite the "
        "list they read: messages are lost and others stored twice (`w0-21` gone, `w1-22` twice)."
    ),
    ("RedisChatStore", "FLT-003"): (
        "Real bug, the same read-modify-write: an insert is 8 round trips (read, delete, one push per message) "
        "and a replace a DEL then an RPUSH, none in a transaction, so a connection lost in the middle leaves the "
        "conversation half rewritten or emptied (32 of 74 faulted writes). Nothing is duplicated: its "
        "`from_url` client does not retry."
    ),
    ("PostgresChatMessageHistory", "PRC-001"): _LCPG_SERIAL
    + "a reader sees `[..., p1-6, p2-4]`, a later one finds `p3-2` placed before them. No sequential order explains "
    "what the processes read.",
    ("PostgresChatMessageHistory", "SHR-002"): _LCPG_SERIAL
    + "through two instances, a reader saw `[..., t2-0, t2-1]`, a later one `[..., t2-0, t1-1, t2-1, ...]`. The same "
    "race as PRC-001's, with threads; met in some runs, not all (it needs the two commits in the wrong order).",
    ("PostgresChatStore", "PRC-001"): (
        "Real bug, a race. `delete_last_message` reads the conversation's array, then sets "
        "`value = value[1:array_length(value, 1) - 1]` in a second statement, with no lock "
        "(`llama_index/storage/chat_store/postgres/base.py`). When two workers remove the last message of a "
        "one-message conversation at once, the second UPDATE runs on the empty array, whose `array_length` is "
        "NULL: the slice is NULL, the column becomes NULL, and every later `get_messages` of that key raises "
        "`TypeError: 'NoneType' object is not iterable` until the conversation is replaced. Met in some runs, not "
        "all (CON-002, the same read-then-delete with threads, fails every run)."
    ),
    ("PostgresChatMessageHistory", "FLT-005"): (
        "Real bug. The history takes one psycopg connection and never opens another, so after one dropped "
        "connection every call raises `OperationalError: the connection is closed` until the application builds "
        "a new history (`PostgresChatMessageHistory(..., sync_connection=...)`)."
    ),
    ("RedisChatMessageHistory (langchain-redis, redis-py 7)", "SHR-002"): (
        "Real bug. Each message is a JSON document stamped with the writer's clock before the write "
        "(`timestamp = datetime.now().timestamp()`, `add_message` in `langchain_redis/chat_message_history.py`), "
        "and reads sort by that stamp. A writer stamped first but stored last lands before messages readers have "
        "already seen after it: `t2-0` read back before `t0-0` after readers saw `t0-0` alone."
    ),
    **{(row, "BAD-001"): _AGENTS_BAD_ID for row in _AGENTS_ROWS},
    **{(row, "BAD-003"): _AGENTS_BAD_ITEM for row in _AGENTS_ROWS},
    **{(row, "TAL-002"): _AGENTS_NEGATIVE_LIMIT for row in _AGENTS_ROWS if row != "RedisSession"},
    ("EncryptedSession (over SQLiteSession)", "TAL-002"): _AGENTS_NEGATIVE_LIMIT
    + " The encrypting wrapper passes the limit on to the `SQLiteSession` it wraps, bug included.",
    ("RedisSession", "KEY-004"): (
        "Real bug. A session's messages live at `<prefix>:<id>:messages` and its metadata hash at "
        "`<prefix>:<id>`, with ids not escaped (`agents/extensions/memory/redis_session.py`), so session "
        "`'a:messages'`'s metadata key is session `'a'`'s message list: `add_items` on `'a:messages'` raises "
        "`WRONGTYPE` once `'a'` has items."
    ),
    ("SQLAlchemySession (PostgreSQL)", "SHR-002"): (
        "Real bug. Items are ordered by `created_at`, a `CURRENT_TIMESTAMP` server default, then `id` "
        "(`agents/extensions/memory/sqlalchemy_session.py`, `get_items`). In PostgreSQL `CURRENT_TIMESTAMP` is "
        "the time the transaction *started*, so of two appends through two instances at once, the one that "
        "started first and committed last is placed before items readers already saw after it: no sequential "
        "order explains the history. On SQLite writes are serialized, `id` decides, and the clause passes."
    ),
    **{(row, c): _ADK_STRIPPED_IDS for row in _ADK_ROWS[:2] for c in ("KEY-001", "KEY-003", "KEY-004")},
    **{(row, c): _ADK_STALE for row in _ADK_ROWS[1:] for c in ("CON-001", "CON-003", "SHR-002", "PRC-001")},
    **{(row, "BAD-001"): _ADK_BAD_ID for row in _ADK_ROWS},
    **{(row, "BAD-003"): _ADK_BAD_EVENT for row in _ADK_ROWS},
    ("DatabaseSessionService (PostgreSQL)", "KEY-003"): _ADK_ID_LENGTH,
    ("DatabaseSessionService (PostgreSQL)", "KEY-006"): _ADK_ID_LENGTH,
    ("InMemorySessionService", "OWN-003"): (
        "SHOULD. `append_event` keeps the caller's event object in its storage "
        "(`storage_session.events.append(event)` in `in_memory_session_service.py`), so changing that event "
        "afterwards changes the stored conversation. The persistent services serialize the event and pass."
    ),
}
"""(backend name, clause ID) -> the reviewed judgement of that failure: why a user would call it
wrong or surprising. Filled in from the reports; a failure without a note is shown as unreviewed."""

_MOTO_EMPTY_KEY = Artifact(
    matches=r"'bool' object has no attribute 'get'",
    why="moto stores a map entry whose key is the empty string (`additional_kwargs={'': None}`) but answers "
    "reads of it with a malformed item (a bare `true` where an attribute value belongs), which botocore cannot "
    "parse. Whether DynamoDB itself accepts such a key was not checked here; it does not answer malformed JSON.",
)

ARTIFACTS: dict[tuple[str, str], Artifact] = {
    **{
        (row, clause): _MOTO_EMPTY_KEY
        for row, clauses in {
            "DynamoDBChatStore": "SET-001 INS-001 DLA-001 DLA-002 FID-001 FID-003 OWN-001 OWN-002 OWN-003",
            "DynamoDBChatMessageHistory": "SET-001 INS-001 FID-001 FID-003 OWN-001 OWN-002 OWN-003",
        }.items()
        for clause in clauses.split()
    },
}
"""(backend name, clause ID) -> a failure the row's emulator causes (see :class:`Artifact`). Where a clause
also fails for a reason of the store's own (a float, today), the clause is the store's and its note says which
part is the emulator's; the mark then applies by itself once the store's own bug is fixed."""


DISTINCT = "\n  and a distinct failure of this clause too: "
"""How the kit's failure report adds each further distinct failure of a clause (``failures.py``)."""


def artifact_of(backend: str, clause_id: str, failure: str) -> Artifact | None:
    """The emulator artifact that explains this failure, or None when it is (or may be) the store's own.

    Every distinct failure the report gives for the clause must match: one that does not is the store's,
    and the clause is shown as the store's failure."""
    artifact = ARTIFACTS.get((backend, clause_id))
    if artifact is None:
        return None
    parts = failure.split(DISTINCT)
    return artifact if all(re.search(artifact.matches, part) for part in parts) else None
