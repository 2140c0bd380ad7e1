"""The verdict, pure: from the run's clause results to the gate, the level reached, the root causes and what is
not verified, per target. The renderers (:mod:`pytest_chatstore.report.render`: terminal, JSON, Markdown, badge) read
it and decide nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from pytest_chatstore.report.gate import Policy
from pytest_chatstore.spec import statuses
from pytest_chatstore.spec.clauses import CLAUSES, LEVELS, SPEC_VERSION, in_level, is_newer_than_pin


@dataclass
class ClauseResult:
    """One clause's result against one target: what the summary counts and the reports list."""

    target: str
    spec: str
    source: str
    clause_id: str
    status: str
    """One of :data:`pytest_chatstore.spec.statuses.TABLE`."""
    reason: str = ""
    duration: float = 0.0
    failure: str | None = None
    """The kit's failure report (rule, what happened, the shrunk operations, the hint)."""
    reproduction: str | None = None
    blob: str | None = None
    detected: list[str] = field(default_factory=list)
    capabilities: list[str] = field(default_factory=list)
    declared: dict[str, list[Any]] = field(default_factory=dict)
    undeclared: list[str] = field(default_factory=list)
    """Capabilities declared absent that this clause exercised, and that held."""
    blocked_by: str | None = None
    """The clause whose known broken rule this clause's check met (see :mod:`pytest_chatstore.engine.attribution`)."""
    met: str | None = None
    """Another clause's rule this clause's failure broke too, not known broken yet when met (see
    :meth:`Results.settle`)."""
    retries: int = 0
    """How many times a real-time scenario ran again with a longer ttl."""
    examples: int = 0
    """Hypothesis examples run (0 for a clause that is no Hypothesis test): with :attr:`calls`, the evidence."""
    calls: int = 0
    """Store calls made."""
    scale: float = 1.0
    """The share of its full work the clause did (below 1: reduced to fit the time budget)."""
    cost: float = 0.0
    """Seconds per store call the budget was planned with when the clause started."""
    store_class: str | None = None
    """``module:qualname`` of the stores the target built (the backend a factory target builds)."""
    overlaps: int = 0
    """Calls of a concurrency check that overlapped a call of another thread: how much of a race it saw."""
    shards: int = 1
    """Independent parts the check was split into (its exhaustive phase, fixed families, state machine), their
    evidence added up."""
    concurrency: int = 1
    """How many of those parts went at once."""
    faults: list[dict[str, str]] = field(default_factory=list)
    """A faults clause's cases: per operation and fault, what the caller saw and what the store did."""
    exhaustive: dict[str, Any] | None = None
    """What the clause's bounded-exhaustive phase covered: sequences, calls, depth, reduced, scope (a sentence)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClauseResult:
        return cls(**data)


ROOT_CAUSES = statuses.names(root_cause=True)
"""Statuses of a clause whose own rule the store broke: each is a root cause to fix."""
NOT_SHOWN_TO_HOLD = statuses.names(holds=False)
"""Statuses that mean the clause is not shown to hold (for the level a target reaches)."""
UNVERIFIED = statuses.names(unverified=True)
LISTED = frozenset(s.name for s in statuses.TABLE if s.label)
"""Statuses the summary lists a line for, under the clauses to look at."""


class Results:
    """The run's clause results, and what they amount to per target: the gate, the level reached, the root causes,
    the verdict line. Nothing here renders a report (:mod:`pytest_chatstore.report.render` does)."""

    def __init__(self, policy: Policy, budget: float = 0.0) -> None:
        self.policy = policy
        self.budget = budget
        """The time budget per target (``--chatstore-budget``), in seconds."""
        self.results: dict[tuple[str, str], ClauseResult] = {}
        self.redis: set[str] = set()
        self.deselected_by_kit: set[str] = set()
        self.deselected_by_others: set[str] = set()
        self.budget_notes: dict[str, str] = {}
        """Per target, what the budget says at the end (floors that did not fit, with the figures)."""
        self.stopped: str | None = None
        """Why the run stopped before every suite test ran (interrupted, -x), or None."""
        self.trespasses: list[str] = []
        """What the guard saw change outside the kit's database on the Redis server (see ``servers.guard``)."""
        self.ended: list[str] = []
        """Processes the store started during a clause and left running, ended by the kit when the clause ended."""
        self.isolation: str | None = None
        """Why each clause ran in a forked child (asked for, or the last run of a target died), or None."""

    def add(self, result: ClauseResult) -> None:
        self.results[(result.target, result.clause_id)] = result

    def deselect(self, clause_id: str, *, by_kit: bool) -> None:
        (self.deselected_by_kit if by_kit else self.deselected_by_others).add(clause_id)

    def settle(self) -> None:
        """At the end of the run: a clause that failed on another clause's rule (:attr:`ClauseResult.met`: a write
        that stored nothing, met before that clause had run) is blocked by it when that clause failed on its own,
        as it would have been had that clause run first. In registry order, and only by a clause still a root
        cause, so that two failures that met each other's rules leave one root cause, never none."""
        for results in self.targets().values():
            own = {r.clause_id for r in results if r.status in ROOT_CAUSES and r.blocked_by is None}
            for r in results:
                if r.status == "failed" and r.met in own and r.met != r.clause_id:
                    r.status, r.blocked_by = "blocked", r.met
                    r.reason = f"blocked by {r.met}: its check met {r.met}'s rule broken, which failed on its own"
                    own.discard(r.clause_id)
            # A clause blocked during the run by one that is blocked now (under xdist a worker may know a failure
            # the settlement then charges to another) is blocked by the root cause at the end of that chain.
            by_id = {r.clause_id: r for r in results}
            for r in results:
                seen = {r.clause_id}
                while r.blocked_by in by_id and by_id[r.blocked_by].blocked_by and r.blocked_by not in seen:
                    seen.add(r.blocked_by)
                    r.blocked_by = by_id[r.blocked_by].blocked_by

    def targets(self) -> dict[str, list[ClauseResult]]:
        grouped: dict[str, list[ClauseResult]] = defaultdict(list)
        for result in self.results.values():
            grouped[result.target].append(result)
        order = list(CLAUSES)
        return {t: sorted(rs, key=lambda r: order.index(r.clause_id)) for t, rs in grouped.items()}

    def level_reached(self, results: Sequence[ClauseResult]) -> str | None:
        """The strongest conformance level all of whose run clauses hold (None: not even ``core``)."""
        broken = [CLAUSES[r.clause_id] for r in results if r.status in NOT_SHOWN_TO_HOLD]
        reached = None
        for level in LEVELS:
            if any(in_level(c, level) for c in broken):
                break
            reached = level
        return reached

    def verdict(self, results: Sequence[ClauseResult]) -> str:
        """``CONFORMS to gate level full``, or why not, with the level reached and how much ran."""
        level = self.policy.level
        if self.stopped is not None:
            ran = len({r.clause_id for r in results})
            return f"NOT VERIFIED: the run stopped early ({self.stopped}) after {ran} of {len(CLAUSES)} clauses"
        reached = self.level_reached(results)
        failing = [r for r in results if r.status in ("failed", "unexpected-pass")]
        must = sum(CLAUSES[r.clause_id].level == "MUST" for r in failing)
        other = sum(r.status in UNVERIFIED for r in results)
        newer = self.newer_failing(results)
        if self.gate_passes(results) and newer:
            # Truth first: the store does not conform to the installed spec; the pin is why the gate passes.
            text = (
                f"DOES NOT CONFORM to spec {SPEC_VERSION} ({len(newer)} clause(s) newer than the pinned spec "
                f"{self.policy.spec} failing: {', '.join(newer)}); conforms to the pinned spec {self.policy.spec} "
                f"at gate level {level}, so the gate passes"
            )
        elif self.gate_passes(results) and results and all(r.status in ("skipped", "declared-absent") for r in results):
            # Nothing failed because nothing ran: no verdict to give (the gate passes, as pytest's skips do).
            text = (
                f"NOTHING VERIFIED: each of the {len(results)} selected clause(s) was skipped "
                "(a capability the store lacks; -rs says which)"
            )
        elif self.gate_passes(results):
            text = f"CONFORMS to gate level {level}"
            if reached is not None and list(LEVELS).index(reached) > list(LEVELS).index(level):
                text += f" (and to level {reached})"
        else:
            counts = [f"{must} MUST, {len(failing) - must} SHOULD failing"] + (
                [f"{other} not verified"] if other else []
            )
            if self.trespasses:
                counts.insert(0, "data outside the kit's database changed")
            text = f"DOES NOT CONFORM to gate level {level} ({'; '.join(counts)})"
            text += f"; conforms to level {reached}" if reached else ""
        ran = len({r.clause_id for r in results})
        if ran < len(CLAUSES):
            text += f" [partial run: {ran} of {len(CLAUSES)} clauses]"
        return text

    def newer_failing(self, results: Sequence[ClauseResult]) -> list[str]:
        """Clauses newer than the pinned spec whose rule the store breaks (they do not gate; they are said)."""
        return [
            r.clause_id
            for r in results
            if r.status == "advisory-failure"
            and is_newer_than_pin(CLAUSES[r.clause_id], self.policy.spec)
            and in_level(CLAUSES[r.clause_id], self.policy.level)
        ]

    def gate_passes(self, results: Sequence[ClauseResult]) -> bool:
        """Whether ``results`` pass the gate: nothing gating failed, and the run was not cut short."""
        return self.stopped is None and not self.trespasses and not any(self.policy.gates(r.status) for r in results)

    def gate(self, results: Sequence[ClauseResult]) -> str:
        """``pass``, ``fail``, or ``incomplete`` for a run cut short (never a pass)."""
        if self.stopped is not None:
            return "incomplete"
        return "pass" if self.gate_passes(results) else "fail"

    def run_gate(self) -> str:
        """The whole run's gate: ``incomplete`` for a run cut short, else ``pass`` only when every target passes
        (a run with no target passes nothing it could fail)."""
        if self.stopped is not None:
            return "incomplete"
        return "pass" if all(self.gate(results) == "pass" for results in self.targets().values()) else "fail"

    def complete(self) -> bool:
        """Whether every clause ran (nothing left out by -k, -m, --deselect or --chatstore-clauses, nothing cut)."""
        return not self.deselected_by_kit and not self.deselected_by_others and self.stopped is None

    @staticmethod
    def root_causes(results: Sequence[ClauseResult]) -> list[tuple[ClauseResult, list[str]]]:
        """Each clause whose own rule broke, in registry order, with the clauses whose checks it blocked."""
        blocked: dict[str, list[str]] = defaultdict(list)
        for r in results:
            if r.blocked_by is not None:
                blocked[r.blocked_by].append(r.clause_id)
        # A blocked clause outside the gate (advisory) is no root cause either: the clause it met is.
        return [(r, blocked.get(r.clause_id, [])) for r in results if r.status in ROOT_CAUSES and r.blocked_by is None]
