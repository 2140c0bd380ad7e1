"""Use a reference store as a LlamaIndex chat store (``pip install 'pytest-chatstore[llamaindex]'``).

``LlamaIndexChatStore`` puts any pytest-chatstore reference store behind
LlamaIndex's ``BaseChatStore``, converting messages both ways. Its async
methods call the store's native async twins (LlamaIndex's defaults would run
the sync ones in a thread), and ``async_add_message`` takes ``idx``.

    from reference_impls.llamaindex import LlamaIndexChatStore
    from llama_index.core.memory import ChatMemoryBuffer

    chat_store = LlamaIndexChatStore.redis("redis://localhost:6379/0", ttl=3600)
    memory = ChatMemoryBuffer.from_defaults(chat_store=chat_store, chat_store_key="user-1")
"""

from __future__ import annotations

from typing import Any

from llama_index.core.llms import ChatMessage as LlamaChatMessage
from llama_index.core.storage.chat_store import BaseChatStore
from pydantic import PrivateAttr

from pytest_chatstore.spec.contract import ChatMessage
from reference_impls.memory import InMemoryChatStore


def to_llama(message: ChatMessage) -> LlamaChatMessage:
    return LlamaChatMessage(role=message.role, content=message.content, additional_kwargs=message.additional_kwargs)


def from_llama(message: object) -> ChatMessage:
    if not isinstance(message, LlamaChatMessage):
        raise TypeError(f"expected a LlamaIndex ChatMessage, not {type(message).__name__}")
    return ChatMessage(message.role.value, message.content or "", dict(message.additional_kwargs))


def _from_list(messages: object) -> list[ChatMessage]:
    if not isinstance(messages, list):
        raise TypeError(f"messages must be a list, not {type(messages).__name__}")
    return [from_llama(m) for m in messages]


def _maybe(message: ChatMessage | None) -> LlamaChatMessage | None:
    return None if message is None else to_llama(message)


def _maybe_list(messages: list[ChatMessage] | None) -> list[LlamaChatMessage] | None:
    return None if messages is None else [to_llama(m) for m in messages]


class LlamaIndexChatStore(BaseChatStore):
    """A reference store (in-memory or Redis) speaking LlamaIndex's ``BaseChatStore``."""

    _inner: Any = PrivateAttr()

    def __init__(self, inner: Any = None, **data: Any) -> None:
        super().__init__(**data)
        self._inner = inner if inner is not None else InMemoryChatStore()

    @classmethod
    def class_name(cls) -> str:
        return "PytestChatstoreReferenceStore"

    @classmethod
    def redis(cls, redis_url: str, *, ttl: float | None = None, prefix: str = "chatstore:") -> LlamaIndexChatStore:
        """The Redis reference store behind LlamaIndex's interface."""
        from reference_impls.redis import RedisChatStore

        return cls(RedisChatStore(redis_url, ttl=ttl, prefix=prefix))

    def set_messages(self, key: str, messages: list[LlamaChatMessage]) -> None:
        self._inner.set_messages(key, _from_list(messages))

    def get_messages(self, key: str) -> list[LlamaChatMessage]:
        return [to_llama(m) for m in self._inner.get_messages(key)]

    def add_message(self, key: str, message: LlamaChatMessage, idx: int | None = None) -> None:
        self._inner.add_message(key, from_llama(message), idx)

    def delete_messages(self, key: str) -> list[LlamaChatMessage] | None:
        return _maybe_list(self._inner.delete_messages(key))

    def delete_message(self, key: str, idx: int) -> LlamaChatMessage | None:
        return _maybe(self._inner.delete_message(key, idx))

    def delete_last_message(self, key: str) -> LlamaChatMessage | None:
        return _maybe(self._inner.delete_last_message(key))

    def get_keys(self) -> list[str]:
        keys: list[str] = self._inner.get_keys()
        return keys

    async def aset_messages(self, key: str, messages: list[LlamaChatMessage]) -> None:
        await self._inner.aset_messages(key, _from_list(messages))

    async def aget_messages(self, key: str) -> list[LlamaChatMessage]:
        return [to_llama(m) for m in await self._inner.aget_messages(key)]

    async def async_add_message(self, key: str, message: LlamaChatMessage, idx: int | None = None) -> None:
        await self._inner.async_add_message(key, from_llama(message), idx)

    async def adelete_messages(self, key: str) -> list[LlamaChatMessage] | None:
        return _maybe_list(await self._inner.adelete_messages(key))

    async def adelete_message(self, key: str, idx: int) -> LlamaChatMessage | None:
        return _maybe(await self._inner.adelete_message(key, idx))

    async def adelete_last_message(self, key: str) -> LlamaChatMessage | None:
        return _maybe(await self._inner.adelete_last_message(key))

    async def aget_keys(self) -> list[str]:
        keys: list[str] = await self._inner.aget_keys()
        return keys

    def close(self) -> None:
        if hasattr(self._inner, "close"):
            self._inner.close()

    async def aclose(self) -> None:
        if hasattr(self._inner, "aclose"):
            await self._inner.aclose()
