"""OpenAI Agents SDK sessions (its ``Session`` protocol) under the kit: thin and optional.

A session holds *one* conversation and is async only: ``get_items(limit=None)``,
``add_items(items)``, ``pop_item()``, ``clear_session()``. :class:`SessionStore`
turns a session class into a store of many: the conversation key becomes the
``session_id``, one session object per key, made on first use and reused. It
offers what sessions can do, and nothing the adapter would have to invent:

- read: ``get_items()``; the tail read (the ``tail`` capability, TAL-001/TAL-002):
  ``get_items(limit)``; append and batch append: ``add_items``;
- delete-last: ``pop_item()``; delete-all: ``clear_session()`` (it answers ``None``);
- replace: ``clear_session()`` then ``add_items`` (the protocol has no replace). Two calls,
  so not atomic: a fault between them leaves the conversation emptied, which is the
  adapter's doing, so FLT-003 reports it and does not judge it (:attr:`SessionStore.composed`);
- insert or delete at an index, and key listing, are absent: their clauses are skipped,
  naming the capability.

The native calls are the async twins; each sync method runs its twin to completion on the
calling thread's event loop (the kit calls stores on its own threads, never inside a running
loop).

Items are the SDK's own dictionaries. A plain message item, ``{"role": r, "content": text}``,
is the kit's ``ChatMessage(r, text)``; its ``additional_kwargs``, if any, travel under the
item's ``additional_kwargs`` key (a key of the kit's, which a backend storing items as JSON
keeps). Any other item (``function_call``, ``function_call_output``, ``reasoning``, a message
with structured content) is ``ChatMessage("agents:<type>", "", {"item": item})``: fidelity is
compared on the item itself, so any field a backend drops shows. This module imports the SDK
only when a session is under test (``pip install 'pytest-chatstore[agents]'``).
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Sequence
from typing import Any

from hypothesis import strategies as st

from pytest_chatstore.adapters.base import Loop, NotAMessage, PerKeyStore
from pytest_chatstore.engine import strategies as cst
from pytest_chatstore.spec.contract import ChatMessage

PREFIX = "agents:"
_PLAIN = {"role", "content", "additional_kwargs"}


class SessionStore(PerKeyStore):
    """Many conversations on top of a one-conversation Agents SDK session class (one session per key)."""

    def __init__(self, make: Callable[[str], Any], backend_class: type | None = None) -> None:
        super().__init__(make, backend_class)
        self._loop = Loop()

    def session(self, key: str) -> Any:
        """The session of conversation ``key`` (made on first use, then reused)."""
        return self.one(key)

    # -- the session's calls, on the store's loop ----------------------------------------------
    async def _get(self, key: str, limit: int | None = None) -> list[dict[str, Any]]:
        session = self.session(key)
        return list(await (session.get_items() if limit is None else session.get_items(limit=limit)))

    async def _add(self, key: str, items: Sequence[Any], *, checked: bool) -> None:
        batch = _items_only(items) if checked else list(items)  # the kit's own list: checked before any call
        if batch:
            await self.session(key).add_items(batch)

    async def _replace(self, key: str, items: Sequence[Any]) -> None:
        batch = _items_only(items)  # checked first, so a bad list clears nothing
        session = self.session(key)
        await session.clear_session()
        if batch:
            await session.add_items(batch)

    async def _pop(self, key: str) -> dict[str, Any] | None:
        popped: dict[str, Any] | None = await self.session(key).pop_item()
        return popped

    async def _clear(self, key: str) -> None:
        await self.session(key).clear_session()

    # -- the async twins -------------------------------------------------------------------------
    async def aget_messages(self, key: str) -> list[dict[str, Any]]:
        return await self._loop.run(self._get(key))

    async def aget_last_messages(self, key: str, limit: int) -> list[dict[str, Any]]:
        """The tail read, ``get_items(limit)``, passed as given (its handling of 0 and negatives is the session's)."""
        return await self._loop.run(self._get(key, limit))

    async def async_add_message(self, key: str, message: dict[str, Any]) -> None:
        await self._loop.run(self._add(key, [message], checked=False))  # the session's own check is BAD-003's

    async def aadd_messages(self, key: str, messages: Sequence[dict[str, Any]]) -> None:
        await self._loop.run(self._add(key, messages, checked=True))

    async def aset_messages(self, key: str, messages: Sequence[dict[str, Any]]) -> None:
        await self._loop.run(self._replace(key, messages))

    async def adelete_last_message(self, key: str) -> dict[str, Any] | None:
        return await self._loop.run(self._pop(key))

    async def adelete_messages(self, key: str) -> None:
        await self._loop.run(self._clear(key))

    # -- the sync methods: the same calls, waited for ------------------------------------------------
    def get_messages(self, key: str) -> list[dict[str, Any]]:
        return self._loop.wait(self._get(key))

    def get_last_messages(self, key: str, limit: int) -> list[dict[str, Any]]:
        return self._loop.wait(self._get(key, limit))

    def add_message(self, key: str, message: dict[str, Any]) -> None:
        self._loop.wait(self._add(key, [message], checked=False))

    def add_messages(self, key: str, messages: Sequence[dict[str, Any]]) -> None:
        self._loop.wait(self._add(key, messages, checked=True))

    def set_messages(self, key: str, messages: Sequence[dict[str, Any]]) -> None:
        self._loop.wait(self._replace(key, messages))

    def delete_last_message(self, key: str) -> dict[str, Any] | None:
        return self._loop.wait(self._pop(key))

    def delete_messages(self, key: str) -> None:
        self._loop.wait(self._clear(key))

    def close(self) -> None:
        """Close every session that has ``close()`` (SQLite sessions hold connections), then stop the loop."""
        try:
            for session in self.made():
                close = getattr(session, "close", None)
                if callable(close):
                    result = close()
                    if inspect.iscoroutine(result):
                        self._loop.wait(result)
        finally:
            self._loop.stop()


def _items_only(items: Sequence[Any]) -> list[dict[str, Any]]:
    batch = list(items)
    for item in batch:
        if not isinstance(item, dict):
            raise TypeError(f"not an item (a dict): {type(item).__name__}")
    return batch


def session_factory(session: Callable[..., Any], /, **kwargs: Any) -> Callable[[], SessionStore]:
    """The kit's factory of stores for an Agents SDK session: name it as the ``--chatstore`` target.

    ``session`` is a session class (``SQLiteSession``), or any callable that builds one session from a
    session id; it is called once per conversation key with the key as ``session_id`` (or as the only
    argument, for a callable taking one positional parameter) and ``kwargs`` as given here: a database
    path, an engine, a client. Example::

        make_sessions = session_factory(SQLiteSession, db_path="chat.db")
        # pytest --chatstore=mytests.stores:make_sessions --chatstore-only

    A session class given directly as the target (``--chatstore=agents:SQLiteSession``) gets
    ``session_factory(cls)``.
    """
    try:
        params = inspect.signature(session).parameters
    except (TypeError, ValueError):
        params = {}  # type: ignore[assignment]
    by_name = "session_id" in params and "session_id" not in kwargs

    def build() -> SessionStore:
        def make(key: str) -> Any:
            return session(session_id=key, **kwargs) if by_name else session(key, **kwargs)

        return SessionStore(make, session if isinstance(session, type) else None)

    build.__name__ = build.__qualname__ = getattr(session, "__name__", "sessions")
    return build


class AgentsAdapter:
    """Converts between the kit's messages and the SDK's items (dictionaries)."""

    name = "agents"

    def to_store(self, message: ChatMessage) -> dict[str, Any]:
        if message.role.startswith(PREFIX):
            item: dict[str, Any] = copy.deepcopy(message.additional_kwargs["item"])
            return item
        made: dict[str, Any] = {"role": message.role, "content": message.content}
        if message.additional_kwargs:
            made["additional_kwargs"] = copy.deepcopy(message.additional_kwargs)
        return made

    def from_store(self, obj: object) -> ChatMessage:
        if not isinstance(obj, dict):
            raise NotAMessage(f"expected an item (a dict), got {type(obj).__name__}: {obj!r:.120}")
        role, content, kwargs = obj.get("role"), obj.get("content"), obj.get("additional_kwargs", {})
        plain = set(obj) <= _PLAIN and isinstance(kwargs, dict)
        if plain and isinstance(content, str) and isinstance(role, str) and not role.startswith(PREFIX):
            return ChatMessage(role, content, copy.deepcopy(kwargs))
        kind = obj.get("type", "message")
        return ChatMessage(f"{PREFIX}{kind}", "", {"item": copy.deepcopy(obj)})

    def kwargs_of(self, item: dict[str, Any]) -> dict[str, Any]:
        """An item's ``additional_kwargs`` (made empty if it has none)."""
        kwargs: dict[str, Any] = item.setdefault("additional_kwargs", {})
        return kwargs


def _item(kind: str, **fields: Any) -> ChatMessage:
    return ChatMessage(f"{PREFIX}{kind}", "", {"item": {"type": kind, **fields}})


_ids = st.text("abcdef0123456789", min_size=1, max_size=12)
_names = st.text("abcxyz_", min_size=1, max_size=8)
agents_items: st.SearchStrategy[ChatMessage] = st.one_of(
    st.builds(
        lambda role, text: _item("message", role=role, content=[{"type": "input_text", "text": text}]),
        st.sampled_from(["user", "system", "developer"]),
        cst.texts,
    ),
    st.builds(
        lambda item_id, text: _item(
            "message",
            id=item_id,
            role="assistant",
            status="completed",
            content=[{"type": "output_text", "text": text, "annotations": []}],
        ),
        _ids,
        cst.texts,
    ),
    st.builds(
        lambda call_id, name, args: _item("function_call", call_id=call_id, name=name, arguments=args),
        _ids,
        _names,
        cst.texts,
    ),
    st.builds(lambda call_id, out: _item("function_call_output", call_id=call_id, output=out), _ids, cst.texts),
    st.builds(
        lambda item_id, text: _item("reasoning", id=item_id, summary=[{"type": "summary_text", "text": text}]),
        _ids,
        cst.texts,
    ),
)
"""The SDK's item types with their own fields, as the kit's messages (see the module docstring)."""


AgentsAdapter.messages = agents_items  # type: ignore[attr-defined]  # FID-001 draws from it
