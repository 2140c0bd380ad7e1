"""Google ADK session services (``BaseSessionService``) under the kit: thin and optional.

A session service holds many sessions, each an ordered list of *events*, addressed by
``(app_name, user_id, session_id)``, and is async only. :class:`ServiceStore` makes one
service a store: the conversation key is the ``session_id``, under one ``app_name`` (the
kit's ``namespace`` when the factory takes one, so stores sharing a database share it) and one
``user_id``. It offers what the service can do, and nothing the adapter would have to invent:

- read: ``get_session(...).events`` (no session: no messages); the tail read (the ``tail``
  capability, TAL-001/TAL-002): ``get_session(config=GetSessionConfig(num_recent_events=n))``,
  whose config refuses a negative ``n`` itself;
- append: ``get_session``, then ``create_session`` when there is none, then ``append_event``;
- delete-all: ``delete_session``; key listing: ``list_sessions(...)``'s session ids;
- replace: ``delete_session``, ``create_session``, then one ``append_event`` per message (the
  service has no replace). Several calls, so not atomic: a fault between them leaves a mix
  that is the adapter's doing, so FLT-003 reports it and does not judge it (:attr:`ServiceStore.composed`);
- delete-last, and insert or delete at an index, are absent (the service has no such calls;
  its rewind belongs to the runner): their clauses are skipped, naming the capability.

Each event is stamped with the time it is appended, as ADK's runner does, not when the kit
built it. Every call runs on one event loop of the store's own (:class:`~pytest_chatstore.adapters.base.Loop`).

Messages are events. The kit's ``ChatMessage(role, text, kwargs)`` is an event whose
``author`` is the role, whose ``content`` is ``Content(role="user" if role == "user" else
"model", parts=[Part(text=text)])`` (the two content roles Gemini knows), and whose
``custom_metadata`` carries the kwargs. Any other event (a function call, a function
response, several parts) is ``ChatMessage("adk:event", "", {"content": ..., "author": ...})``,
compared on its content as JSON, so a part a backend drops shows. This module imports ADK only
when a service is under test (``pip install 'pytest-chatstore[adk]'``).
"""

from __future__ import annotations

import copy
import inspect
import time
from collections.abc import Callable, Sequence
from typing import Any

from hypothesis import strategies as st

from pytest_chatstore.adapters.base import Loop, NotAMessage
from pytest_chatstore.engine import strategies as cst
from pytest_chatstore.spec.contract import ChatMessage

EVENT = "adk:event"
APP = "chatstore"
USER = "chatstore"


class ServiceStore:
    """Many conversations on one ADK session service: a conversation is a session."""

    composed = frozenset({"set"})
    """Replace is delete, create, then appends (see the module docstring): FLT-003 does not judge it."""

    keys_reach_backend = True

    def __init__(self, service: Any, app_name: str = APP, user_id: str = USER) -> None:
        self.service = service
        self.app_name = app_name
        self.user_id = user_id
        self._loop = Loop()

    def backend_class(self) -> type:
        """The service's class: the report names its distribution, not the adapter's."""
        return type(self.service)

    def _where(self, key: str) -> dict[str, Any]:
        return {"app_name": self.app_name, "user_id": self.user_id, "session_id": key}

    # -- the service's calls, on the store's loop ----------------------------------------------
    async def _get(self, key: str, limit: int | None = None) -> list[Any]:
        config = None
        if limit is not None:
            from google.adk.sessions.base_session_service import GetSessionConfig

            config = GetSessionConfig(num_recent_events=limit)  # refuses a negative limit itself
        session = await self.service.get_session(**self._where(key), config=config)
        return [] if session is None else list(session.events)

    async def _session(self, key: str) -> Any:
        """The session to append to: looked up without its events (what ADK's runner holds already costs it
        nothing), made when there is none."""
        from google.adk.sessions.base_session_service import GetSessionConfig

        config = GetSessionConfig(num_recent_events=0)
        session = await self.service.get_session(**self._where(key), config=config)
        if session is None:
            from google.adk.errors.already_exists_error import AlreadyExistsError

            try:
                session = await self.service.create_session(**self._where(key))
            except AlreadyExistsError:  # another writer made it first: ADK's own answer to a lost race
                session = await self.service.get_session(**self._where(key), config=config)
        return session

    async def _append(self, key: str, events: Sequence[Any]) -> None:
        session = await self._session(key)
        for event in events:
            if type(event).__name__ == "Event":  # anything else goes to the service as given: BAD-003 is its check
                event.timestamp = time.time()  # when it is appended, as ADK's runner stamps its events
            await self.service.append_event(session, event)

    async def _add(self, key: str, event: Any) -> None:
        await self._append(key, [event])

    async def _replace(self, key: str, events: Sequence[Any]) -> None:
        batch = _events_only(events)  # checked first, so a bad list deletes nothing
        await self._clear(key)
        if batch:
            await self._append(key, batch)

    async def _clear(self, key: str) -> None:
        await self.service.delete_session(**self._where(key))

    async def _keys(self) -> list[str]:
        listed = await self.service.list_sessions(app_name=self.app_name, user_id=self.user_id)
        return [session.id for session in listed.sessions]

    # -- the async twins -------------------------------------------------------------------------
    async def aget_messages(self, key: str) -> list[Any]:
        return await self._loop.run(self._get(key))

    async def aget_last_messages(self, key: str, limit: int) -> list[Any]:
        return await self._loop.run(self._get(key, limit))

    async def async_add_message(self, key: str, message: Any) -> None:
        await self._loop.run(self._add(key, message))  # the service's own check is BAD-003's

    async def aset_messages(self, key: str, messages: Sequence[Any]) -> None:
        await self._loop.run(self._replace(key, messages))

    async def adelete_messages(self, key: str) -> None:
        await self._loop.run(self._clear(key))

    async def aget_keys(self) -> list[str]:
        return await self._loop.run(self._keys())

    # -- the sync methods: the same calls, waited for ------------------------------------------------
    def get_messages(self, key: str) -> list[Any]:
        return self._loop.wait(self._get(key))

    def get_last_messages(self, key: str, limit: int) -> list[Any]:
        return self._loop.wait(self._get(key, limit))

    def add_message(self, key: str, message: Any) -> None:
        self._loop.wait(self._add(key, message))

    def set_messages(self, key: str, messages: Sequence[Any]) -> None:
        self._loop.wait(self._replace(key, messages))

    def delete_messages(self, key: str) -> None:
        self._loop.wait(self._clear(key))

    def get_keys(self) -> list[str]:
        return self._loop.wait(self._keys())

    def close(self) -> None:
        """Close the service if it can be closed (a database service holds an engine), then stop the loop."""
        try:
            for name in ("close", "aclose"):
                close = getattr(self.service, name, None)
                if callable(close):
                    result = close()
                    if inspect.iscoroutine(result):
                        self._loop.wait(result)
                    break
        finally:
            self._loop.stop()


def _events_only(events: Sequence[Any]) -> list[Any]:
    batch = list(events)
    for event in batch:
        if type(event).__name__ != "Event":
            raise TypeError(f"not an ADK event: {type(event).__name__}")
    return batch


def service_factory(service: Callable[..., Any], /, *, shared: bool | None = None, **kwargs: Any) -> Callable[..., Any]:
    """The kit's factory of stores for an ADK session service: name it as the ``--chatstore`` target.

    ``service`` is a session service class (``InMemorySessionService``, ``DatabaseSessionService``) or
    any callable that builds one; it is called once per store with ``kwargs`` as given here (a
    database URL, a path). Example::

        make_services = service_factory(DatabaseSessionService, db_url="sqlite+aiosqlite:///chat.db")
        # pytest --chatstore=mytests.stores:make_services --chatstore-only

    ``shared``: whether services built with the same ``kwargs`` see each other's sessions (one
    database); by default, whenever ``kwargs`` are given. A shared factory takes the kit's
    ``namespace`` as the ``app_name``, so each test's conversations are its own, and the sharing
    clauses check it. A service class given directly as the target
    (``--chatstore=google.adk.sessions:InMemorySessionService``) gets ``service_factory(cls)``: a
    fresh service per store, sharing nothing.
    """
    name = getattr(service, "__name__", "services")
    if shared if shared is not None else bool(kwargs):

        def build_shared(namespace: str) -> ServiceStore:
            return ServiceStore(service(**kwargs), app_name=namespace)

        build_shared.__name__ = build_shared.__qualname__ = name
        return build_shared

    def build() -> ServiceStore:
        return ServiceStore(service(**kwargs))

    build.__name__ = build.__qualname__ = name
    return build


class AdkAdapter:
    """Converts between the kit's messages and ADK's events."""

    name = "adk"

    def to_store(self, message: ChatMessage) -> Any:
        from google.adk.events import Event
        from google.genai import types

        if message.role == EVENT:
            kwargs = message.additional_kwargs
            content = types.Content.model_validate(copy.deepcopy(kwargs["content"]))
            return Event(author=kwargs["author"], invocation_id="chatstore", content=content)
        content = types.Content(
            role="user" if message.role == "user" else "model", parts=[types.Part(text=message.content)]
        )
        metadata = copy.deepcopy(message.additional_kwargs) or None
        return Event(author=message.role, invocation_id="chatstore", content=content, custom_metadata=metadata)

    def kwargs_of(self, event: Any) -> dict[str, Any]:
        """The event's ``custom_metadata``, where its message's kwargs live (OWN-003/004 change them there)."""
        if event.custom_metadata is None:
            event.custom_metadata = {}
        metadata: dict[str, Any] = event.custom_metadata
        return metadata

    def from_store(self, obj: object) -> ChatMessage:
        if type(obj).__name__ != "Event" or not hasattr(obj, "content"):
            raise NotAMessage(f"expected an ADK event, got {type(obj).__name__}: {obj!r:.120}")
        event: Any = obj
        content = event.content
        if content is not None and not hasattr(content, "model_dump"):  # set by hand on a kept event (OWN-003)
            return ChatMessage(event.author, content, copy.deepcopy(event.custom_metadata or {}))
        dumped = {} if content is None else content.model_dump(mode="json", exclude_none=True)
        parts = dumped.get("parts", [])
        texts = len(parts) == 1 and set(parts[0]) == {"text"}
        role = "user" if event.author == "user" else "model"
        if texts and dumped.get("role") == role and event.author != EVENT:
            return ChatMessage(event.author, parts[0]["text"], copy.deepcopy(event.custom_metadata or {}))
        return ChatMessage(EVENT, "", {"content": dumped, "author": event.author})


def _event(author: str, role: str, part: dict[str, Any]) -> ChatMessage:
    return ChatMessage(EVENT, "", {"content": {"role": role, "parts": [part]}, "author": author})


def _two_parts(a: str, b: str) -> ChatMessage:
    return ChatMessage(
        EVENT, "", {"content": {"role": "model", "parts": [{"text": a}, {"text": b}]}, "author": "agent"}
    )


_ids = st.text("abcdef0123456789", min_size=1, max_size=12)
_names = st.text("abcxyz_", min_size=1, max_size=8)
_args = st.dictionaries(_names, cst.json_scalars.filter(lambda v: not isinstance(v, float)), max_size=3)
adk_events: st.SearchStrategy[ChatMessage] = st.one_of(
    cst.messages,
    st.builds(
        lambda call_id, name, args: _event(
            "agent", "model", {"function_call": {"id": call_id, "name": name, "args": args}}
        ),
        _ids,
        _names,
        _args,
    ),
    st.builds(
        lambda call_id, name, out: _event(
            "agent", "user", {"function_response": {"id": call_id, "name": name, "response": {"result": out}}}
        ),
        _ids,
        _names,
        cst.texts,
    ),
    st.builds(
        _two_parts,
        cst.texts,
        cst.texts,
    ),
)
"""Plain messages, function calls, function responses and two-part answers, as the kit's messages."""


AdkAdapter.messages = adk_events  # type: ignore[attr-defined]  # FID-001 draws from it
