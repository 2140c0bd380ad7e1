"""A small linearizability checker (Wing & Gong's search, with memoisation).

A concurrent history is linearizable if its operations can be put in one
sequential order that (a) respects real time: an operation that returned
before another was called comes first, and (b) replayed against the
sequential model gives every operation the answer it actually got.

The search tries, at each point, every pending operation that no other
pending operation finished before; it memoises (done set, model state) pairs,
so histories of a few dozen operations over a few threads check in
milliseconds. No such checker existed for Python; this one is kept generic:
the caller supplies the sequential ``step`` function.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

S = TypeVar("S", bound=Hashable)


@dataclass(frozen=True)
class Event:
    """One completed call: who made it, when (``perf_counter_ns``), what, and the answer."""

    thread: int
    start: int
    end: int
    op: tuple[Any, ...]
    result: Any


@dataclass(frozen=True)
class Verdict(Generic[S]):
    ok: bool
    order: tuple[Event, ...] = ()
    """A witness order when ``ok``; otherwise the longest prefix that could be explained."""


def check_linearizable(
    events: Sequence[Event], initial: S, step: Callable[[S, tuple[Any, ...]], tuple[S, Any]]
) -> Verdict[S]:
    """Search for a sequential order of ``events`` explained by ``step`` from ``initial``.

    ``step(state, op)`` returns ``(new_state, expected_result)`` and must be pure.
    """
    n = len(events)
    seen: set[tuple[int, S]] = set()
    best: list[Event] = []
    order: list[Event] = []

    def search(done: int, state: S) -> bool:
        nonlocal best
        if done == (1 << n) - 1:
            return True
        if (done, state) in seen:
            return False
        seen.add((done, state))
        pending = [i for i in range(n) if not done >> i & 1]
        horizon = min(events[i].end for i in pending)
        for i in pending:
            event = events[i]
            if event.start > horizon:
                continue  # some pending operation finished before this one began
            new_state, expected = step(state, event.op)
            if expected != event.result:
                continue
            order.append(event)
            if len(order) > len(best):
                best = list(order)
            if search(done | 1 << i, new_state):
                return True
            order.pop()
        return False

    if search(0, initial):
        return Verdict(True, tuple(order))
    return Verdict(False, tuple(best))


def overlapping(spans: Sequence[tuple[int, int, int]]) -> int:
    """How many calls overlapped in time a call of another thread: ``spans`` are (thread, start, end).

    The evidence of a concurrency check: a race can only show where calls of different threads
    were in flight at once, so a check that saw few overlaps saw little (a loaded machine runs
    threads one after another)."""
    ordered = sorted(spans, key=lambda s: s[1])
    hit = [False] * len(ordered)
    for i, (thread, _, end) in enumerate(ordered):
        for j in range(i + 1, len(ordered)):
            other, start, _ = ordered[j]
            if start >= end:
                break
            if other != thread:
                hit[i] = hit[j] = True
    return sum(hit)
