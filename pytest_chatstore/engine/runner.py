"""Run store calls with a time limit, so a backend that hangs cannot hang the run.

Every call to a store under test goes through a :class:`Runner`: a daemon
worker thread with its own event loop. The caller waits at most ``timeout``
seconds; a call still running then is abandoned (its thread is a daemon and
never blocks interpreter exit) and :class:`OperationTimeout` is raised, which
the suite reports as a failure of the clause being checked. The next call gets
a fresh worker.

A clause's whole body runs on the worker (:meth:`Runner.host`): its store calls are
then made in line, with no thread switch each (a switch costs about 0.1 ms, most of
a fast store's call), and the pytest thread watches them instead. A call that
overruns its limit is abandoned the same way: the pytest thread stops waiting,
raises what the body would have raised (the call's ``on_hang``), and the worker,
if the call ever returns, unwinds without calling the store again.
"""

from __future__ import annotations

import asyncio
import math
import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from pytest_chatstore.engine.budget import add_times

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


class Abandoned(BaseException):
    """Raised in a hosted body whose store call hung and was given up on, when (if) the call returns: the body
    unwinds without calling the store again (a ``BaseException``: no ``except Exception`` in the way stops it)."""


POLL = 0.05
"""Seconds between looks at a hosted body that is between store calls (its kit's work has no limit)."""

OnHang = Callable[[OperationTimeout], Any]
"""What a caller does with a hang of its call (raise its verdict); None: the :class:`OperationTimeout` itself."""


_here = threading.local()


class BudgetSpent(BaseException):
    """The target's time budget and its slack are spent (:attr:`Runner.deadline`): the check stops before its next
    call, unverified, and the run stops. A ``BaseException``, as a hang's verdict is, so that Hypothesis does not
    replay the example."""


class Call(Generic[T]):
    """One job handed to the worker, and its outcome once :meth:`done` (a lighter thing than a ``Future``: one
    caller waits for it on the worker's results queue, and every store call is one)."""

    __slots__ = ("error", "finished", "job", "limit", "name", "on_hang", "result", "what")

    def __init__(
        self,
        job: Callable[[_Worker], T],
        name: str = "",
        limit: float = 0.0,
        what: str = "",
        on_hang: OnHang | None = None,
    ) -> None:
        self.job = job
        self.result: T | None = None
        self.error: BaseException | None = None
        self.finished = False
        self.name, self.limit, self.what, self.on_hang = name, limit, what, on_hang

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
        self.streams_closed: list[str] = []
        """``sys.stdout``/``sys.stderr``, when a call tried to close it (the kit kept it open)."""
        self.hosting = False
        """A clause's body is running on this worker (:meth:`Runner.host`): its store calls are made in line."""
        self.current: Call[Any] | None = None
        """The store call a hosted body is in, watched by the pytest thread (None: the body is in the kit's code)."""
        self.abandoned = False
        """The pytest thread gave up on a hosted call that hung: the body must not call the store again."""
        self.lock = threading.Lock()
        """Decides, once, whether a hosted call returned in time or was abandoned."""
        _pooled_thread(self)

    def settle(self, limit: int, kept: tuple[KeptOpen, KeptOpen] | None) -> None:
        """After a call: put back the standard streams (``kept``) and the recursion limit (``limit``) as they were
        before it, noting what the call changed for the harm check (the caller, deep in pytest, runs again)."""
        if kept is not None:
            self.streams_closed += restore_streams(kept)
        if sys.getrecursionlimit() != limit and not Overlapping.active:
            self.limit_changed = (limit, sys.getrecursionlimit())
            sys.setrecursionlimit(limit)

    def _serve(self) -> None:
        _here.worker = self
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        try:
            while (call := self.jobs.get()) is not None:
                limit = sys.getrecursionlimit()
                # A hosted body's calls keep their own; overlapped checks keep them once for all (see Overlapping).
                kept = None if self.hosting or Overlapping.active else keep_streams_open()
                try:
                    call.result = call.job(self)
                except BaseException as exc:  # noqa: BLE001 - handed to the caller as is
                    call.error = exc
                self.settle(limit, kept)
                call.finished = True
                self.results.put(call)
        finally:
            self.loop.close()
            asyncio.set_event_loop(None)
            _here.worker = None


_idle: list[queue.SimpleQueue[_Worker]] = []
"""The inboxes of worker threads whose worker was closed, waiting for the next one."""
_idle_lock = threading.Lock()
os.register_at_fork(after_in_child=_idle.clear)  # a forked child has none of its parent's threads


def _pooled_thread(worker: _Worker) -> None:
    """Serve ``worker`` on an idle worker thread, or on a new one. Threads are kept for the next worker: a
    hosted body runs Hypothesis, which registers a random generator for each thread that runs a test, and
    registering one costs a full garbage collection (tens of milliseconds: a clause's worth of calls)."""
    with _idle_lock:
        if _idle:
            _idle.pop().put(worker)
            return
    inbox: queue.SimpleQueue[_Worker] = queue.SimpleQueue()
    inbox.put(worker)
    threading.Thread(target=_serve_workers, args=(inbox,), name="chatstore-runner", daemon=True).start()


def _serve_workers(inbox: queue.SimpleQueue[_Worker]) -> None:
    while True:
        inbox.get()._serve()  # until its runner closes it (an abandoned worker never returns here)
        with _idle_lock:
            _idle.append(inbox)


class Runner:
    """Runs callables and coroutines on a worker thread under a time limit."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._worker: _Worker | None = None
        self._side: _Worker | None = None
        """The worker of calls from threads a hosted body started (its own worker is busy running it)."""
        self.calls = 0
        """Calls made through this runner (the evidence a clause gathered); bursts add theirs."""
        self.cost = 0.001
        """Seconds one call is expected to take (the time budget's measurement): sets the limits of bursts."""
        self.seconds_in: dict[str, tuple[int, float]] = {}
        """Method name -> (calls, seconds waited for them): where a slow store's time went."""
        self.abandoned: list[tuple[str, Call[Any]]] = []
        """Calls that hung, by name: done once (if ever) the call returns."""
        self.deadline = float("inf")
        """Monotonic time past which no store call starts (the budget's hard limit; :meth:`check_deadline`)."""
        self.past_deadline = ""
        """What :class:`BudgetSpent` says."""

    def sibling(self) -> Runner:
        """A runner of its own with this one's limits (time limit, cost per call, deadline): for one part of a
        check that runs beside others (:meth:`~pytest_chatstore.harness.store.StoreUnderTest.overlap`)."""
        other = Runner(self.timeout)
        other.cost, other.deadline, other.past_deadline = self.cost, self.deadline, self.past_deadline
        return other

    def cancel(self, why: str) -> None:
        """Start no store call from now on: the next one raises :class:`BudgetSpent` saying ``why``."""
        self.deadline = -math.inf
        self.past_deadline = why

    def absorb(self, other: Runner) -> None:
        """Add a finished sibling's evidence (calls, time in each method, calls that hung) to this runner's, and
        close it."""
        self.calls += other.calls
        add_times(self.seconds_in, other.seconds_in)
        self.abandoned.extend(other.abandoned)
        other.close()

    def check_deadline(self) -> None:
        """Raise :class:`BudgetSpent` once :attr:`deadline` has passed (before a store call or a store's building;
        closing a store is never refused)."""
        if time.monotonic() > self.deadline:
            raise BudgetSpent(self.past_deadline)

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Return ``fn(*args, **kwargs)``, run on the worker; raise :class:`OperationTimeout` if it hangs."""
        result: T = self.invoke(fn, args, kwargs)
        return result

    def run(self, fn: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        """Await ``fn(*args, **kwargs)`` on the worker's event loop, under the same limit."""
        result: T = self.invoke(fn, args, kwargs, is_async=True)
        return result

    def invoke(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        *,
        is_async: bool = False,
        on_hang: OnHang | None = None,
    ) -> Any:
        """:meth:`call` (or :meth:`run`, ``is_async``), with ``on_hang``: what the caller does with the
        :class:`OperationTimeout` of a hang (it raises the caller's verdict), called in the pytest thread when a
        hosted body's call hangs. The caller catches the timeout too: a call from outside a body raises it."""
        if is_async:
            return self._submit(_awaiting(fn, args, kwargs), _name(fn), on_hang=on_hang)
        return self._submit(lambda _worker: fn(*args, **kwargs), _name(fn), on_hang=on_hang)

    def burst_limit(self, calls: int) -> float:
        """The time limit of a burst of ``calls`` calls: one call's limit plus the calls at 5x their cost."""
        return self.timeout + BURST_SLACK * calls * self.cost

    def describe_burst_limit(self, calls: int) -> str:
        return (
            f"the limit of a burst: the per-operation limit {self.timeout:g} s plus {calls} calls at "
            f"{BURST_SLACK}x the measured {self.cost * 1000:.2f} ms per call"
        )

    def run_burst(self, calls: int, fn: Callable[[], Awaitable[T]], *, on_hang: OnHang | None = None) -> T:
        """Await ``fn()``, a burst of ``calls`` calls, under :meth:`burst_limit` instead of the per-call limit
        (``on_hang`` as in :meth:`invoke`)."""
        self.calls += calls - 1
        return self._submit(
            _awaiting(fn, (), {}),
            _name(fn),
            limit=self.burst_limit(calls),
            what=self.describe_burst_limit(calls),
            on_hang=on_hang,
        )

    def host(self, body: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``body(*args, **kwargs)`` (a clause's check) on the worker, its store calls in line, while this
        thread watches each against its limit; return its result or raise what it raised.

        A call that overruns is abandoned (the next call gets a fresh worker) and its ``on_hang`` raises here
        what the body would have raised. Any other way out of the wait (Ctrl-C) abandons the body too."""
        __tracebackhide__ = True
        if getattr(_here, "worker", None) is not None:  # already on a worker: nothing to host
            return body(*args, **kwargs)
        if self._worker is None:
            self._worker = _Worker()
        worker = self._worker
        hosted: Call[T] = Call(lambda _worker: body(*args, **kwargs))
        worker.hosting = True
        worker.jobs.put(hosted)
        try:
            self._watch(worker)
        except BaseException:
            with worker.lock:
                worker.abandoned = True
            if self._worker is worker:
                self._worker = None
            raise
        worker.hosting = False
        if hosted.error is not None:
            error, hosted.error = hosted.error, None
            raise error
        return hosted.result  # type: ignore[return-value]  # set by the worker: a T

    def _watch(self, worker: _Worker) -> None:
        """Wait for the hosted body to end; raise the hang of a call of it that overran its limit."""
        __tracebackhide__ = True
        while True:
            current = worker.current
            wait = POLL if current is None else max(0.0, worker.last_progress + current.limit - time.monotonic())
            try:
                worker.results.get(timeout=wait)
                return
            except queue.Empty:
                pass
            with worker.lock:
                if current is None or worker.current is not current:
                    continue  # the body moved on
                if time.monotonic() < worker.last_progress + current.limit:
                    continue  # an underlying call finished meanwhile: the limit is per underlying call
                worker.abandoned = True
            self._worker = None  # the next call starts afresh
            self.abandoned.append((current.name, current))
            timeout = _timeout(current, worker)
            if current.on_hang is not None:
                current.on_hang(timeout)
            raise timeout

    def _submit(
        self,
        job: Callable[[_Worker], T],
        name: str,
        *,
        limit: float | None = None,
        what: str = "",
        on_hang: OnHang | None = None,
    ) -> T:
        self.calls += 1
        seconds = self.timeout if limit is None else limit
        started = time.perf_counter()
        call = Call(job, name, seconds, what, on_hang)
        try:
            worker = getattr(_here, "worker", None)
            if worker is not None and worker.hosting and asyncio.events._get_running_loop() is None:
                return _in_line(worker, call)
            if self._worker is None:
                self._worker = _Worker()
            # A call from a thread of a hosted body's own (or from inside its event loop) goes to a side worker.
            return self._hand_over(call, side=self._worker.hosting)
        finally:
            calls, waited = self.seconds_in.get(name, (0, 0.0))
            self.seconds_in[name] = (calls + 1, waited + time.perf_counter() - started)

    def _hand_over(self, call: Call[T], *, side: bool) -> T:
        """Run ``call`` on a worker (the side worker for a thread of a hosted body) and wait for it."""
        if side:
            if self._side is None:
                self._side = _Worker()
            worker = self._side
        else:
            assert self._worker is not None
            worker = self._worker
        worker.steps, worker.last_progress, worker.answered = 0, time.monotonic(), False
        worker.jobs.put(call)
        return self._wait(call, worker, side)

    def _wait(self, call: Call[T], worker: _Worker, side: bool) -> T:
        while True:
            window = worker.last_progress
            try:
                worker.results.get(timeout=max(0.0, window + call.limit - time.monotonic()))  # one job at a time
            except queue.Empty:
                if worker.last_progress > window:
                    continue  # an underlying call finished meanwhile: the limit is per underlying call
                if side:
                    self._side = None
                else:
                    self._worker = None  # abandon the stuck thread; the next call starts afresh
                self.abandoned.append((call.name, call))
                raise _timeout(call, worker) from None
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

    def streams_closed(self) -> list[str]:
        """The standard streams a call since the last look tried to close (the kit kept them open)."""
        worker = self._worker
        if worker is None or not worker.streams_closed:
            return []
        closed, worker.streams_closed = worker.streams_closed, []
        return closed

    def close(self) -> None:
        """Stop the workers (if they are not stuck) and let their event loops close."""
        for worker in (self._worker, self._side):
            if worker is not None:
                worker.jobs.put(None)
        self._worker = self._side = None


async def _as_coroutine(awaitable: Awaitable[T]) -> T:
    return await awaitable


def _awaiting(fn: Callable[..., Awaitable[T]], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Callable[[_Worker], T]:
    """A job that awaits ``fn(*args, **kwargs)`` on the worker's event loop."""

    def in_loop(worker: _Worker) -> T:
        assert worker.loop is not None
        return worker.loop.run_until_complete(_as_coroutine(fn(*args, **kwargs)))

    return in_loop


def _in_line(worker: _Worker, call: Call[T]) -> T:
    """Make ``call`` on the worker's own thread, inside the body it hosts, watched by the pytest thread
    (:meth:`Runner.host`); raise :class:`Abandoned` instead of returning if it was given up on meanwhile."""
    if worker.abandoned:
        raise Abandoned
    limit = sys.getrecursionlimit()
    worker.steps, worker.last_progress, worker.answered = 0, time.monotonic(), False
    kept = None if Overlapping.active else keep_streams_open()
    worker.current = call
    try:
        return call.job(worker)
    finally:
        worker.settle(limit, kept)  # first: the process's recursion limit is set back even for an abandoned call
        with worker.lock:
            worker.current = None
            call.finished = True
            if worker.abandoned:
                raise Abandoned  # the answer of an abandoned call is no one's


def _timeout(call: Call[Any], worker: _Worker) -> OperationTimeout:
    """The :class:`OperationTimeout` of ``call``, which did not return within its limit."""
    what = call.what or "the per-operation limit, --chatstore-timeout"
    after = f", after {worker.steps} underlying calls that each returned in time" if worker.steps else ""
    if worker.answered:
        return OperationTimeout(
            f"{call.name}() returned, but reading its answer (the objects it returned) did not finish within "
            f"{call.limit:.3g} s ({what})"
        )
    return OperationTimeout(f"{call.name}() did not return within {call.limit:.3g} s ({what}){after}")


def _name(fn: Callable[..., Any]) -> str:
    return getattr(fn, "__name__", repr(fn))


# -- what a store may close ----------------------------------------------------------------------


class KeptOpen:
    """Stands for ``sys.stdout`` or ``sys.stderr`` during a store call: writes go through, ``close()`` is refused
    and noted (pytest's capture owns the stream: closed, it breaks every test after, as the kit's own error)."""

    __slots__ = ("closed_by_store", "name", "stream")

    def __init__(self, name: str, stream: Any) -> None:
        self.name, self.stream, self.closed_by_store = name, stream, False

    def close(self) -> None:
        self.closed_by_store = True

    def write(self, text: str) -> int:
        return int(self.stream.write(text))

    def flush(self) -> None:
        self.stream.flush()

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self.stream, attribute)


def keep_streams_open() -> tuple[KeptOpen, KeptOpen]:
    """Put :class:`KeptOpen` in place of ``sys.stdout`` and ``sys.stderr`` for a store call."""
    kept = (KeptOpen("sys.stdout", sys.stdout), KeptOpen("sys.stderr", sys.stderr))
    sys.stdout, sys.stderr = kept  # file-like: what a store writes goes through
    return kept


def restore_streams(kept: tuple[KeptOpen, KeptOpen]) -> list[str]:
    """Put the streams back (unless something replaced them meanwhile); the names of those the store closed."""
    out, err = kept
    # Not a stream closed meanwhile: pytest, stopping its capture on a Ctrl-C, closes the file it wrapped.
    if sys.stdout is out and not getattr(out.stream, "closed", False):
        sys.stdout = out.stream
    if sys.stderr is err and not getattr(err.stream, "closed", False):
        sys.stderr = err.stream
    return [k.name for k in kept if k.closed_by_store]


def abandoned_here() -> bool:
    """Whether the calling thread runs a hosted body that the pytest thread gave up on (:meth:`Runner.host`)."""
    worker = getattr(_here, "worker", None)
    return worker is not None and worker.abandoned


class Overlapping:
    """While one clause's checks run at once on several threads (``StoreUnderTest.overlap``): the standard streams
    are kept open once for all of them, not around each call (calls on two threads would put back each other's
    :class:`KeptOpen`), and the recursion limit is no call's to see or to set back (Hypothesis, on each thread,
    raises it around every example and restores it after). :attr:`closed`: the streams a store closed meanwhile."""

    active = 0
    """How many overlaps are in progress."""

    def __init__(self) -> None:
        self.closed: list[str] = []
        self._kept: tuple[KeptOpen, KeptOpen] | None = None

    def __enter__(self) -> Overlapping:
        self._kept = keep_streams_open()
        Overlapping.active += 1
        return self

    def __exit__(self, *exc: object) -> None:
        Overlapping.active -= 1
        if self._kept is not None:
            self.closed = restore_streams(self._kept)


def repair_streams() -> list[str]:
    """At the end of a run: put back ``sys.stdout``/``sys.stderr`` left closed or still a :class:`KeptOpen`.

    A Ctrl-C while a hosted check's store call runs races two threads over the streams: pytest stops its
    capture at once (closing its file, putting the terminal back) while the worker, as the call returns, puts
    back the stream it wrapped, which may be the capture's file, closed by then. Python's exit then fails to
    flush it (exit status 1 instead of 2). Returns the names of the streams put back."""
    repaired = []
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if isinstance(stream, KeptOpen) or getattr(stream, "closed", False):
            setattr(sys, name, getattr(sys, f"__{name}__"))
            repaired.append(f"sys.{name}")
    return repaired


# -- what a store may leave armed -----------------------------------------------------------------

_FATAL_TIMERS = tuple(
    (timer, signal_name, getattr(signal, timer), getattr(signal, signal_name))
    for timer, signal_name in (("ITIMER_REAL", "SIGALRM"), ("ITIMER_VIRTUAL", "SIGVTALRM"), ("ITIMER_PROF", "SIGPROF"))
    if hasattr(signal, timer) and hasattr(signal, signal_name)  # not on every platform
)


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
    for timer, signal_name, which, number in _FATAL_TIMERS:  # after every store call: resolved once
        seconds = signal.getitimer(which)[0]
        if seconds > 0 and signal.getsignal(number) == signal.SIG_DFL:
            armed.append(ArmedTimer(timer, signal_name, seconds))
    return armed


def disarm(timers: list[ArmedTimer]) -> str:
    """Stop ``timers`` (in the pytest process: the kit's run must outlive a store's alarm); what they were, in words."""
    for armed in timers:
        signal.setitimer(getattr(signal, armed.timer), 0)
    return "; ".join(map(str, timers)) + " (the kit disarmed it to go on with the run)"
