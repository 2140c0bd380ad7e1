"""The store contract at its public path: ``from pytest_chatstore.contract import ChatMessage`` in stores, adapters
and reproduction files. It lives in :mod:`pytest_chatstore.spec.contract`."""

from pytest_chatstore.spec.contract import (
    AsyncChatStore,
    BatchChatStore,
    ChatMessage,
    ChatStore,
    ChatStoreFactory,
    JSONValue,
    MessageLike,
    TailChatStore,
    json_equal,
)

__all__ = [
    "AsyncChatStore",
    "BatchChatStore",
    "ChatMessage",
    "ChatStore",
    "ChatStoreFactory",
    "JSONValue",
    "MessageLike",
    "TailChatStore",
    "json_equal",
]
