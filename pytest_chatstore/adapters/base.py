"""What every adapter shares: the :class:`Adapter` protocol, :class:`NotAMessage`, the native adapter, and
:class:`PerKeyStore` for interfaces that hold one conversation per object."""

from __future__ import annotations

import asyncio
import concurrent.futures
import copy
import enum
import threading
from collections.abc import Callable, Coroutine
from typing import Any, Protocol, TypeVar

from pytest_chatstore.spec.contract import ChatMessage

T = TypeVar("T")


class NotAMessage(AssertionError):
    """A store returned something that is not a message (raw bytes, a dict, JSON text...)."""


class Adapter(Protocol):
    """Converts messages between the kit and one family of stores."""

    name: str

    def to_store(self, message: ChatMessage) -> Any:
        """The store's own message equal to ``message`` (a fresh object, never shared)."""
        ...

    def from_store(self, obj: object) -> ChatMessage:
        """The kit's message equal to ``obj``; raise :class:`NotAMessage` if it is not one."""
        ...

    # Optional: ``kwargs_of(obj) -> dict``, the dict a store's message keeps its ``additional_kwargs`` in, when that
    # is not its ``additional_kwargs`` attribute (:func:`plain_kwargs`); the ownership clauses change it.


def plain_kwargs(message: Any) -> dict[str, Any]:
    """The ``additional_kwargs`` of a store's message, for an adapter without ``kwargs_of``: its attribute."""
    kwargs: dict[str, Any] = message.additional_kwargs
    return kwargs


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
    for name, value in (("role", role), ("content", content)):
        # Text, or a plain value the kit compares safely; an object of the store's own (whose == may do anything)
        # is not what was stored, and comparing it is no check at all.
        if value is not None and not isinstance(value, (str, int, float, bool, list, dict)):
            raise NotAMessage(f"the message's {name} is a {type(value).__name__}, not text: {_shown(value)}")
    kwargs = {} if type(kwargs) is dict and not kwargs else copy.deepcopy(kwargs)  # most messages have none
    return ChatMessage(role=role, content=content, additional_kwargs=kwargs)


def _shown(value: object) -> str:
    try:
        return repr(value)[:120]
    except Exception as exc:  # noqa: BLE001 - a store's object may not even print
        return f"<repr() raised {type(exc).__name__}>"


class NativeAdapter:
    """For stores written against the kit's own :class:`ChatMessage` (the default)."""

    name = "native"

    def to_store(self, message: ChatMessage) -> ChatMessage:
        return message.copy()

    def from_store(self, obj: object) -> ChatMessage:
        return as_chat_message(obj)


class PerKeyStore:
    """A store of many conversations over a backend object that holds one (a LangChain history, an Agents SDK
    session): one object per conversation key, made on first use by ``make`` and reused after."""

    composed = frozenset({"set"})
    """Operations the adapter makes of several of the backend's calls (replace is clear, then append): cut by a
    fault between them, they leave a mix that is the adapter's doing, so FLT-003 does not judge them."""

    keys_reach_backend = True
    """Whether ``make`` hands the key to the backend (a session ID); False when each key is only the adapter's
    name for an object it keeps (a history that takes no key): BAD-001 would then check the adapter, and is
    skipped."""

    def __init__(self, make: Callable[[str], Any], backend_class: type | None = None) -> None:
        self._make = make
        self._backend_class = backend_class
        self._objects: dict[str, Any] = {}
        self._lock = threading.Lock()

    def backend_class(self) -> type | None:
        """The class of the backend's objects: the report names its distribution, not the adapter's. Kept from the
        first object made, so that a store built by a function of the key (``lambda sid: RedisSession...``) names
        it after it was closed too."""
        with self._lock:
            return self._backend_class

    def one(self, key: str) -> Any:
        """The object of conversation ``key`` (made on first use, then reused)."""
        with self._lock:
            if key not in self._objects:
                self._objects[key] = made = self._make(key)
                if self._backend_class is None:
                    self._backend_class = type(made)
            return self._objects[key]

    def made(self) -> list[Any]:
        """Every object made so far, forgotten from now on (for a store that closes them)."""
        with self._lock:
            objects, self._objects = list(self._objects.values()), {}
        return objects


class Loop:
    """One event loop on a thread of its own, started on first use: every call of every session of a store runs
    there, since an async backend binds its locks and connections to the loop it first ran on (Agents SDK sessions,
    ADK session services)."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        with self._lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
                self._thread.name = "chatstore-adapter-loop"
                self._thread.start()
            loop = self._loop
        return asyncio.run_coroutine_threadsafe(coroutine, loop)

    def wait(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the loop and wait for it: what a sync method does."""
        if threading.current_thread() is self._thread or _in_a_running_loop():
            coroutine.close()
            raise RuntimeError("a session's sync method was called inside a running event loop: await its async twin")
        return self.submit(coroutine).result()

    async def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the loop, awaiting it from the caller's loop: what an async twin does."""
        if threading.current_thread() is self._thread:
            return await coroutine
        return await asyncio.wrap_future(self.submit(coroutine))

    def stop(self) -> None:
        with self._lock:
            loop, thread, self._loop, self._thread = self._loop, self._thread, None, None
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        if not thread.is_alive():
            loop.close()


def _in_a_running_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
