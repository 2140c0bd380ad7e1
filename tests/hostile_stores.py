"""Correct but slow stores, and stores that hang, crash or leak: the kit must reach a verdict on each.

The slow stores are the in-memory reference store behind a fixed latency per
call, as a store on a network database is: ``Latency2ms`` (a fast LAN) and
``Latency20ms`` (a managed cloud database). They are correct, so every clause
must pass, within the default time budget.

The hostile stores are correct until one call, then misbehave the way drivers
and C extensions do: hang, ``os._exit``, segfault, raise ``SystemExit`` or
another ``BaseException``, or leave a non-daemon thread running. Each must get
a failing verdict naming the clause and the call, and the run must end with a
summary and a report (``tests/test_hostile.py``).
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from pytest_chatstore.spec.contract import ChatMessage
from reference_impls.memory import InMemoryChatStore


class _Latency(InMemoryChatStore):
    """The reference store, with ``LATENCY`` seconds of waiting (outside its lock) in every call."""

    LATENCY = 0.0

    def __init__(self, ttl: float | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(ttl=ttl, clock=clock)

    def _wait(self) -> None:
        time.sleep(self.LATENCY)

    def set_messages(self, key: str, messages: Iterable[ChatMessage]) -> None:
        self._wait()
        super().set_messages(key, messages)

    def get_messages(self, key: str) -> list[ChatMessage]:
        self._wait()
        return super().get_messages(key)

    def add_message(self, key: str, message: ChatMessage, idx: int | None = None) -> None:
        self._wait()
        super().add_message(key, message, idx)

    def add_messages(self, key: str, messages: Iterable[ChatMessage]) -> None:
        self._wait()
        super().add_messages(key, messages)

    def delete_messages(self, key: str) -> list[ChatMessage] | None:
        self._wait()
        return super().delete_messages(key)

    def delete_message(self, key: str, idx: int) -> ChatMessage | None:
        self._wait()
        return super().delete_message(key, idx)

    def delete_last_message(self, key: str) -> ChatMessage | None:
        self._wait()
        return super().delete_last_message(key)

    def get_keys(self) -> list[str]:
        self._wait()
        return super().get_keys()

    # The async twins wait without blocking the event loop, as an async driver does.
    async def aset_messages(self, key: str, messages: Iterable[ChatMessage]) -> None:
        await asyncio.sleep(self.LATENCY)
        InMemoryChatStore.set_messages(self, key, messages)

    async def aget_messages(self, key: str) -> list[ChatMessage]:
        await asyncio.sleep(self.LATENCY)
        return InMemoryChatStore.get_messages(self, key)

    async def async_add_message(self, key: str, message: ChatMessage, idx: int | None = None) -> None:
        await asyncio.sleep(self.LATENCY)
        InMemoryChatStore.add_message(self, key, message, idx)

    async def aadd_messages(self, key: str, messages: Iterable[ChatMessage]) -> None:
        await asyncio.sleep(self.LATENCY)
        InMemoryChatStore.add_messages(self, key, messages)

    async def adelete_messages(self, key: str) -> list[ChatMessage] | None:
        await asyncio.sleep(self.LATENCY)
        return InMemoryChatStore.delete_messages(self, key)

    async def adelete_message(self, key: str, idx: int) -> ChatMessage | None:
        await asyncio.sleep(self.LATENCY)
        return InMemoryChatStore.delete_message(self, key, idx)

    async def adelete_last_message(self, key: str) -> ChatMessage | None:
        await asyncio.sleep(self.LATENCY)
        return InMemoryChatStore.delete_last_message(self, key)

    async def aget_keys(self) -> list[str]:
        await asyncio.sleep(self.LATENCY)
        return InMemoryChatStore.get_keys(self)


class Latency2ms(_Latency):
    """Correct; 2 ms per call (a fast LAN database)."""

    LATENCY = 0.002


class Latency20ms(_Latency):
    """Correct; 20 ms per call (a managed cloud database)."""

    LATENCY = 0.020


class InsertAtZeroAppends2ms(Latency2ms):
    """2 ms per call, and an insert at index 0 into a conversation of two or more appends instead (INS-002, MDL-001):
    a store that waits, so the kit overlaps the parts of its split checks."""

    def add_message(self, key: str, message: ChatMessage, idx: int | None = None) -> None:
        self._wait()
        if idx == 0 and len(InMemoryChatStore.get_messages(self, key)) >= 2:
            idx = None
        InMemoryChatStore.add_message(self, key, message, idx)


# -- hostile stores: correct until the Nth call, then ... -------------------------------------------

_CALLS = {"n": 0}
"""Calls across every instance of the process, so "after 50 calls" means the run's 50th call."""


class _Hostile(InMemoryChatStore):
    """Correct until ``AFTER`` calls of ``METHOD`` (in this process), then :meth:`misbehave`."""

    AFTER = 50
    METHOD = "get_messages"

    def misbehave(self) -> None:
        raise NotImplementedError

    def __getattribute__(self, name: str) -> Any:
        found = object.__getattribute__(self, name)
        method = object.__getattribute__(self, "METHOD")
        if name not in (method, _twin(method)):
            return found
        misbehave = object.__getattribute__(self, "misbehave")
        after = object.__getattribute__(self, "AFTER")

        def counted(*args: Any, **kwargs: Any) -> Any:  # named as the method, as a hung call is reported
            _CALLS["n"] += 1
            if _CALLS["n"] > after:
                misbehave()
            return found(*args, **kwargs)

        counted.__name__ = name
        if not asyncio.iscoroutinefunction(found):
            return counted

        async def counted_async(*args: Any, **kwargs: Any) -> Any:
            _CALLS["n"] += 1
            if _CALLS["n"] > after:
                misbehave()
            return await found(*args, **kwargs)

        counted_async.__name__ = name
        return counted_async


def _twin(method: str) -> str:
    from pytest_chatstore.spec.operations import OPERATIONS

    return next(op.async_ for op in OPERATIONS.values() if op.sync == method)


class HangsAfter50(_Hostile):
    """``get_messages`` (and its twin) hang for good after the process's 50th call to them."""

    def misbehave(self) -> None:
        HANGS["n"] += 1
        threading.Event().wait()


class ExitsInDelete(_Hostile):
    """``delete_message`` calls ``os._exit(3)`` (a driver's fatal error path)."""

    AFTER = 5
    METHOD = "delete_message"

    def misbehave(self) -> None:
        os._exit(3)


class SegfaultsInDelete(_Hostile):
    """``delete_message`` dereferences a null pointer (a C extension's bug)."""

    AFTER = 5
    METHOD = "delete_message"

    def misbehave(self) -> None:
        ctypes.string_at(0)


class RaisesSystemExit(_Hostile):
    """``delete_message`` raises ``SystemExit`` (a library that calls ``sys.exit`` on a fatal error)."""

    AFTER = 5
    METHOD = "delete_message"

    def misbehave(self) -> None:
        raise SystemExit(2)


class Fatal(BaseException):
    """Not an ``Exception``: what ``except Exception`` in a runner lets through."""


class RaisesBaseException(_Hostile):
    """``delete_message`` raises a ``BaseException`` subclass that is not an ``Exception``."""

    AFTER = 5
    METHOD = "delete_message"

    def misbehave(self) -> None:
        raise Fatal("connection pool poisoned")


class AlarmInDelete(_Hostile):
    """``delete_message`` arms ``signal.alarm(1)`` and returns: the process dies a second later, after the call
    (a driver that uses SIGALRM for its own timeouts and forgets to disarm it)."""

    AFTER = 5
    METHOD = "delete_message"

    def misbehave(self) -> None:
        signal.alarm(1)


class ExitsSoonAfterDelete(_Hostile):
    """``delete_message`` returns, and a timer thread calls ``os._exit(3)`` a moment later (a driver's
    background reconnect that gives up fatally)."""

    AFTER = 5
    METHOD = "delete_message"

    def misbehave(self) -> None:
        timer = threading.Timer(0.2, os._exit, (3,))
        timer.daemon = True
        timer.start()


class ExitsAfterClose(InMemoryChatStore):
    """Correct, but closing it starts a timer that calls ``os._exit(3)`` a second later: the harm comes after
    every check of a short clause has passed (a pool whose reaper thread dies fatally)."""

    def close(self) -> None:
        timer = threading.Timer(1.0, os._exit, (3,))
        timer.daemon = True
        timer.start()


class ForksHelper(InMemoryChatStore):
    """Correct, but its first instance in a process forks a helper (a cache warmer) that sleeps for ten
    minutes and is never stopped; the helper inherits every open file, the kit's pipes included."""

    HELPERS: ClassVar[dict[int, int]] = {}
    """Process ID -> its helper's process ID."""

    def __init__(self, ttl: float | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(ttl=ttl, clock=clock)
        if os.getpid() not in self.HELPERS:
            pid = os.fork()
            if pid == 0:  # the helper
                time.sleep(600)
                os._exit(0)
            self.HELPERS[os.getpid()] = pid


class StartsHelperEachStore(InMemoryChatStore):
    """Correct, but every instance starts a helper (``sh``, which starts a ``sleep`` of its own) and never stops
    it: a driver that spawns a sidecar per client. Without the kit ending them, a run would leave thousands.
    The sleep's length is ``CHATSTORE_HELPER_SECONDS`` (default 600), so that a test can find its helpers."""

    HELPERS: ClassVar[list[subprocess.Popen[bytes]]] = []
    """Every helper started (kept, as a driver's registry of sidecars: never collected, so never warned about)."""

    def __init__(self, ttl: float | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(ttl=ttl, clock=clock)
        seconds = os.environ.get("CHATSTORE_HELPER_SECONDS", "600")
        self.HELPERS.append(subprocess.Popen(["sh", "-c", f"sleep {seconds} & wait"], stdin=subprocess.DEVNULL))


class RefusesAfter100Stores(InMemoryChatStore):
    """Correct, but its constructor raises once 100 instances were built in the process (a connection pool that
    is never given back: the server's connection limit is reached mid-run)."""

    BUILT: ClassVar[list[int]] = [0]

    def __init__(self, ttl: float | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.BUILT[0] += 1
        if self.BUILT[0] > 100:
            raise ConnectionError("too many connections")
        super().__init__(ttl=ttl, clock=clock)


class HangsAfter100Stores(InMemoryChatStore):
    """Correct, but its constructor hangs once 100 instances were built in the process (a connect that waits for
    a free connection for ever)."""

    BUILT: ClassVar[list[int]] = [0]

    def __init__(self, ttl: float | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.BUILT[0] += 1
        if self.BUILT[0] > 100:
            threading.Event().wait(600)
        super().__init__(ttl=ttl, clock=clock)


class _SlowContent:
    """A message whose ``content`` takes ``stall`` seconds to read (a lazy attribute loaded over a dead
    connection)."""

    def __init__(self, message: ChatMessage, stall: float) -> None:
        self.role, self.additional_kwargs = message.role, message.additional_kwargs
        self._content, self._stall = message.content, stall

    @property
    def content(self) -> Any:
        time.sleep(self._stall)
        return self._content


class StallsInAnswer(InMemoryChatStore):
    """``get_messages`` returns at once, but reading each message's ``content`` takes 150 s: the wait is in
    the answer, not in the call."""

    STALL = 150.0

    def get_messages(self, key: str) -> list[ChatMessage]:
        return [_SlowContent(m, self.STALL) for m in super().get_messages(key)]  # type: ignore[misc]


class SlowKeys(InMemoryChatStore):
    """Correct; ``get_keys`` takes 5 s (a ``SCAN`` over a large shared database), every other call is fast."""

    def get_keys(self) -> list[str]:
        time.sleep(5)
        return super().get_keys()

    async def aget_keys(self) -> list[str]:
        await asyncio.sleep(5)
        return InMemoryChatStore.get_keys(self)


class Unprintable(Exception):
    """An exception whose message cannot even be read (a C extension's error object gone wrong)."""

    def __str__(self) -> str:
        raise RuntimeError("no message")


class RaisesUnprintable(_Hostile):
    """``delete_message`` raises an exception whose ``__str__`` raises."""

    AFTER = 5
    METHOD = "delete_message"

    def misbehave(self) -> None:
        raise Unprintable


class LowersRecursionLimit(_Hostile):
    """``delete_message`` calls ``sys.setrecursionlimit(50)`` (a library "tuning" the interpreter)."""

    AFTER = 5
    METHOD = "delete_message"

    def misbehave(self) -> None:
        sys.setrecursionlimit(50)


class ClosesStdout(_Hostile):
    """``delete_messages`` calls ``sys.stdout.close()`` (a CLI helper "cleaning up" after itself)."""

    AFTER = 5
    METHOD = "delete_messages"

    def misbehave(self) -> None:
        sys.stdout.close()


class _Incomparable:
    """A value whose ``==`` raises (a lazy proxy of an ORM, a numpy array)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("cannot compare")

    __hash__ = None  # type: ignore[assignment]


class ContentNotText(InMemoryChatStore):
    """``get_messages`` returns messages whose ``content`` is an object of its own, whose ``==`` raises."""

    def get_messages(self, key: str) -> list[ChatMessage]:
        found = super().get_messages(key)
        for message in found:
            message.content = _Incomparable(message.content)  # type: ignore[assignment]
        return found


class LeaksThread(InMemoryChatStore):
    """Starts a non-daemon thread per instance (a driver's heartbeat) and never stops it."""

    def __init__(self, ttl: float | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(ttl=ttl, clock=clock)
        threading.Thread(target=threading.Event().wait, name="heartbeat", daemon=False).start()


class CtrlCInDelete(_Hostile):
    """The user presses Ctrl-C while ``delete_message`` runs: the run stops, naming the check."""

    AFTER = 5
    METHOD = "delete_message"

    def misbehave(self) -> None:
        raise KeyboardInterrupt


def reset() -> None:
    """Start counting calls afresh (for tests that run the kit in this process)."""
    _CALLS["n"] = 0
    HANGS["n"] = 0


HANGS = {"n": 0}
"""How many calls hung (in this process)."""


class RecursionErrorInDelete(InMemoryChatStore):
    """``delete_message`` always raises ``RecursionError`` (a serializer that recurses for ever): one root cause, not
    one per clause that deletes (bad input and threads included)."""

    def delete_message(self, key: str, idx: int) -> ChatMessage | None:
        raise RecursionError("maximum recursion depth exceeded while encoding a JSON object")
