"""LlamaIndex stores for the adapter tests: the reference store behind LlamaIndex's interface."""

from __future__ import annotations

from typing import Any

from llama_index.core.llms import ChatMessage as LlamaChatMessage
from llama_index.core.storage.chat_store import BaseChatStore
from pydantic import PrivateAttr

from pytest_chatstore.contract import ChatMessage
from reference_impls.memory import InMemoryChatStore


def _to_llama(message: ChatMessage) -> LlamaChatMessage:
    return LlamaChatMessage(role=message.role, content=message.content, additional_kwargs=message.additional_kwargs)


def _from_llama(message: Any) -> ChatMessage:
    if not isinstance(message, LlamaChatMessage):
        raise TypeError(f"expected a LlamaIndex ChatMessage, not {type(message).__name__}")
    return ChatMessage(message.role.value, message.content or "", message.additional_kwargs)


class LlamaReferenceStore(BaseChatStore):
    """``InMemoryChatStore`` speaking LlamaIndex messages: must pass every clause through the adapter."""

    _inner: InMemoryChatStore = PrivateAttr(default_factory=InMemoryChatStore)

    def set_messages(self, key: str, messages: list[LlamaChatMessage]) -> None:
        if not isinstance(messages, list):
            raise TypeError("messages must be a list")
        self._inner.set_messages(key, [_from_llama(m) for m in messages])

    def get_messages(self, key: str) -> list[LlamaChatMessage]:
        return [_to_llama(m) for m in self._inner.get_messages(key)]

    def add_message(self, key: str, message: LlamaChatMessage, idx: int | None = None) -> None:
        self._inner.add_message(key, _from_llama(message), idx)

    def delete_messages(self, key: str) -> list[LlamaChatMessage] | None:
        removed = self._inner.delete_messages(key)
        return None if removed is None else [_to_llama(m) for m in removed]

    def delete_message(self, key: str, idx: int) -> LlamaChatMessage | None:
        removed = self._inner.delete_message(key, idx)
        return None if removed is None else _to_llama(removed)

    def delete_last_message(self, key: str) -> LlamaChatMessage | None:
        removed = self._inner.delete_last_message(key)
        return None if removed is None else _to_llama(removed)

    def get_keys(self) -> list[str]:
        return self._inner.get_keys()
