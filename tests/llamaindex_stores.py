"""LlamaIndex stores for the adapter tests: the reference stores behind LlamaIndex's interface."""

from __future__ import annotations

from reference_impls.llamaindex import LlamaIndexChatStore


def in_memory() -> LlamaIndexChatStore:
    """The in-memory reference store through the LlamaIndex adapter: must pass every clause that applies."""
    return LlamaIndexChatStore()


def on_redis(redis_url: str, ttl: float | None = None) -> LlamaIndexChatStore:
    """The Redis reference store behind LlamaIndex's BaseChatStore."""
    return LlamaIndexChatStore.redis(redis_url, ttl=ttl)
