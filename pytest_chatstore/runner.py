"""Run store calls with a time limit, so a backend that hangs cannot hang the run.

Every call to a store under test goes through a :class:`Runner`: a daemon
worker thread with its own event loop. The caller waits at most ``timeout``
seconds; a call still running then is abandoned (its thread is a daemon and
never blocks interpreter exit) and :class:`OperationTimeout` is raised, which
the suite reports as a failure of the clause being checked. The next call gets
a fresh worker.
"""

from __future__ import annotations

import asyncio
import queue
import signal
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


_flight: Callable[[str], None] | None = None


def set_flight_recorder(record: Callable[[str], None] | None) -> None:
    """Have :func:`announce` hand every call, before it is made, to ``record`` (an isolated clause's parent)."""
    global _flight
    _flight = record


def announce(entry: str) -> None:
    """Say which store call is about to be made: if the process dies in it, the parent names it."""
    if _flight is not None:
        _flight(entry)


BURST_SLACK = 5
"""How many times its measured cost a call in a burst may take before the burst counts as hung."""


class OperationTimeout(AssertionError):
    """A store call did not return within the per-operation time limit."""


_here = threading.local()


class Call(Generic[T]):
    """One job handed to the worker, and its outcome once :meth:`done` (a lighter thing than a ``Future``: one
    caller waits for it on the worker's results queue, and every store call is one)."""

    __slots__ = ("error", "finished", "job", "result")

    def __init__(self, job: Callable[[_Worker], T]) -> None:
        self.job = job
        self.result: T | None = None
        self.error: BaseException | None = None
        self.finished = False

    def done(self) -> bool:
        """Whether the call has returned (or raised): an abandoned one may, later."""
        return self.finished


def progress() -> None:
    """Say, from inside a call the runner is running, that one underlying call of it finished.

    The kit's own emulations call it (an adapter's loop of appends where a history has no bulk append):
    the per-operation limit then applies to each underlying call, not to the loop, so a slow store is
    not taken for a hung one. Elsewhere it does nothing."""
    worker = getattr(_here, "worker", None)
    if worker is not None:
        worker.steps += 1
        worker.last_progress = time.monotonic()


def answered() -> None:
    """Say, from inside a call the runner is running, that the store's method returned and its answer is being
    read (the time limit covers both; a hang in the reading is then said as such)."""
    worker = getattr(_here, "worker", None)
    if worker is not None:
        worker.answered = True


class _Worker:
    def __init__(self) -> None:
        self.jobs: queue.SimpleQueue[Call[Any] | None] = queue.SimpleQueue()
        self.results: queue.SimpleQueue[Call[Any]] = queue.SimpleQueue()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.steps = 0
        """Underlying calls the current job reported (:func:`progress`)."""
        self.last_progress = 0.0
        self.answered = False
        """The current job's store method returned; its answer is being read."""
        self.limit_changed: tuple[int, int] | None = None
        """(the recursion limit before, the limit a job set), when a job changed it (the worker sets it back)."""
        self.thread = threading.Thread(target=self._serve, name="chatstore-runner", daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        _here.worker = self
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        try:
            while (call := self.jobs.get()) is not None:
                limit = sys.getrecursionlimit()
                try:
                    call.result = call.job(self)
                except BaseException as exc:  # noqa: BLE001 - handed to the caller as is
                    call.error = exc
                if sys.getrecursionlimit() != limit:  # set back before the caller (deep in pytest) runs again
                    self.limit_changed = (limit, sys.getrecursionlimit())
                    sys.setrecursionlimit(limit)
                call.finished = True
                self.results.put(call)
        finally:
            self.loop.close()


class Runner:
    """Runs callables and coroutines on a worker thread under a time limit."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._worker: _Worker | None = None
        self.calls = 0
        """Calls made through this runner (the evidence a clause gathered); bursts add theirs."""
        self.cost = 0.001
        """Seconds one call is expected to take (the time budget's measurement): sets the limits of bursts."""
        self.seconds_in: dict[str, tuple[int, float]] = {}
        """Method name -> (calls, seconds waited for them): where a slow store's time went."""
        self.abandoned: list[tuple[str, Call[Any]]] = []
        """Calls that hung, by name: done once (if ever) the call returns."""

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Return ``fn(*args, **kwargs)``, run on the worker; raise :class:`OperationTimeout` if it hangs."""
        return self._submit(lambda _worker: fn(*args, **kwargs), _name(fn))

    def run(self, fn: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        """Await ``fn(*args, **kwargs)`` on the worker's event loop, under the same limit."""

        def in_loop(worker: _Worker) -> T:
            assert worker.loop is not None
            return worker.loop.run_until_complete(_as_coroutine(fn(*args, **kwargs)))

        return self._submit(in_loop, _name(fn))

    def burst_limit(self, calls: int) -> float:
        """The time limit of a burst of ``calls`` calls: one call's limit plus the calls at 5x their cost."""
        return self.timeout + BURST_SLACK * calls * self.cost

    def describe_burst_limit(self, calls: int) -> str:
        return (
            f"the limit of a burst: the per-operation limit {self.timeout:g} s plus {calls} calls at "
            f"{BURST_SLACK}x the measured {self.cost * 1000:.2f} ms per call"
        )

    def run_burst(self, calls: int, fn: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        """Await ``fn()``, a burst of ``calls`` calls, under :meth:`burst_limit` instead of the per-call limit."""
        self.calls += calls - 1

        def in_loop(worker: _Worker) -> T:
            assert worker.loop is not None
            return worker.loop.run_until_complete(_as_coroutine(fn(*args, **kwargs)))

        return self._submit(in_loop, _name(fn), limit=self.burst_limit(calls), what=self.describe_burst_limit(calls))

    def _submit(self, job: Callable[[_Worker], T], name: str, *, limit: float | None = None, what: str = "") -> T:
        self.calls += 1
        if self._worker is None:
            self._worker = _Worker()
        call = Call(job)
        worker = self._worker
        worker.steps, worker.last_progress, worker.answered = 0, time.monotonic(), False
        worker.jobs.put(call)
        seconds = self.timeout if limit is None else limit
        started = time.perf_counter()
        try:
            return self._wait(call, worker, name, seconds, what)
        finally:
            calls, waited = self.seconds_in.get(name, (0, 0.0))
            self.seconds_in[name] = (calls + 1, waited + time.perf_counter() - started)

    def _wait(self, call: Call[T], worker: _Worker, name: str, seconds: float, what: str) -> T:
        while True:
            window = worker.last_progress
            try:
                worker.results.get(timeout=max(0.0, window + seconds - time.monotonic()))  # one job at a time: ours
            except queue.Empty:
                if worker.last_progress > window:
                    continue  # an underlying call finished meanwhile: the limit is per underlying call
                self._worker = None  # abandon the stuck thread; the next call starts afresh
                self.abandoned.append((name, call))
                what = what or "the per-operation limit, --chatstore-timeout"
                after = f", after {worker.steps} underlying calls that each returned in time" if worker.steps else ""
                if worker.answered:
                    raise OperationTimeout(
                        f"{name}() returned, but reading its answer (the objects it returned) did not finish within "
                        f"{seconds:.3g} s ({what})"
                    ) from None
                raise OperationTimeout(f"{name}() did not return within {seconds:.3g} s ({what}){after}") from None
            if call.error is not None:
                error, call.error = call.error, None  # no cycle through the traceback kept on the call
                raise error
            return call.result  # type: ignore[return-value]  # set by the worker: a T

    def limit_changed(self) -> tuple[int, int] | None:
        """(before, set) if a call since the last look changed the interpreter's recursion limit (the worker set it
        back at once: the caller's stack is deep), else None."""
        worker = self._worker
        if worker is None or worker.limit_changed is None:
            return None
        changed, worker.limit_changed = worker.limit_changed, None
        return changed

    def close(self) -> None:
        """Stop the worker (if it is not stuck) and let its event loop close."""
        if self._worker is not None:
            self._worker.jobs.put(None)
            self._worker = None


async def _as_coroutine(awaitable: Awaitable[T]) -> T:
    return await awaitable


def _name(fn: Callable[..., Any]) -> str:
    return getattr(fn, "__name__", repr(fn))


# -- what a store may leave armed -----------------------------------------------------------------

_FATAL_TIMERS = (("ITIMER_REAL", "SIGALRM"), ("ITIMER_VIRTUAL", "SIGVTALRM"), ("ITIMER_PROF", "SIGPROF"))


class ArmedTimer:
    """An interval timer whose signal, left at its default action, ends the process."""

    def __init__(self, timer: str, signal_name: str, seconds: float) -> None:
        self.timer, self.signal_name, self.seconds = timer, signal_name, seconds

    def __str__(self) -> str:
        return (
            f"the store left {self.signal_name} armed to fire in {self.seconds:.3g} s ({self.timer}, e.g. by "
            f"signal.alarm), and that signal's default action ends the process"
        )


def fatal_timers() -> list[ArmedTimer]:
    """Interval timers armed in this process whose signal would end it (no handler installed)."""
    armed = []
    for timer, signal_name in _FATAL_TIMERS:
        which, number = getattr(signal, timer, None), getattr(signal, signal_name, None)
        if which is None or number is None:  # not on this platform
            continue
        seconds = signal.getitimer(which)[0]
        if seconds > 0 and signal.getsignal(number) == signal.SIG_DFL:
            armed.append(ArmedTimer(timer, signal_name, seconds))
    return armed


def disarm(timers: list[ArmedTimer]) -> str:
    """Stop ``timers`` (in the pytest process: the kit's run must outlive a store's alarm); what they were, in words."""
    for armed in timers:
        signal.setitimer(getattr(signal, armed.timer), 0)
    return "; ".join(map(str, timers)) + " (the kit disarmed it to go on with the run)"
