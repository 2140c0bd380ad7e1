"""Adapters: how the kit hands messages to a store and reads them back.

An adapter converts :class:`pytest_chatstore.ChatMessage` to the store's own
message type and back. The native adapter passes ``ChatMessage`` objects; the
LlamaIndex adapter converts to ``llama_index.core.llms.ChatMessage``. An adapter
is chosen by :func:`select_adapter`, which asks each registered adapter in turn
whether it handles the store; the first that says yes wins. Adapters for other
ecosystems register by appending to :data:`ADAPTERS`.
"""

from __future__ import annotations

import copy
import enum
from collections.abc import Callable
from typing import Any, Protocol

from pytest_chatstore.contract import ChatMessage


class NotAMessage(AssertionError):
    """A store returned something that is not a message (raw bytes, a dict, JSON text...)."""


class Adapter(Protocol):
    """Converts messages between the kit and one family of stores."""

    name: str

    def handles(self, store: object) -> bool:
        """Whether this adapter is the one for ``store``."""
        ...

    def to_store(self, message: ChatMessage) -> Any:
        """The store's own message equal to ``message`` (a fresh object, never shared)."""
        ...

    def from_store(self, obj: object) -> ChatMessage:
        """The kit's message equal to ``obj``; raise :class:`NotAMessage` if it is not one."""
        ...


def as_chat_message(obj: object) -> ChatMessage:
    """Read any object with ``role``, ``content`` and ``additional_kwargs`` into a ChatMessage.

    An enum role (LlamaIndex's ``MessageRole``) becomes its value. Anything
    else (bytes, str, dict...) raises :class:`NotAMessage` naming what it was.
    """
    try:
        role, content, kwargs = obj.role, obj.content, obj.additional_kwargs  # type: ignore[attr-defined]
    except AttributeError:
        raise NotAMessage(
            f"expected a message (role, content, additional_kwargs), got {type(obj).__name__}: {obj!r:.120}"
        ) from None
    if isinstance(role, enum.Enum):
        role = role.value
    return ChatMessage(role=role, content=content, additional_kwargs=copy.deepcopy(kwargs))


class NativeAdapter:
    """For stores written against the kit's own :class:`ChatMessage` (the default)."""

    name = "native"

    def handles(self, store: object) -> bool:
        return True

    def to_store(self, message: ChatMessage) -> ChatMessage:
        return message.copy()

    def from_store(self, obj: object) -> ChatMessage:
        return as_chat_message(obj)


def _llamaindex() -> Adapter:
    from pytest_chatstore.adapters.llamaindex import LlamaIndexAdapter

    return LlamaIndexAdapter()


def _is_llamaindex_store(store: object) -> bool:
    # Look at the class's ancestry by name so that loading the kit never imports llama-index.
    return any(
        cls.__name__ == "BaseChatStore" and cls.__module__.startswith("llama_index.") for cls in type(store).__mro__
    )


def _langchain() -> Adapter:
    from pytest_chatstore.adapters.langchain import LangChainAdapter

    return LangChainAdapter()


def _is_history_store(store: object) -> bool:
    return type(store).__module__ == "pytest_chatstore.adapters.langchain"


def is_langchain_history(factory: object) -> bool:
    """Whether ``factory`` is a LangChain ``BaseChatMessageHistory`` class (by ancestry name: no import)."""
    return isinstance(factory, type) and any(
        cls.__name__ == "BaseChatMessageHistory" and cls.__module__.startswith("langchain_core.")
        for cls in factory.__mro__
    )


ADAPTERS: list[tuple[Callable[[object], bool], Callable[[], Adapter]]] = [
    (_is_llamaindex_store, _llamaindex),
    (_is_history_store, _langchain),
]
"""(detector, adapter factory) pairs, asked in order; the native adapter is the fallback."""


def select_adapter(store: object) -> Adapter:
    """The adapter for ``store``: the first registered one whose detector accepts it, else native."""
    for detects, make in ADAPTERS:
        if detects(store):
            return make()
    return NativeAdapter()
