"""The chat-store contract: the message type, the store protocol and the factory protocol.

Each sentence of a docstring below is a promise the conformance suite checks;
the clause ID that checks it is given in brackets, and every clause of the
registry (:mod:`pytest_chatstore.spec.clauses`) is named here (a test keeps it so).
``docs/spec.md`` lists the same clauses with their levels and troubleshooting
hints.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

JSONValue = Any
"""A JSON-native value: ``None``, ``bool``, ``int``, ``float``, ``str``, lists
and ``str``-keyed dicts of those. (Spelled ``Any`` because mypy cannot check a
recursive alias against real-world ``dict[str, Any]`` payloads.)"""


def json_equal(a: object, b: object) -> bool:
    """Equality as JSON sees it: an ``int`` and a ``float`` are equal when they are the same number as a
    double (PostgreSQL's JSONB returns ``5.4e16`` as ``54000000000000000``); a ``bool`` is never a number."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and type(a) is not type(b):
        try:
            return float(a) == float(b)
        except OverflowError:
            return False
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


@dataclass(eq=False)
class ChatMessage:
    """One chat message, compared by value.

    ``role`` is a free-form string (``"user"``, ``"assistant"``, ``"system"``,
    ``"tool"``...), ``content`` the text, ``additional_kwargs`` any JSON-native
    dict (tool calls, ids, metadata). A store may return any object with these
    three attributes; the kit compares them by value.
    """

    role: str
    content: str
    additional_kwargs: dict[str, JSONValue] = field(default_factory=dict)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ChatMessage):
            return NotImplemented
        return (
            self.role == other.role
            and self.content == other.content
            and json_equal(self.additional_kwargs, other.additional_kwargs)
        )

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value

    def __repr__(self) -> str:
        extra = f", {self.additional_kwargs!r}" if self.additional_kwargs else ""
        return f"ChatMessage({self.role!r}, {self.content!r}{extra})"

    def copy(self) -> ChatMessage:
        """Return a deep copy: changing it never changes this message."""
        extra = self.additional_kwargs
        return ChatMessage(self.role, self.content, copy.deepcopy(extra) if extra else {})  # most have none


@runtime_checkable
class MessageLike(Protocol):
    """Anything with the three message attributes (LlamaIndex's ``ChatMessage`` too)."""

    @property
    def role(self) -> Any: ...

    @property
    def content(self) -> Any: ...

    @property
    def additional_kwargs(self) -> Any: ...


class ChatStore(Protocol):
    """A store of conversations: per key, an ordered list of messages.

    Semantics are those of a dict of Python lists: under any interleaving of
    operations on several keys, every return value and the full state agree
    with the reference model, :class:`pytest_chatstore.spec.model.ChatModel`
    [MDL-001].

    Keys: any non-empty ``str`` is a key [KEY-003]; different strings are
    different conversations [KEY-004], including keys that differ only by a
    comma-separated part or by their length past 64 or 255 characters
    [KEY-006].

    Concurrency (unless the store declares the ``threads`` capability absent):
    threads appending to one key at once lose no message and keep each
    writer's own order [CON-001]; threads deleting from one key at once
    remove each message once, returning it to exactly one caller [CON-002];
    asyncio tasks appending at once lose nothing and keep each task's order
    [CON-003]; concurrent histories of append, insert, delete and read are
    linearizable against the model [CON-004].

    Scale: ``get_keys`` lists each of 1,000 or more conversations once
    [SCL-001]; a conversation of 20,000 or more messages comes back whole and
    in order, and deletes at both ends act on the right messages [SCL-002];
    four 1 MB messages in one conversation, and ``additional_kwargs`` nested
    100 levels deep, come back exactly [SCL-003].

    Bad input: a key that is not a ``str`` [BAD-001], an ``idx`` that is not an
    ``int`` [BAD-002] and an object that is not a message [BAD-003] are refused
    with ``TypeError`` or ``ValueError``, and the store is unchanged (a
    ``set_messages`` with one bad element writes nothing).
    """

    def set_messages(self, key: str, messages: Sequence[ChatMessage]) -> None:
        """Replace the whole conversation at ``key`` with ``messages`` [SET-001].

        After ``set_messages(key, [])`` the key holds no messages [SET-002].
        Later changes to the ``messages`` list or to its messages change nothing
        in the store [OWN-002].
        """

    def get_messages(self, key: str) -> list[ChatMessage]:
        """Return the conversation's messages in the order the operations produced [ORD-001].

        An unknown key gives ``[]`` [ORD-002]. Every message comes back equal in
        role, content and additional_kwargs to what was stored [FID-001, FID-002,
        FID-003]; long conversations lose nothing [FID-004]; integers in
        ``additional_kwargs`` stay integers of the same value, beyond 2**53 too
        [FID-005]. Changing the returned list or its messages changes nothing in
        the store [OWN-001], nor does changing nested data in their
        ``additional_kwargs`` [OWN-004].
        """
        ...

    def add_message(self, key: str, message: ChatMessage, idx: int | None = None) -> None:
        """Append ``message``, or insert it as ``list.insert(idx, message)`` would.

        Without ``idx`` the message goes last [INS-001]. With ``idx`` the result
        is exactly ``list.insert(idx, message)``, negative and out-of-range
        indices included [INS-002]. Changing the message afterwards changes
        nothing in the store [OWN-003].
        """

    def delete_messages(self, key: str) -> list[ChatMessage] | None:
        """Remove every message at ``key`` [DLA-001].

        Return ``None`` or exactly the removed messages [DLA-002].
        """
        ...

    def delete_message(self, key: str, idx: int) -> ChatMessage | None:
        """Remove and return the message at ``idx``, as ``list.pop(idx)`` would.

        For ``0 <= idx < len`` the message at ``idx`` is removed and returned,
        and the others keep their order [DEL-001]. An index ``>= len`` or an
        unknown key returns ``None`` and changes nothing [DEL-002]. A negative
        index never removes any message other than the one ``list.pop(idx)``
        would, and never raises [DEL-003]; ideally it removes exactly that one
        (``None`` below ``-len``) [DEL-004].
        """
        ...

    def delete_last_message(self, key: str) -> ChatMessage | None:
        """Remove and return the last message [DLL-001].

        Return ``None`` for an unknown or emptied conversation [DLL-002].
        """
        ...

    def get_keys(self) -> list[str]:
        """List every key holding at least one message, each once, in any order.

        Nothing the store did not write is listed [KEY-001]. A conversation
        emptied by deletes or by ``set_messages(key, [])`` is not listed [KEY-002].
        """
        ...


class BatchChatStore(Protocol):
    """The optional batch append (LangChain's ``add_messages``; the ``batch`` capability)."""

    def add_messages(self, key: str, messages: Sequence[ChatMessage]) -> None:
        """Append ``messages`` in one call.

        The batch stays contiguous and in order while other threads append to
        the same key [BAT-001].
        """


class TailChatStore(Protocol):
    """The optional tail read (the Agents SDK's ``get_items(limit)``; the ``tail`` capability)."""

    def get_last_messages(self, key: str, limit: int) -> list[ChatMessage]:
        """Return the last ``limit`` messages at ``key``, oldest first: all of them when there are fewer
        [TAL-001].

        A ``limit`` of 0 returns ``[]``; a negative one raises ``ValueError`` or ``TypeError``, or returns
        ``[]``, never the whole conversation [TAL-002].
        """
        ...


class ChatStoreFactory(Protocol):
    """What ``--chatstore=MODULE:ATTR`` names: a class or callable building one store per test example.

    It is called with the keyword arguments it names among ``ttl``, ``clock``,
    ``redis_url``, ``namespace`` and ``proxied`` (see :mod:`pytest_chatstore.engine.targets`). A
    store it builds starts empty: no keys, no messages [FRE-001]. A store
    sharing a Redis database with others lists none of their keys, nor any key
    it did not write [KEY-005].

    Stores built with the same ``redis_url`` or ``namespace`` share their data
    (the ``shared`` capability): a write through one is read at once through
    another [SHR-001]; threads and asyncio tasks writing through different
    instances lose nothing and stay linearizable [SHR-002]; a store built
    later sees everything written before [SHR-003]; worker processes, each
    with its own store, lose nothing and leave a linearizable final state
    [PRC-001].

    With ``ttl`` (seconds), conversations expire:

    - a conversation with no write for ``ttl`` seconds is gone: reads give
      ``[]``, ``get_keys`` does not list it, the deletes give ``None``
      [TTL-001]; nothing expires earlier [TTL-002];
    - every ``add_message`` (with or without ``idx``) and every non-empty
      ``set_messages`` gives the conversation a full ``ttl`` from that moment
      [TTL-003];
    - no operation leaves a conversation that never expires: after a delete
      that leaves messages it expires no later than ``ttl`` after that delete
      [TTL-004];
    - reads do not extend a conversation's life [TTL-005];
    - after a conversation expired, writing to its key starts a new
      conversation holding only the new messages [TTL-006];
    - a store built with ``ttl=None`` never expires anything [TTL-007].

    With ``clock`` (a zero-argument callable returning seconds) the store reads
    time from it, so the kit moves time by hand; then, under any interleaving
    of operations and the passing of time, every answer and the full state
    agree with the model [TTL-008].

    On an imperfect network (the ``faults`` capability: the factory takes
    ``redis_url``, or ``proxied``, a callable mapping the server's host and port
    to the address of the kit's fault proxy), with a request or a reply lost,
    or the server out of reach for a while:

    - a write whose reply was lost is applied at most once [FLT-001];
    - a write that returns normally was applied: connection errors are raised,
      never swallowed [FLT-002];
    - a write interrupted at any of its requests leaves the conversation as it
      was or as the write makes it, never a mix [FLT-003];
    - a read that cannot get its answer raises, or answers what the server
      holds, never an empty conversation [FLT-004];
    - once the fault clears, the same store works again within three calls,
      and what was written before it is intact [FLT-005].
    """

    def __call__(self, **injected: Any) -> ChatStore: ...


class AsyncChatStore(Protocol):
    """The optional async twins. Each answers as its sync twin [PAR-001], and
    sync and async calls see one and the same store [PAR-002]."""

    async def aset_messages(self, key: str, messages: Sequence[ChatMessage]) -> None:
        """Async ``set_messages``."""

    async def aget_messages(self, key: str) -> list[ChatMessage]:
        """Async ``get_messages``."""
        ...

    async def async_add_message(self, key: str, message: ChatMessage, idx: int | None = None) -> None:
        """Async ``add_message``."""

    async def adelete_messages(self, key: str) -> list[ChatMessage] | None:
        """Async ``delete_messages``."""
        ...

    async def adelete_message(self, key: str, idx: int) -> ChatMessage | None:
        """Async ``delete_message``."""
        ...

    async def adelete_last_message(self, key: str) -> ChatMessage | None:
        """Async ``delete_last_message``."""
        ...

    async def aget_keys(self) -> list[str]:
        """Async ``get_keys``."""
        ...

    async def aget_last_messages(self, key: str, limit: int) -> list[ChatMessage]:
        """Async ``get_last_messages`` (a store with the ``tail`` capability)."""
        ...
