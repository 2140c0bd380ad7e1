"""The time budget: how much work each clause gets, from the store's measured cost per call.

A run spends at most ``--chatstore-budget`` seconds per target on its clauses'
calls. Before each clause, :func:`plan` shares what is left of the budget among
the clauses still to run, in proportion to their full work (:data:`WORK`), and
scales each clause's work down by one common factor when the full work would not
fit, never below the clause's floor of evidence (its :class:`Work`'s ``floor``). A budget that
cannot pay for the floors runs every clause at its floor, and the summary says so at the end with
the observed figures (:meth:`Ledger.overrun`); the first measurement never stops a run. A fast
store is never reduced: the reference stores' whole default run needs a few
percent of the default budget.

What a clause's work is: Hypothesis examples for a property or a state
machine, the length of a burst or the number of rounds for a concurrency
clause. The cost per call starts as a short measurement of the store (plus the
kit's own overhead per call) and is then replaced by what the run observes
(seconds per call over the clauses so far), so an estimate that was off
corrects itself.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pytest_chatstore.spec.clauses import CLAUSES, Work

KIT_OVERHEAD = 0.0002
"""Seconds the kit spends per store call besides the call (generating, converting, checking): added to the
first measurement of a store, before the run has observed its real cost."""

RESERVE = 0.1
"""The share of the budget left unplanned, for what is not a store call (pytest, building stores) and for
estimates that were low."""

SLACK = 0.25
MIN_SLACK = 30.0
"""How far past its budget a target's clauses may go (the floors of evidence of a store slower than planned for)
before the run stops: the larger of a quarter of ``--chatstore-budget`` and 30 s. Past it no store call starts; the
clause running then is unverified (``error``) and the run ends INCOMPLETE. So no run spends more on a target's
clauses than its budget, this slack, one call's time limit (``--chatstore-timeout``) and the closing of that
clause's stores."""

DEFAULT_BUDGET = 240.0
"""Seconds per target: a 20 ms-per-call store gets a full, reduced verdict in about four minutes."""


WORK: dict[str, Work] = {c.id: c.work for c in CLAUSES.values()}
"""Clause ID -> its :class:`~pytest_chatstore.spec.clauses.Work`, from the clause's record."""


@dataclass(frozen=True)
class Allowance:
    """What one clause may do: a fraction of its full work."""

    scale: float = 1.0
    seconds: float = math.inf
    """The clause's share of the time left, in seconds: its planned calls' part of all the clauses' still to run.
    A phase that can stop early (the bounded-exhaustive phase) stops there, and says so."""

    deep: bool = True
    """Whether the clause's bounded-exhaustive phase runs in full (to the scope's depth): a budget cuts the random
    phases first, to their floors if need be, and the exhaustive phases drop to depth 1 only past that."""

    @property
    def reduced(self) -> bool:
        return self.scale < 1.0 or not self.deep

    def share(self, work: Work, profile: str) -> float:
        """The share of its full work the clause does (1.0: all of it)."""
        return self.units(work, profile) / max(1, work.full_units(profile))

    def units(self, work: Work, profile: str) -> int:
        """How many of ``work``'s units the clause runs."""
        full = work.full_units(profile)
        if work.unit == "fixed":
            return full
        return max(min(work.floor, full), min(full, math.ceil(full * self.scale)))


FULL = Allowance()


class BudgetTooSmall(Exception):
    """The floors of the clauses to run cost more than the budget: refused before running them."""


def _wall(clause_id: str, profile: str, fraction: float | None, speedup: float, deep: bool = True) -> float:
    """The wall time of ``clause_id``'s calls, in calls, in full (``fraction`` None) or with its random phase
    reduced to ``fraction`` (its bounded-exhaustive phase in full if ``deep``, else at depth 1): the exhaustive
    phase, and a property's or a state machine's random search, are split and run at once on a store that waits
    more than it computes, ``speedup`` times faster (see :func:`speedup`); other work is not."""
    w = work(clause_id)
    random, exhaustive = w.phases(profile, fraction, deep=deep)
    return (random / speedup if w.unit in ("property", "machine") else random) + exhaustive / speedup


def floor_seconds(
    clauses: Iterable[str], cost: float, profile: str, speedup: float = 1.0, *, deep: bool = False
) -> float:
    """What the floors of ``clauses`` cost at ``cost`` seconds per call (``speedup``: see :func:`speedup`): their
    random phases' floors, their bounded-exhaustive phases at depth 1 (in full if ``deep``)."""
    return sum(_wall(c, profile, work(c).floor_fraction(profile), speedup, deep) for c in clauses) * cost


def full_seconds(clauses: Iterable[str], cost: float, profile: str, speedup: float = 1.0) -> float:
    return sum(_wall(c, profile, None, speedup) for c in clauses) * cost


def concurrency(seconds: float, cpu: float, most: int) -> int:
    """How many independent runs of one check go at once on a store whose call takes ``seconds`` of which this
    process spends ``cpu`` computing: as many as the waiting pays for (a store that computes gains nothing: the
    interpreter runs one thread at a time), at most ``most``; 1 below :data:`OVERLAP_FROM` a call."""
    if seconds < OVERLAP_FROM:
        return 1
    return max(1, min(most, int(seconds / max(cpu, 1e-6))))


def speedup(seconds: float, cpu: float, overlap: int) -> float:
    """How many times faster calls of ``seconds`` each, of which this process spends ``cpu`` computing, go ``overlap``
    at once than one at a time: the waiting is shared out, the computing is not (the interpreter runs one thread at
    a time). Measured on a correct store at 2 and 20 ms per call this is within 30% of the wall time overlapped
    parts took, on the safe side at 2 ms (``benchmarks/hostile_runs.py``)."""
    if overlap <= 1:
        return 1.0
    return 1.0 / (1.0 / overlap + min(1.0, cpu / seconds))


OVERLAP_FROM = 0.001
"""Seconds per call below which runs are not overlapped: a thread switch costs more than the wait it saves."""


def keeps_depth(clauses: Iterable[str], budget: float, cost: float, profile: str, speedup: float = 1.0) -> bool:
    """Whether ``clauses`` can keep their bounded-exhaustive phases in full within ``budget``: their random phases
    are cut first, to their floors if need be, and the exhaustive phases drop to depth 1 only past that."""
    return floor_seconds(clauses, cost, profile, speedup, deep=True) <= budget


def plan(
    clauses: Iterable[str],
    budget: float,
    cost: float,
    profile: str,
    *,
    strict: bool = False,
    speedup: float = 1.0,
    deep: bool = False,
) -> float:
    """The common scale (≤ 1) of the random phases that makes ``clauses``' work fit ``budget`` seconds at ``cost``
    per call (``speedup``: how much faster the split checks' calls go, overlapped, see :func:`speedup`), their
    bounded-exhaustive phases in full if ``deep`` (see :func:`keeps_depth`), else at depth 1 once reduced.

    Each clause does ``max(floor, scale * full)``. When even the floors do not fit, the scale is 0
    (every clause at its floor), or :class:`BudgetTooSmall` is raised if ``strict``.
    """
    todo = list(clauses)
    if full_seconds(todo, cost, profile, speedup) <= budget:
        return 1.0
    if floor_seconds(todo, cost, profile, speedup, deep=deep) > budget:
        if not strict:
            return 0.0
        raise BudgetTooSmall(
            f"the floors of evidence of {len(todo)} clause(s) need about "
            f"{floor_seconds(todo, cost, profile, speedup):.0f} s at {cost * 1000:.1f} ms per call, more than the "
            f"{budget:.0f} s left"
        )
    low, high = 0.0, 1.0
    for _ in range(40):  # bisect the scale; the cost is monotonic in it
        mid = (low + high) / 2
        spent = sum(_wall(c, profile, max(work(c).floor_fraction(profile), mid), speedup, deep) for c in todo) * cost
        low, high = (mid, high) if spent <= budget else (low, mid)
    return low


def work(clause_id: str) -> Work:
    """``clause_id``'s work (a clause missing from :data:`WORK` costs nothing to plan for)."""
    return WORK.get(clause_id, Work(0, "fixed"))


@dataclass
class Ledger:
    """One target's budget as the run spends it."""

    budget: float
    profile: str
    measured: float
    """Seconds per call from the first measurement (the kit's overhead included)."""
    clauses: list[str]
    """Clauses of this target still to run, in order."""
    spent: float = 0.0
    note: str = ""
    """What the first measurement suggested when the floors seemed not to fit (the run went on regardless)."""
    calls: int = 0
    seconds: float = 0.0
    """Time of the clauses whose calls are counted (real-time TTL waits are not calls)."""
    methods: dict[str, tuple[int, float]] = field(default_factory=dict)
    """Store method -> (calls, seconds waited for them), every call the kit made counted (emptiness checks too)."""
    overlap: int = 1
    """How many parts of a split check go at once on this target (:func:`concurrency`)."""
    cpu: float = 0.0
    """CPU seconds this process spent per call in the first measurement (what overlapping cannot save)."""
    workers: int = 1
    """Processes sharing the clauses (xdist's workers): each runs about its share of those still to run, in its own
    wall time, so the budget is shared, not spent once per worker on every clause."""

    @property
    def speedup(self) -> float:
        """How many times faster a split check's calls go, overlapped, than one at a time (:func:`speedup`)."""
        return speedup(self.measured, self.cpu, self.overlap)

    @property
    def cost(self) -> float:
        """Seconds per call: observed once a few hundred calls have been made, else measured."""
        if self.calls >= 200:
            return self.seconds / self.calls
        return self.measured

    def allowance(self, clause_id: str) -> Allowance:
        """The allowance of the clause about to run (which must be the next in :attr:`clauses`)."""
        todo = self.clauses[self.clauses.index(clause_id) :] if clause_id in self.clauses else [clause_id]
        left = max(0.0, self.budget * (1 - RESERVE) - self.spent)
        shared = left * self.workers  # the other workers run about their share of ``todo`` meanwhile
        deep = keeps_depth(todo, shared, self.cost, self.profile, self.speedup)
        scale = plan(todo, shared, self.cost, self.profile, speedup=self.speedup, deep=deep)
        planned = [
            _wall(
                c,
                self.profile,
                None if scale >= 1.0 else max(work(c).floor_fraction(self.profile), scale),
                self.speedup,
                deep,
            )
            for c in todo
        ]
        seconds = min(left, shared * planned[0] / sum(planned)) if sum(planned) else left
        return Allowance(scale, seconds, deep)

    @property
    def slack(self) -> float:
        """Seconds past the budget the clauses may go before the run stops (:data:`MIN_SLACK`)."""
        return max(self.budget * SLACK, MIN_SLACK)

    @property
    def hard_limit(self) -> float:
        """Seconds past which no store call of this target starts."""
        return self.budget + self.slack

    def stop_reason(self) -> str | None:
        """Why the run stops (the hard limit is reached), or None."""
        if self.spent < self.hard_limit:
            return None
        return (
            f"the clauses took {self.spent:.0f} s, past the budget of {self.budget:g} s and its slack "
            f"({self.slack:.0f} s), at {self.cost * 1000:.1f} ms per call observed{self._where()}: raise "
            "--chatstore-budget (the floors of evidence need more), or leave clauses out (--chatstore-clauses=-slow)"
        )

    def overrun(self) -> str | None:
        """What the summary says when the clauses' floors did not fit the budget, with the figures; else None."""
        if self.spent <= self.budget:
            return f"{self.note}; the run stayed within it ({self.spent:.0f} s)" if self.note else None
        if self.stop_reason() is not None:
            return None  # the run stopped there: its reason says so, in the INCOMPLETE line
        said = f" ({self.note})" if self.note else ""
        return (
            f"the clauses took {self.spent:.0f} s, more than the budget of {self.budget:g} s, at "
            f"{self.cost * 1000:.1f} ms per call observed ({self.calls:,} calls){self._where()}: every clause ran at "
            f"least its floor of evidence; raise --chatstore-budget, or leave clauses out (--chatstore-clauses=-slow)"
            f"{said}"
        )

    def _where(self) -> str:
        """The store method that took most of the time, when one did (the cause of an overrun)."""
        if not self.methods:
            return ""
        name, (calls, seconds) = max(self.methods.items(), key=lambda item: item[1][1])
        if seconds < self.spent / 2:
            return ""
        why = " (the kit lists the keys of every store it builds, to check it starts empty)" if "keys" in name else ""
        return f"; {name}() took {seconds:.0f} s in all, {calls:,} calls at {seconds / calls:.2f} s each{why}"

    def record(
        self, clause_id: str, seconds: float, calls: int, *, counted: bool = True, methods: dict[str, Any] | None = None
    ) -> None:
        """A clause finished after ``seconds`` and ``calls`` calls (``counted``: its time is its calls'), with the
        time of each store method (``methods``: name -> (calls, seconds))."""
        add_times(self.methods, methods or {})
        self.spent += seconds
        if clause_id in self.clauses:
            self.clauses.remove(clause_id)
        if counted and calls:
            self.calls += calls
            self.seconds += seconds


def add_times(into: dict[str, tuple[int, float]], more: dict[str, tuple[int, float]]) -> None:
    """Add ``more``'s time in each store method (name -> (calls, seconds)) to ``into``'s."""
    for name, (calls, waited) in more.items():
        before = into.get(name, (0, 0.0))
        into[name] = (before[0] + calls, before[1] + waited)
