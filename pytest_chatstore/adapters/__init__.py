"""Adapters: how the kit hands messages to a store and reads them back.

An adapter converts :class:`pytest_chatstore.ChatMessage` to the store's own
message type and back. The native adapter passes ``ChatMessage`` objects; the
LlamaIndex adapter converts to ``llama_index.core.llms.ChatMessage``. An adapter
is chosen by :func:`select_adapter`, which asks each registered *detector* in
turn whether the store is one of its family; the first that says yes builds
its adapter, and the native adapter is the fallback. Detectors look at class
names only, so that loading the kit never imports llama-index or LangChain.
Adapters for other ecosystems register a (detector, adapter factory) pair by
appending to :data:`ADAPTERS`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pytest_chatstore.adapters.base import Adapter, NativeAdapter, NotAMessage, as_chat_message

__all__ = ["ADAPTERS", "Adapter", "NativeAdapter", "NotAMessage", "as_chat_message", "as_factory", "select_adapter"]


def _descends(cls: object, name: str, package: str) -> bool:
    """Whether ``cls`` is a class with an ancestor called ``name`` from ``package``: by name, so that loading the kit
    never imports llama-index, LangChain or the Agents SDK."""
    return isinstance(cls, type) and any(
        base.__name__ == name and base.__module__.startswith(package) for base in cls.__mro__
    )


def _llamaindex() -> Adapter:
    from pytest_chatstore.adapters.llamaindex import LlamaIndexAdapter

    return LlamaIndexAdapter()


def _is_llamaindex_store(store: object) -> bool:
    return _descends(type(store), "BaseChatStore", "llama_index.")


def _langchain() -> Adapter:
    from pytest_chatstore.adapters.langchain import LangChainAdapter

    return LangChainAdapter()


def _is_history_store(store: object) -> bool:
    return type(store).__module__ == "pytest_chatstore.adapters.langchain"


def is_langchain_history(factory: object) -> bool:
    """Whether ``factory`` is a LangChain ``BaseChatMessageHistory`` class (by ancestry name: no import)."""
    return _descends(factory, "BaseChatMessageHistory", "langchain_core.")


def _agents() -> Adapter:
    from pytest_chatstore.adapters.agents import AgentsAdapter

    return AgentsAdapter()


def _is_session_store(store: object) -> bool:
    return type(store).__module__ == "pytest_chatstore.adapters.agents"


def is_agents_session(factory: object) -> bool:
    """Whether ``factory`` is an OpenAI Agents SDK session class (``SessionABC`` by ancestry name: no import)."""
    return _descends(factory, "SessionABC", "agents.")


def _adk() -> Adapter:
    from pytest_chatstore.adapters.adk import AdkAdapter

    return AdkAdapter()


def _is_service_store(store: object) -> bool:
    return type(store).__module__ == "pytest_chatstore.adapters.adk"


def is_adk_service(factory: object) -> bool:
    """Whether ``factory`` is a Google ADK session service class (``BaseSessionService`` by ancestry name)."""
    return _descends(factory, "BaseSessionService", "google.adk.")


def as_factory(factory: Callable[..., Any]) -> Callable[..., Any]:
    """The factory the kit calls for a target: ``factory`` itself, or, for a LangChain history class or an Agents
    SDK session class (one conversation per instance), a factory of stores keyed by session id; for a Google ADK
    session service class, a factory of stores over a fresh service each."""
    if is_langchain_history(factory):
        from pytest_chatstore.adapters.langchain import history_factory

        return history_factory(factory)
    if is_agents_session(factory):
        from pytest_chatstore.adapters.agents import session_factory

        return session_factory(factory)
    if is_adk_service(factory):
        from pytest_chatstore.adapters.adk import service_factory

        return service_factory(factory)
    return factory


ADAPTERS: list[tuple[Callable[[object], bool], Callable[[], Adapter]]] = [
    (_is_llamaindex_store, _llamaindex),
    (_is_history_store, _langchain),
    (_is_session_store, _agents),
    (_is_service_store, _adk),
]
"""(detector, adapter factory) pairs, asked in order; the native adapter is the fallback."""


def select_adapter(store: object) -> Adapter:
    """The adapter for ``store``: the first registered one whose detector accepts it, else native."""
    for detects, make in ADAPTERS:
        if detects(store):
            return make()
    return NativeAdapter()
