"""The ecosystem matrix: the kit pointed at the chat-store backends people use, and the result published.

``python -m pytest_chatstore.ecosystem`` creates an isolated virtual environment per
backend package (under ``.ecosystem/``), starts the servers they need on loopback (a
local ``redis-server`` through the kit's own provisioning; PostgreSQL from the machine's
packages, initialised in a temporary directory), runs the suite against each backend with
``--chatstore-report``, and regenerates ``docs/ecosystem.md`` from the reports and from
:data:`NOTES`, the reviewed judgement of every failure.

Factories that adapt a backend's constructor live in :mod:`pytest_chatstore.ecosystem.factories`.
"""

from __future__ import annotations

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
    """Servers: ``redis``, ``postgres``."""
    not_run: str = ""
    """Why the row cannot run here (then it is listed, not run)."""
    extra_args: tuple[str, ...] = field(default=())


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
        "pytest_chatstore.ecosystem.factories:llamaindex_sqlite",
        ("llama-index-storage-chat-store-sqlite",),
        "llama-index-storage-chat-store-sqlite",
    ),
    Backend(
        "PostgresChatStore",
        "LlamaIndex",
        "pytest_chatstore.ecosystem.factories:llamaindex_postgres",
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
        "pytest_chatstore.ecosystem.factories:langchain_sql",
        ("langchain-community", "sqlalchemy"),
        "langchain-community",
    ),
    Backend(
        "PostgresChatMessageHistory",
        "LangChain",
        "pytest_chatstore.ecosystem.factories:langchain_postgres",
        ("langchain-postgres", "psycopg[binary]"),
        "langchain-postgres",
        ("postgres",),
    ),
    Backend(
        "RedisChatMessageHistory (langchain-redis)",
        "LangChain",
        "langchain_redis:RedisChatMessageHistory",
        ("langchain-redis",),
        "langchain-redis",
        ("redis",),
        not_run="needs a Redis server with the RediSearch and RedisJSON modules (Redis Stack); neither "
        "PyPI nor Debian's packages reachable here provide one, and Docker Hub is not reachable",
    ),
)


NOTES: dict[tuple[str, str], str] = {}
"""(backend name, clause ID) -> the reviewed judgement of that failure: why a user would call it
wrong or surprising. Filled in from the reports; a failure without a note is shown as unreviewed."""
