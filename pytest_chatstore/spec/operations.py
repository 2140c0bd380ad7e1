"""The operations registry: every store operation, written once.

The driver calls stores through it, the suite dispatches generated operations
through it, the model answers through it, capability detection reads it and
reproductions print calls from it. An operation in the suite is a tuple whose
first item is a key of :data:`OPERATIONS` and whose other items are the
arguments in the kit's terms: ``("add", key, message, idx)``, ``("get", key)``,
``("keys",)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from pytest_chatstore.spec.contract import ChatMessage

R = TypeVar("R", covariant=True)

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


Length = Callable[[], int]
"""The length of the conversation a call is on, before the call (asked only by the cases that depend on it)."""


def _one_case(args: tuple[Any, ...], length: Length) -> str:
    return ""


def _set_case(args: tuple[Any, ...], length: Length) -> str:
    return "some" if args[1] else "empty"


def _add_case(args: tuple[Any, ...], length: Length) -> str:
    return "insert" if len(args) > 2 and args[2] is not None else "append"


def _emptiness(args: tuple[Any, ...], length: Length) -> str:
    return "some" if length() else "empty"


def _index_case(args: tuple[Any, ...], length: Length) -> str:
    if args[1] < 0:
        return "negative"
    return "in range" if args[1] < length() else "past the end"


@dataclass(frozen=True)
class Operation(Generic[R]):
    """One operation of the chat-store interface; ``R`` is its answer in the kit's terms."""

    name: str
    """The kit's short name, the first item of an operation tuple."""
    sync: str
    """The sync method, as LlamaIndex's ``BaseChatStore`` names it."""
    async_: str
    """Its async twin."""
    arguments: Arguments
    answer: Answer
    model: str
    """The :class:`~pytest_chatstore.spec.model.ChatModel` method that gives the expected answer."""
    capability: str | None = None
    """The capability a store has when it has the method (None: every store must have it)."""
    index_capability: str | None = None
    """``add_message``'s optional ``idx``: passed by keyword only when the operation gives one; the capability a
    store has when it accepts one."""
    generated: bool = True
    """The random phases generate it (see ``suite.op_strategy``); the batch append and the tail read have clauses
    of their own and are left out of the state machine."""
    cases: Callable[[tuple[Any, ...], Length], str] = _one_case
    """The case of a call, from its arguments and the conversation's length before it (``delete``: ``in range``,
    ``past the end`` or ``negative``). The clause registry says whose rule governs each case
    (``Clause.answer_of``, ``effect_of`` and ``exercised_by``, written ``NAME`` or ``NAME/CASE``)."""
    case_names: tuple[str, ...] = ("",)
    """Every case :attr:`cases` may give (a test checks each clause's patterns against them)."""

    def case(self, args: tuple[Any, ...], length: Length) -> str:
        """The case of a call with ``args`` (after the operation's name)."""
        return self.cases(args, length)


SET: Operation[None] = Operation(
    "set", "set_messages", "aset_messages", "key_messages", "none", "set_messages",
    cases=_set_case, case_names=("some", "empty"),
)  # fmt: skip
GET: Operation[list[ChatMessage]] = Operation(
    "get", "get_messages", "aget_messages", "key", "messages", "get_messages",
    cases=_emptiness, case_names=("some", "empty"),
)  # fmt: skip
ADD: Operation[None] = Operation(
    "add", "add_message", "async_add_message", "key_message", "none", "add_message",
    index_capability="insert", cases=_add_case, case_names=("append", "insert"),
)  # fmt: skip
DELETE_ALL: Operation[list[ChatMessage] | None] = Operation(
    "delete_all", "delete_messages", "adelete_messages", "key", "removed", "delete_messages", "delete_all",
)  # fmt: skip
DELETE: Operation[ChatMessage | None] = Operation(
    "delete", "delete_message", "adelete_message", "key_index", "message", "delete_message", "delete_message",
    cases=_index_case, case_names=("in range", "past the end", "negative"),
)  # fmt: skip
DELETE_LAST: Operation[ChatMessage | None] = Operation(
    "delete_last", "delete_last_message", "adelete_last_message", "key", "message", "delete_last_message",
    "delete_last", cases=_emptiness, case_names=("some", "empty"),
)  # fmt: skip
KEYS: Operation[list[str]] = Operation("keys", "get_keys", "aget_keys", "nothing", "keys", "get_keys", "keys")
ADD_BATCH: Operation[None] = Operation(
    "add_batch", "add_messages", "aadd_messages", "key_messages", "none", "add_messages", "batch",
    generated=False,
)  # fmt: skip
TAIL: Operation[list[ChatMessage]] = Operation(
    "tail", "get_last_messages", "aget_last_messages", "key_index", "messages", "get_last_messages", "tail",
    generated=False,
)  # fmt: skip

OPERATIONS: dict[str, Operation[Any]] = {
    op.name: op for op in (ADD, SET, GET, DELETE_LAST, DELETE_ALL, KEYS, DELETE, ADD_BATCH, TAIL)
}
"""Operation name -> :class:`Operation`, in the order the random phases draw them (shrinking goes to the first)."""


def method_name(name: str, *, use_async: bool = False) -> str:
    """The store method for operation ``name``."""
    op = OPERATIONS[name]
    return op.async_ if use_async else op.sync


def case_of(op: tuple[Any, ...], length: Length) -> str:
    """The case of operation tuple ``op`` (see :attr:`Operation.cases`)."""
    name, *args = op
    return OPERATIONS[name].case(tuple(args), length)


def allowed(op: tuple[Any, ...], capabilities: frozenset[str]) -> bool:
    """Whether a store with ``capabilities`` has operation tuple ``op`` (an index given needs its capability)."""
    operation = OPERATIONS[op[0]]
    indexed = operation.index_capability is not None and len(op) > 3 and op[3] is not None
    needed = [c for c in (operation.capability, operation.index_capability if indexed else None) if c is not None]
    return all(c in capabilities for c in needed)


def expected_answer(model: Any, op: tuple[Any, ...]) -> Any:
    """Apply ``op`` to the model; return its answer (``delete_messages`` answers the removed list)."""
    name, *args = op
    return getattr(model, OPERATIONS[name].model)(*args)


def call_arguments(
    operation: Operation[Any], args: Sequence[Any], to_store: Callable[[Any], Any]
) -> tuple[list[Any], dict[str, Any]]:
    """The positional and keyword arguments of a call of ``operation`` with ``args`` in the kit's terms: its
    messages through ``to_store``, an optional index given as ``idx=`` (left out when ``None``)."""
    call_args = list(args)
    kwargs: dict[str, Any] = {}
    if operation.arguments == "key_messages":
        call_args[1] = [to_store(m) for m in args[1]]
    elif operation.arguments == "key_message":
        call_args[1] = to_store(args[1])
    if operation.index_capability is not None and len(call_args) > 2:
        idx = call_args.pop(2)
        if idx is not None:
            kwargs["idx"] = idx
    return call_args, kwargs
