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
from typing import Any, Literal

from pytest_chatstore.profiles import PROFILES

KIT_OVERHEAD = 0.0002
"""Seconds the kit spends per store call besides the call (generating, converting, checking): added to the
first measurement of a store, before the run has observed its real cost."""

RESERVE = 0.1
"""The share of the budget left unplanned, for what is not a store call (pytest, building stores) and for
estimates that were low."""

DEFAULT_BUDGET = 240.0
"""Seconds per target: a 20 ms-per-call store gets a full, reduced verdict in about four minutes."""


CALLS_PER_SEQUENCE = 7.3
"""Store calls per sequence of a bounded-exhaustive phase (building the store, its writes, the reads after each):
measured on the in-memory reference store (the mean over every phase, ``evidence.exhaustive`` of a JSON report)."""


Unit = Literal["property", "machine", "steps", "rounds", "fixed"]
"""What scales: Hypothesis examples of a property or a state machine, steps per writer of a burst,
rounds of a concurrency clause, or nothing (a fixed scenario)."""


@dataclass(frozen=True)
class Work:
    """A clause's work: calls per unit, how many units the full work has, and its floor of evidence."""

    per_unit: float
    """Store calls per unit (measured on the in-memory reference store: ``benchmarks/clause_work.py``)."""
    unit: Unit = "property"
    full: int = 1
    """Units of the full work, for the units no Hypothesis profile sets (steps, rounds, fixed)."""
    floor: int = 10
    """The fewest units the clause ever runs."""
    exhaustive: tuple[int, int] = (0, 0)
    """Sequences of the clause's bounded-exhaustive phase (:mod:`pytest_chatstore.scope`) in full and at depth 1,
    its cut for a clause the budget reduces; ``tests/test_same_verdict.py`` keeps them equal to the scope's."""

    def full_units(self, profile: str) -> int:
        if self.unit in ("property", "machine"):
            count: int = PROFILES[profile][self.unit]["max_examples"]
            return count
        return self.full

    def calls(self, profile: str) -> float:
        """The calls of the full work: the random phase's, and the bounded-exhaustive phase's in full."""
        return self.per_unit * self.full_units(profile) + self.exhaustive[0] * CALLS_PER_SEQUENCE

    def reduced_calls(self, profile: str, fraction: float) -> float:
        """The calls of a reduced clause: ``fraction`` of the random phase, the exhaustive phase at depth 1."""
        return self.per_unit * self.full_units(profile) * fraction + self.exhaustive[1] * CALLS_PER_SEQUENCE

    def floor_fraction(self, profile: str) -> float:
        return 1.0 if self.unit == "fixed" else min(1.0, self.floor / self.full_units(profile))


WORK: dict[str, Work] = {
    "FRE-001": Work(11),
    "ORD-001": Work(17, exhaustive=(46, 46)),
    "ORD-002": Work(3),
    "SET-001": Work(9, exhaustive=(85, 49)),
    "SET-002": Work(9, exhaustive=(15, 8)),
    "INS-001": Work(10, exhaustive=(27, 15)),
    "INS-002": Work(9, exhaustive=(201, 113)),
    "DEL-001": Work(9, exhaustive=(18, 17)),
    "DEL-002": Work(11, exhaustive=(38, 16)),
    "DEL-003": Work(9, exhaustive=(35, 25)),
    "DEL-004": Work(9, exhaustive=(35, 25)),
    "DLL-001": Work(9, exhaustive=(8, 7)),
    "DLL-002": Work(11, exhaustive=(9, 1)),
    "DLA-001": Work(9, exhaustive=(17, 8)),
    "DLA-002": Work(8, exhaustive=(17, 8)),
    "KEY-001": Work(11, exhaustive=(112, 64)),
    "KEY-002": Work(13, exhaustive=(64, 23)),
    "KEY-003": Work(17),
    "KEY-005": Work(2, "fixed"),
    "KEY-004": Work(12, exhaustive=(147, 147)),  # scope.among_lookalikes, never cut
    "KEY-006": Work(154, "fixed"),  # every order of every family, enumerated
    "FID-001": Work(10),
    "FID-002": Work(9),
    "FID-003": Work(8),
    "FID-004": Work(22, "fixed"),
    "OWN-001": Work(9),
    "OWN-002": Work(8),
    "OWN-003": Work(8),
    "PAR-001": Work(24),
    "PAR-002": Work(15),
    "CON-001": Work(4, "steps", full=50, floor=10),  # 4 writers append one message per step
    "CON-002": Work(1, "steps", full=120, floor=40),  # one delete_last per message, 4 threads
    "CON-003": Work(8, "steps", full=50, floor=10),  # 8 tasks append one message per step
    "CON-004": Work(20, "rounds", full=25, floor=5),  # 3 threads x 5 calls, plus set and checks
    "BAT-001": Work(1, "steps", full=50, floor=10),  # 4 writers append a batch of 5 every 5 steps
    "BAD-001": Work(80, "fixed"),
    "BAD-002": Work(62, "fixed"),
    "BAD-003": Work(74, "fixed"),
    "TTL-001": Work(15, "fixed"),
    "TTL-002": Work(11, "fixed"),
    "TTL-003": Work(17, "fixed"),
    "TTL-004": Work(16, "fixed"),
    "TTL-005": Work(13, "fixed"),
    "TTL-006": Work(14, "fixed"),
    "TTL-007": Work(10, "fixed"),
    "TTL-008": Work(51, "machine", floor=25),
    "MDL-001": Work(142, "machine", floor=25, exhaustive=(206, 0)),
    "FID-005": Work(7, "fixed"),
    "OWN-004": Work(25, "fixed"),
    "SHR-001": Work(30, exhaustive=(102, 102)),  # scope.through_two_instances, never cut
    "SHR-002": Work(9, "steps", full=25, floor=5),  # 4 inserts per step, a linearizable round every 5 steps
    "SHR-003": Work(20),
    "PRC-001": Work(8, "steps", full=10, floor=4),  # 4 processes, an operation and an insert per step
    "SCL-001": Work(1002, "fixed"),
    "SCL-002": Work(8, "fixed"),
    "SCL-003": Work(6, "fixed"),
}
"""Clause ID -> its :class:`Work`: calls per example measured by ``benchmarks/clause_work.py``; the sized
clauses' calls per unit read from their code."""


@dataclass(frozen=True)
class Allowance:
    """What one clause may do: a fraction of its full work."""

    scale: float = 1.0
    seconds: float = math.inf
    """The clause's share of the time left, in seconds: its planned calls' part of all the clauses' still to run.
    A phase that can stop early (the bounded-exhaustive phase) stops there, and says so."""

    @property
    def reduced(self) -> bool:
        return self.scale < 1.0

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


def floor_seconds(clauses: Iterable[str], cost: float, profile: str) -> float:
    """What the floors of ``clauses`` cost at ``cost`` seconds per call."""
    return sum(work(c).reduced_calls(profile, work(c).floor_fraction(profile)) for c in clauses) * cost


def full_seconds(clauses: Iterable[str], cost: float, profile: str) -> float:
    return sum(work(c).calls(profile) for c in clauses) * cost


def plan(clauses: Iterable[str], budget: float, cost: float, profile: str, *, strict: bool = False) -> float:
    """The common scale (≤ 1) that makes ``clauses``' work fit ``budget`` seconds at ``cost`` per call.

    Each clause does ``max(floor, scale * full)``. When even the floors do not fit, the scale is 0
    (every clause at its floor), or :class:`BudgetTooSmall` is raised if ``strict``.
    """
    todo = list(clauses)
    if full_seconds(todo, cost, profile) <= budget:
        return 1.0
    if floor_seconds(todo, cost, profile) > budget:
        if not strict:
            return 0.0
        raise BudgetTooSmall(
            f"the floors of evidence of {len(todo)} clause(s) need about {floor_seconds(todo, cost, profile):.0f} s "
            f"at {cost * 1000:.1f} ms per call, more than the {budget:.0f} s left"
        )
    low, high = 0.0, 1.0
    for _ in range(40):  # bisect the scale; the cost is monotonic in it
        mid = (low + high) / 2
        spent = sum(work(c).reduced_calls(profile, max(work(c).floor_fraction(profile), mid)) for c in todo) * cost
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
        scale = plan(todo, left, self.cost, self.profile)
        planned = [work(c).reduced_calls(self.profile, max(work(c).floor_fraction(self.profile), scale)) for c in todo]
        return Allowance(scale, left * planned[0] / sum(planned) if sum(planned) else left)

    def overrun(self) -> str | None:
        """What the summary says when the clauses' floors did not fit the budget, with the figures; else None."""
        if self.spent <= self.budget:
            return f"{self.note}; the run stayed within it ({self.spent:.0f} s)" if self.note else None
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
        for name, (n, waited) in (methods or {}).items():
            before = self.methods.get(name, (0, 0.0))
            self.methods[name] = (before[0] + n, before[1] + waited)
        self.spent += seconds
        if clause_id in self.clauses:
            self.clauses.remove(clause_id)
        if counted and calls:
            self.calls += calls
            self.seconds += seconds
