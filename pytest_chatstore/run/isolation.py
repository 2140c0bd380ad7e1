"""Isolation: each clause in a forked child process, so a store that crashes gets a verdict, not a dead run.

With ``--chatstore-isolate`` (or automatically, after a run of the same target
died in a clause: see :func:`crashed_before`), the plugin runs each suite test
with :func:`run_forked` instead of in the pytest process. The child is a fork
of the pytest process, so everything the test needs is already there, the
``chatstore_factory`` fixtures of a conftest included: the child builds its
stores with them, and the parent never runs store code. The child

- streams every store call it is about to make to the parent (the flight
  record), so a crash is reported with the call that caused it;
- runs pytest's test protocol for the item (setup, call, teardown) and sends the
  reports back, with the run state the next clause needs (the clauses known
  broken, the time budget);
- then stays alive while the store's threads and timers run (at least
  :data:`GRACE`, at most :data:`LINGER` seconds), so that harm done after the
  calls returned (an alarm the store armed, ``os._exit`` from a timer thread)
  is seen in this clause and not in no clause at all;
- leaves with ``os._exit``: threads the store left behind die with it.

The parent turns a child that died (a fatal signal, ``os._exit``, anything but
a finished protocol and its lingering) into a failing clause naming the last
call, and a child that stopped making progress into a hang.

What isolation guarantees: the pytest process runs no store code, so nothing
the store does to its process (exit, signals, leaked threads, a changed
recursion limit) reaches the run; a death while the clause runs or while its
threads and timers are pending fails that clause. What it does not: harm
scheduled further ahead than :data:`LINGER` (reported when it is an armed
timer), or done by another process the store started and that outlives its
process group. This is the prior art of
pytest-forked and of xdist's replacement of crashed workers, for one test at
a time. It needs ``os.fork``: on Windows ``--chatstore-isolate`` is a usage
error.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import select
import signal
import struct
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_chatstore.engine import runner
from pytest_chatstore.engine.failures import ClauseFailure, fail
from pytest_chatstore.engine.runner import fatal_timers
from pytest_chatstore.run.stash import (
    clause_of,
    kit_fixture_key,
    run_state,
)

CRASH_CACHE_KEY = "chatstore/running"
"""pytest cache entry: target name -> the clause running when the process last stopped (cleared at a clean end)."""
CRASHED_CACHE_KEY = "chatstore/crashed"
"""pytest cache entry: target name -> a clause in which it crashed; isolated until a run shows no crash."""

LEAK_GRACE = 0.5
"""Seconds a store's non-daemon threads get to finish after a test before they count as leaked."""
GRACE = 0.1
"""Seconds an isolated child stays alive after its clause, whatever the store left behind."""
LINGER = 3.0
"""At most this many seconds an isolated child waits for the store's threads and timers after its clause."""
KIT_THREADS = ("chatstore-runner", "chatstore-spawner")
"""Names of the kit's own threads (a call that never returned keeps one busy: not the store's to finish)."""


def available() -> bool:
    return hasattr(os, "fork")


# -- the child's side ---------------------------------------------------------------------


def _send(fd: int, message: Any) -> None:
    data = pickle.dumps(message)
    os.write(fd, struct.pack("!I", len(data)) + data)


def _child(item: pytest.Item, fd: int) -> None:
    """Run ``item``'s protocol here and send the results; never returns."""
    from _pytest.runner import runtestprotocol

    status = 0
    provider = run_state(item.config).redis
    provided = provider.server is not None
    try:
        runner.set_flight_recorder(lambda entry: _send(fd, ("call", entry)))
        reports = runtestprotocol(item, log=False, nextitem=None)
        config = item.config
        serialized = [config.hook.pytest_report_to_serializable(config=config, report=r) for r in reports]
        _send(fd, ("done", serialized, run_state(config).known, run_state(config).ledgers))
        problem = linger()
        if not provided:  # a server this child started (a fixture's): stopped, or its database emptied
            provider.close()
        _send(fd, ("ended", problem))
    except KeyboardInterrupt:
        status = 130
    except BaseException as exc:  # noqa: BLE001 - the parent reports what it can
        with contextlib.suppress(Exception):
            _send(fd, ("kit-error", f"{type(exc).__name__}: {exc}"))
        status = 1
    finally:
        os._exit(status)


def linger(ignore: set[threading.Thread] | None = None) -> str | None:
    """Stay alive while the store's threads and armed timers are pending (:data:`GRACE` to :data:`LINGER` s).

    Threads in ``ignore`` are not the store's (they ran before it). Returns what would still end the process
    after that (a timer armed further ahead), or None. A store that ends the process meanwhile never returns
    here: in an isolated child, the parent sees the death after the clause; in the pytest process, the run
    dies before its report says it passed.
    """
    deadline = time.monotonic() + LINGER
    time.sleep(GRACE)
    me = threading.current_thread()
    for thread in threading.enumerate():
        if thread is not me and thread.name not in KIT_THREADS and thread not in (ignore or set()):
            thread.join(max(0.0, deadline - time.monotonic()))
    for armed in fatal_timers():
        if armed.seconds <= deadline - time.monotonic():
            time.sleep(armed.seconds + GRACE)  # the signal ends the process here, as it would have in use
    late = fatal_timers()
    return "; ".join(str(t) for t in late) or None


# -- the parent's side --------------------------------------------------------------------


def run_forked(item: pytest.Item, *, quiet_for: float) -> list[pytest.TestReport]:
    """``item``'s reports, from a forked child; a child that dies or stalls for ``quiet_for`` s fails the clause."""
    child = _Child()
    if child.pid == 0:  # pragma: no cover - the child's coverage is not collected
        _child(item, child.fd)
    calls: list[str] = []
    done: tuple[Any, ...] | None = None
    ended: tuple[Any, ...] | None = None
    failed_in_kit: str | None = None
    stalled = False
    try:
        for message in child.messages(quiet_for):
            if message[0] == "call":
                calls.append(message[1])
            elif message[0] == "done":
                done = message
            elif message[0] == "ended":
                ended = message
            else:
                failed_in_kit = message[1]
    except TimeoutError:
        stalled = True
    finally:
        status = child.end()
    config = item.config
    if done is not None:
        run_state(config).known = done[2]
        run_state(config).ledgers.update(done[3])
    if done is not None and ended is not None and ended[1] is None:
        return [config.hook.pytest_report_from_serializable(config=config, data=d) for d in done[1]]
    if stalled:
        what = f"the child process running the clause made no progress for {quiet_for:g} s and was killed"
    elif failed_in_kit is not None:
        what = f"the kit failed in the child process: {failed_in_kit}"
    elif ended is not None:
        what = f"{ended[1]} (the clause's checks had passed; a process using the store would be ended)"
    else:
        after = " after the clause's checks had passed, while its threads or timers were pending" if done else ""
        what = f"the store crashed the process{after} ({describe_status(status)})"
        crashes = run_state(config).crashes
        crashes.setdefault(item.callspec.params["chatstore"].name, clause_of(item) or "")  # type: ignore[attr-defined]
    return _crash_reports(item, what, calls, during=done is None)


def release(item: pytest.Item, reports: list[pytest.TestReport]) -> None:
    """After an isolated child: the guard looks at the Redis server's other databases (unless the child already
    reported what it saw), and the kit's database is emptied for the next child."""
    provider = run_state(item.config).redis
    if provider.server is None:
        return
    seen = any(name == "chatstore_guard" for report in reports for name, _ in report.user_properties)
    changed = provider.trespass()
    if changed is not None and not seen:
        reports[-1].user_properties.append(("chatstore_guard", f"after {clause_of(item)} (isolated): {changed}"))
    with contextlib.suppress(Exception):  # a server that went away: the next clause says so
        provider.server.reset()


def answer_in_child(question: Callable[[], str | None], *, quiet_for: float) -> str | None:
    """``question()``'s answer, computed in a forked child, so that no store code runs in this process (it
    may leak threads or kill the process); None if the child died or stalled (the clauses will see why)."""
    child = _Child()
    if child.pid == 0:  # pragma: no cover - the child's coverage is not collected
        try:
            _send(child.fd, ("answer", question()))
        finally:
            os._exit(0)
    answer: str | None = None
    try:
        answer = next((m[1] for m in child.messages(quiet_for) if m[0] == "answer"), None)
    except TimeoutError:
        pass
    finally:
        child.end()
    return answer


class _Child:
    """A forked child in a process group of its own, and the pipe it writes messages to.

    In the child (``pid == 0``), ``fd`` is the pipe's writing end. In the parent, :meth:`messages` reads
    until the child has exited, and :meth:`end` ends the whole group: a helper process the store started
    (and which holds the pipe open) can neither keep the kit waiting nor outlive the clause.
    """

    POLL = 0.2
    """Seconds between looks at whether the child has exited while its pipe is quiet."""

    def __init__(self) -> None:
        read_fd, write_fd = os.pipe()
        with warnings.catch_warnings():  # the parent may have daemon threads (a runner, a Redis provider)
            warnings.simplefilter("ignore", DeprecationWarning)
            self.pid = os.fork()
        with contextlib.suppress(OSError):  # set on both sides: whichever runs first, no race
            os.setpgid(self.pid, 0)  # in the child, pid 0 means itself
        os.close(read_fd if self.pid == 0 else write_fd)
        self.fd = write_fd if self.pid == 0 else read_fd
        self.status: int | None = None

    def messages(self, quiet_for: float) -> Iterator[tuple[Any, ...]]:
        """The child's messages until its pipe closes or it has exited; TimeoutError after ``quiet_for`` s of
        silence from a child still running."""
        buffer, quiet = b"", 0.0
        while True:
            ready, _, _ = select.select([self.fd], [], [], self.POLL)
            if not ready:
                if self._exited():
                    self._end_group()  # helpers that hold the pipe open: ended; what the child wrote is read
                    if not select.select([self.fd], [], [], 0)[0]:
                        return
                    continue
                quiet += self.POLL
                if quiet >= quiet_for:
                    raise TimeoutError
                continue
            quiet = 0.0
            chunk = os.read(self.fd, 1 << 16)
            if not chunk:
                return
            buffer += chunk
            while len(buffer) >= 4:
                (size,) = struct.unpack("!I", buffer[:4])
                if len(buffer) < 4 + size:
                    break
                yield pickle.loads(buffer[4 : 4 + size])
                buffer = buffer[4 + size :]

    def _exited(self) -> bool:
        if self.status is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = status
        return self.status is not None

    def _end_group(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)

    def end(self) -> int:
        """End the child and every process of its group, close the pipe, and give the child's wait status."""
        self._end_group()
        os.close(self.fd)
        if self.status is None:
            _, self.status = os.waitpid(self.pid, 0)
        return self.status


def describe_status(status: int) -> str:
    """``os.waitpid``'s status in words: a signal's name, or the exit code."""
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        return f"killed by {name}"
    return f"it exited with status {os.WEXITSTATUS(status)}"


def _crash_reports(item: pytest.Item, what: str, calls: list[str], *, during: bool) -> list[pytest.TestReport]:
    """Setup, call and teardown reports for a clause whose child died (``during`` its calls, or after them):
    the call failed with ``what``."""
    from pytest_chatstore.spec.clauses import MODEL

    clause_id = clause_of(item) or MODEL
    if not calls:
        last = " before its first store call"
    else:
        last = f" during {calls[-1]}" if during else f"; the clause's last call was {calls[-1]}"
    try:
        fail(clause_id, what + last, log=calls[-20:])
    except ClauseFailure as failure:
        error = failure
    item.stash[kit_fixture_key] = True  # the kit's fixture ran, in the child

    def raise_failure() -> None:
        raise error

    reports = []
    for when, body in (("setup", lambda: None), ("call", raise_failure), ("teardown", lambda: None)):
        call = pytest.CallInfo.from_call(body, when=when)  # type: ignore[arg-type]
        report = item.ihook.pytest_runtest_makereport(item=item, call=call)
        if when == "call" and report.failed:
            report.longrepr = str(error)  # the kit's report, not this module's traceback
        reports.append(report)
    return reports


# -- leaked threads, in either mode -------------------------------------------------------------


def leaked_threads(before: set[threading.Thread]) -> list[threading.Thread]:
    """Non-daemon threads started since ``before`` and still running after a short grace."""
    new = [t for t in threading.enumerate() if t not in before and not t.daemon and t.is_alive()]
    deadline = time.monotonic() + LEAK_GRACE
    for thread in new:
        thread.join(max(0.0, deadline - time.monotonic()))
    return [t for t in new if t.is_alive()]


def child_processes() -> set[int]:
    """Process IDs of this process's children (Linux: read from ``/proc``; elsewhere an empty set).

    Each thread's ``/proc/self/task/TID/children`` (a few files, about 10 us in all) where the kernel has
    them, so that the kit can look around every clause; else every process's ``stat`` (about 1 ms)."""
    found = set[int]()
    try:
        for tid in os.listdir("/proc/self/task"):
            with contextlib.suppress(FileNotFoundError, ProcessLookupError):  # a thread that ended meanwhile
                found.update(int(pid) for pid in Path(f"/proc/self/task/{tid}/children").read_text().split())
        if Path(f"/proc/self/task/{os.getpid()}/children").exists():
            return found
    except OSError:
        pass
    return _children_of(os.getpid())


def _children_of(parent: int) -> set[int]:
    """Children of ``parent``, from every process's ``stat`` (``/proc``; elsewhere an empty set)."""
    return set(_parents().get(parent, []))


def _parents() -> dict[int, list[int]]:
    """Every process's children, by parent (one look at every process's ``stat`` in ``/proc``; elsewhere empty)."""
    children: dict[int, list[int]] = {}
    try:
        pids = [name for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return children
    for pid in pids:  # each may end while it is read: pathlib's glob would raise for one gone between two steps
        with contextlib.suppress(OSError, ValueError, IndexError):
            # "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ")"
            parent = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(pid))
    return children


def descendants(pid: int, parents: dict[int, list[int]]) -> list[int]:
    """``pid``'s children, their children and so on (from ``parents``, as :func:`_parents` gives it), parents
    before children."""
    found: list[int] = []
    queue = [pid]
    while queue:
        children = sorted(set(parents.get(queue.pop(0), [])) - {pid, *found})
        found += children
        queue += children
    return found


def started_since(before: set[int]) -> set[int]:
    """Children of this process started since ``before`` was taken, but multiprocessing's own helpers (its
    resource tracker and fork server serve the whole process, not one store) and the kit's own servers."""
    import multiprocessing.forkserver
    import multiprocessing.resource_tracker

    from pytest_chatstore.servers.processes import KIT_PROCESSES

    shared = {
        getattr(multiprocessing.resource_tracker._resource_tracker, "_pid", None),
        getattr(multiprocessing.forkserver._forkserver, "_forkserver_pid", None),
    }
    return child_processes() - before - shared - KIT_PROCESSES


@contextlib.contextmanager
def sparing(spared: set[int]) -> Iterator[None]:
    """Processes started within the block are added to ``spared`` (a target's first store build: the factory's)."""
    before = child_processes()
    try:
        yield
    finally:
        spared.update(started_since(before))


def end_processes(pids: set[int]) -> list[int]:
    """Kill ``pids`` (children of this process the store left running) and whatever they started, and reap
    them; those of ``pids`` that were alive.

    Each is stopped first, then its descendants, until no new one appears: a process that is stopped cannot
    start another, so none is orphaned (re-parented, and out of reach) by a fork between the look and the kill.
    """
    stopped: set[int] = set()
    frontier = set(pids)
    while frontier:
        for pid in frontier:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGSTOP)
        stopped |= frontier
        parents = _parents()
        frontier = {below for pid in frontier for below in descendants(pid, parents)} - stopped
    for pid in stopped:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    ended = []
    for pid in sorted(pids):
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
            ended.append(pid)
    return ended


def command_of(pid: int) -> str:
    """A process's command line, shortened for a report (``?`` if it has gone)."""
    try:
        words = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    line = " ".join(w.decode(errors="replace") for w in words if w) or "?"
    return line if len(line) <= 80 else line[:77] + "..."


# -- a previous run that crashed ----------------------------------------------------------------


def decide(config: pytest.Config, settings: Any) -> str | None:
    """Why clauses run in forked children, or None: asked for (``--chatstore-isolate``), or the last run of a
    target crashed."""
    if settings.isolate:
        if not available():
            raise pytest.UsageError("pytest-chatstore: --chatstore-isolate needs os.fork (POSIX); this is not")
        return "--chatstore-isolate"
    crashed = crashed_before(config, [t.name for t in settings.targets])
    if crashed and available():
        where = ", ".join(f"{target} in {clause}" for target, clause in crashed.items())
        return f"automatically: the last run died ({where})"
    return None


def end_left_behind(config: pytest.Config) -> None:
    """At the run's very end: end the helper processes stores started in this process and left running, then, if
    stores left non-daemon threads that would keep the process alive for ever, end the process (every report is
    written by now) with the session's exit status."""
    ended = end_processes(run_state(config).processes & child_processes())
    if ended:
        sys.stderr.write(
            f"pytest-chatstore: ended {len(ended)} process(es) the store under test started and left running "
            f"(pid {', '.join(map(str, ended))}), at the run's end: they were started by the target's first store "
            "or its fixtures, and taken to be the factory's (a server it starts once); those started later in a "
            "clause were ended when it ended\n"
        )
    leaked = [t for t in run_state(config).leaked if t.is_alive()]
    if leaked:
        names = ", ".join(sorted({t.name for t in leaked}))
        sys.stderr.write(
            f"pytest-chatstore: ending the process: the store under test left {len(leaked)} non-daemon thread(s) "
            f"running ({names}), which would keep it alive for ever; --chatstore-isolate contains them\n"
        )
        sys.stderr.flush()
        sys.stdout.flush()
        os._exit(run_state(config).exitstatus)


def crashed_before(config: pytest.Config, targets: list[str]) -> dict[str, str]:
    """Targets that crashed a run (the process died in a clause, or an isolated clause crashed), and where.

    A target stays listed, and isolated, until an isolated run of it ends without a crash.
    """
    running, crashed = _cached(config, CRASH_CACHE_KEY), _cached(config, CRASHED_CACHE_KEY)
    found = {t: running.get(t) or crashed[t] for t in targets if t in running or t in crashed}
    if found:
        _store(config, CRASHED_CACHE_KEY, {**crashed, **found})
    return found


def mark_running(config: pytest.Config, target: str, clause_id: str | None) -> None:
    """Note the clause now running on ``target`` (None: the target's run ended cleanly)."""
    running = _cached(config, CRASH_CACHE_KEY)
    if clause_id is None:
        if target not in running:
            return
        running.pop(target)
    else:
        running[target] = clause_id
    _store(config, CRASH_CACHE_KEY, running)


def mark_crashed(config: pytest.Config, target: str, clause_id: str | None) -> None:
    """An isolated run of ``target`` crashed in ``clause_id`` (None: it ended without a crash)."""
    crashed = _cached(config, CRASHED_CACHE_KEY)
    if clause_id is None:
        crashed.pop(target, None)
    else:
        crashed.setdefault(target, clause_id)
    _store(config, CRASHED_CACHE_KEY, crashed)


def _cached(config: pytest.Config, key: str) -> dict[str, str]:
    cache = getattr(config, "cache", None)
    value = cache.get(key, {}) if cache is not None else {}
    return dict(value) if isinstance(value, dict) else {}


def _store(config: pytest.Config, key: str, value: dict[str, str]) -> None:
    cache = getattr(config, "cache", None)
    if cache is not None:
        cache.set(key, value)
