"""LlamaIndex ``BaseChatStore`` subclasses work with no glue: messages are
converted to and from ``llama_index.core.llms.ChatMessage``.

Imported only when a LlamaIndex store is under test (llama-index-core installed).
"""

from __future__ import annotations

import copy

from llama_index.core.llms import ChatMessage as LlamaChatMessage

from pytest_chatstore.adapters.base import as_chat_message
from pytest_chatstore.spec.contract import ChatMessage


class LlamaIndexAdapter:
    """Converts to LlamaIndex messages. Roles must be LlamaIndex ``MessageRole`` values."""

    name = "llama-index"

    def to_store(self, message: ChatMessage) -> LlamaChatMessage:
        return LlamaChatMessage(
            role=message.role,
            content=message.content,
            additional_kwargs=copy.deepcopy(message.additional_kwargs),
        )

    def from_store(self, obj: object) -> ChatMessage:
        return as_chat_message(obj)
