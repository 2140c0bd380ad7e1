"""Adapters: how the kit hands messages to a store and reads them back.

An adapter converts :class:`pytest_chatstore.ChatMessage` to the store's own
message type and back. The native adapter passes ``ChatMessage`` objects; the
LlamaIndex adapter converts to ``llama_index.core.llms.ChatMessage``. An adapter
is chosen by :func:`select_adapter`, which asks each registered *detector* in
turn whether the store is one of its family; the first that says yes builds
its adapter, and the native adapter is the fallback. The frameworks the kit
knows are one table, :data:`FRAMEWORKS`; their detectors look at class names
only, so that loading the kit never imports llama-index, LangChain, the Agents
SDK or ADK. Adapters for other ecosystems register a (detector, adapter
factory) pair by appending to :data:`ADAPTERS`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pytest_chatstore.adapters.base import Adapter, NativeAdapter, NotAMessage, as_chat_message

__all__ = [
    "ADAPTERS",
    "FRAMEWORKS",
    "Adapter",
    "Framework",
    "NativeAdapter",
    "NotAMessage",
    "as_chat_message",
    "as_factory",
    "select_adapter",
]


def _descends(cls: object, name: str, package: str) -> bool:
    """Whether ``cls`` is a class with an ancestor called ``name`` from ``package``: by name, so that loading the kit
    never imports llama-index, LangChain or the Agents SDK."""
    return isinstance(cls, type) and any(
        base.__name__ == name and base.__module__.startswith(package) for base in cls.__mro__
    )


@dataclass(frozen=True)
class Framework:
    """A framework the kit knows: how its stores are recognized, adapted and, where a target is one conversation
    (or one service) rather than a chat store, wrapped into one."""

    module: str
    """The kit's module for it, under ``pytest_chatstore.adapters``."""
    adapter: str
    """The adapter class in that module."""
    base: str
    """The ancestor class (by name) that marks the framework's stores, or the target classes the kit wraps."""
    package: str
    """The package that ancestor comes from."""
    wrapper: str | None = None
    """The function of the module that makes a factory of chat stores from a target class, and whose stores it
    adapts; ``None``: the framework's stores are chat stores themselves."""

    def _load(self, name: str) -> Any:
        return getattr(importlib.import_module(f"pytest_chatstore.adapters.{self.module}"), name)

    def makes(self, factory: object) -> bool:
        """Whether ``factory`` is a target class the kit wraps."""
        return self.wrapper is not None and _descends(factory, self.base, self.package)

    def adapts(self, store: object) -> bool:
        """Whether ``store`` is one of this framework's stores (one the kit wrapped, for a wrapping framework)."""
        if self.wrapper is not None:
            return type(store).__module__ == f"pytest_chatstore.adapters.{self.module}"
        return _descends(type(store), self.base, self.package)

    def wrap(self, factory: Callable[..., Any]) -> Callable[..., Any]:
        assert self.wrapper is not None
        wrapped: Callable[..., Any] = self._load(self.wrapper)(factory)
        return wrapped

    def make_adapter(self) -> Adapter:
        made: Adapter = self._load(self.adapter)()
        return made


FRAMEWORKS = (
    Framework("llamaindex", "LlamaIndexAdapter", "BaseChatStore", "llama_index."),
    Framework("langchain", "LangChainAdapter", "BaseChatMessageHistory", "langchain_core.", "history_factory"),
    Framework("agents", "AgentsAdapter", "SessionABC", "agents.", "session_factory"),
    Framework("adk", "AdkAdapter", "BaseSessionService", "google.adk.", "service_factory"),
)
"""The frameworks the kit knows, in the order their detectors are asked. LangChain histories and Agents SDK
sessions are one conversation per instance, so the kit wraps the class into a factory of stores keyed by session
id; a Google ADK session service class becomes a factory of stores over a fresh service each."""


def as_factory(factory: Callable[..., Any]) -> Callable[..., Any]:
    """The factory the kit calls for a target: ``factory`` itself, or a framework's wrapper of it
    (:attr:`Framework.wrapper`)."""
    framework = next((f for f in FRAMEWORKS if f.makes(factory)), None)
    return framework.wrap(factory) if framework is not None else factory


ADAPTERS: list[tuple[Callable[[object], bool], Callable[[], Adapter]]] = [
    (f.adapts, f.make_adapter) for f in FRAMEWORKS
]
"""(detector, adapter factory) pairs, asked in order; the native adapter is the fallback. An adapter for
another framework is registered by appending its pair."""


def select_adapter(store: object) -> Adapter:
    """The adapter for ``store``: the first registered one whose detector accepts it, else native."""
    for detects, make in ADAPTERS:
        if detects(store):
            return make()
    return NativeAdapter()
