"""The operations registry: every store operation, written once.

The driver calls stores through it, the suite dispatches generated operations
through it, the model answers through it, capability detection reads it and
reproductions print calls from it. An operation in the suite is a tuple whose
first item is a key of :data:`OPERATIONS` and whose other items are the
arguments in the kit's terms: ``("add", key, message, idx)``, ``("get", key)``,
``("keys",)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Answer = Literal["none", "messages", "message", "removed", "keys"]
"""How an answer is read and checked:

- ``none``: a write; the answer is not compared (the contract says ``None``).
- ``messages``: a list of messages, converted one by one, compared with the model's.
- ``message``: one message or ``None`` (deletes), compared with the model's.
- ``removed``: ``None`` or exactly the removed messages (``delete_messages``, DLA-002).
- ``keys``: a list of ``str`` keys, each once, compared with the model's as a set.
"""

Arguments = Literal["key", "key_messages", "key_message", "key_index", "nothing"]
"""What the store's method takes after ``self``; messages are converted by the store's adapter."""


@dataclass(frozen=True)
class Operation:
    """One operation of the chat-store interface."""

    name: str
    """The kit's short name, the first item of an operation tuple."""
    sync: str
    """The sync method, as LlamaIndex's ``BaseChatStore`` names it."""
    async_: str
    """Its async twin."""
    arguments: Arguments
    answer: Answer
    model: str
    """The :class:`~pytest_chatstore.model.ChatModel` method that gives the expected answer."""
    capability: str | None = None
    """The capability a store has when it has the method (None: every store must have it)."""
    optional_index: bool = False
    """``add_message``'s ``idx``: passed by keyword only when the operation gives one."""


OPERATIONS: dict[str, Operation] = {
    op.name: op
    for op in (
        Operation("set", "set_messages", "aset_messages", "key_messages", "none", "set_messages"),
        Operation("get", "get_messages", "aget_messages", "key", "messages", "get_messages"),
        Operation("add", "add_message", "async_add_message", "key_message", "none", "add_message", optional_index=True),
        Operation(
            "delete_all", "delete_messages", "adelete_messages", "key", "removed", "delete_messages", "delete_all"
        ),
        Operation(
            "delete", "delete_message", "adelete_message", "key_index", "message", "delete_message", "delete_message"
        ),
        Operation(
            "delete_last",
            "delete_last_message",
            "adelete_last_message",
            "key",
            "message",
            "delete_last_message",
            "delete_last",
        ),
        Operation("keys", "get_keys", "aget_keys", "nothing", "keys", "get_keys", "keys"),
        Operation("add_batch", "add_messages", "aadd_messages", "key_messages", "none", "add_messages", "batch"),
        Operation(
            "tail", "get_last_messages", "aget_last_messages", "key_index", "messages", "get_last_messages", "tail"
        ),
    )
}
"""Operation name -> :class:`Operation`."""


def method_name(name: str, *, use_async: bool = False) -> str:
    """The store method for operation ``name``."""
    op = OPERATIONS[name]
    return op.async_ if use_async else op.sync


def expected_answer(model: Any, op: tuple[Any, ...]) -> Any:
    """Apply ``op`` to the model; return its answer (``delete_messages`` answers the removed list)."""
    name, *args = op
    return getattr(model, OPERATIONS[name].model)(*args)
