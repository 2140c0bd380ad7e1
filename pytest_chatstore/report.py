"""The run's results: the end-of-run summary, the JSON report and the Markdown report.

Each clause's result against each target is a :class:`ClauseResult`; the
:class:`Recorder` renders them. The failure text itself (rule, what happened,
the operations, the hint) is :mod:`pytest_chatstore.failures`'.
"""

from __future__ import annotations

import json
import os
import platform
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from pytest_chatstore import statuses
from pytest_chatstore.clauses import CLAUSES, LEVELS, SPEC_VERSION, in_level, is_newer_than_pin
from pytest_chatstore.failures import said
from pytest_chatstore.gate import Policy


@dataclass
class ClauseResult:
    """One clause's result against one target: what the summary counts and the reports list."""

    target: str
    spec: str
    source: str
    clause_id: str
    status: str
    """One of :data:`pytest_chatstore.statuses.TABLE`."""
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
    """The clause whose known broken rule this clause's check met (see :mod:`pytest_chatstore.attribution`)."""
    met: str | None = None
    """Another clause's rule this clause's failure broke too, not known broken yet when met (see
    :meth:`Recorder.settle`)."""
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


def _failure_markdown(clause: dict[str, Any]) -> list[str]:
    """A failed clause's section of the Markdown report: what happened, the hint, the reproduction, and the
    failure in full (folded)."""
    failure = clause.get("failure")
    if not failure:
        return []
    lines = ["", f"#### {clause['id']} ({clause['level']}, {clause['status']})", ""]
    for label in ("what happened", "hint"):
        line = said(failure, label)
        if line:
            lines.append(f"- {label}: {line}")
    if clause.get("reproduction"):
        lines.append(
            f"- reproduction: `{clause['reproduction']}` (run it with pytest: it fails until the store is fixed)"
        )
    fence = "````" if "```" in failure else "```"
    lines += [
        "",
        "<details><summary>the failure in full</summary>",
        "",
        fence + "text",
        failure,
        fence,
        "",
        "</details>",
    ]
    return lines


def write_no_verdict(paths: Iterable[Path], why: str, policy: Policy | None = None, budget: float = 0.0) -> None:
    """Write a report with no clause result and gate ``incomplete`` to each of ``paths``: ``why`` says why (the run
    has not finished yet, or a usage error stopped it before any clause ran). No older report survives a run that
    names its path, whatever stops it."""
    recorder = Recorder(policy if policy is not None else Policy(), budget)
    recorder.stopped = why
    for path in paths:
        recorder.write(path)


class Recorder:
    """The run's clause results; renders the terminal summary, the JSON report and the Markdown report."""

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

    # -- terminal ------------------------------------------------------------------
    def summary_lines(self) -> list[str]:
        pinned = f"pinned to {self.policy.spec}" if self.policy.spec else "not pinned"
        lines = [f"spec {SPEC_VERSION} ({pinned}); gate level {self.policy.level}"]
        if self.stopped is not None:
            lines.append(f"INCOMPLETE RUN: stopped early ({self.stopped}); this is no conformance verdict")
        lines += [f"Redis: {server}" for server in sorted(self.redis)]
        if self.isolation is not None:
            lines.append(f"isolation: each clause ran in a forked child process ({self.isolation})")
        lines += [f"GUARD: the store changed data outside the kit's database, {change}" for change in self.trespasses]
        if self.deselected_by_others:
            lines.append(
                f"PARTIAL RUN: {len(self.deselected_by_others)} clause(s) deselected by -k, -m or --deselect; "
                "this is no conformance verdict (--chatstore-clauses makes a subset the report records)"
            )
        if self.deselected_by_kit:
            lines.append(f"subset: --chatstore-clauses {' '.join(self.policy.clauses)}")
        retried = [r for r in self.results.values() if r.retries]
        if retried:
            lines.append(
                f"real time: {len(retried)} TTL scenario(s) ran again with a longer ttl because the machine was busy "
                f"({', '.join(sorted({f'{r.clause_id} x{r.retries}' for r in retried}))})"
            )
        for target, results in self.targets().items():
            lines += self._target_lines(target, results)
        return lines

    def _target_lines(self, target: str, results: list[ClauseResult]) -> list[str]:
        lines = [f"{target} ({results[0].source}): {self.verdict(results)}"]
        groups: dict[str, Counter[str]] = defaultdict(Counter)
        for r in results:
            groups[CLAUSES[r.clause_id].group][r.status] += 1
        for group, counts in groups.items():
            cells = ", ".join(f"{counts[k]} {statuses.word(k)}" for k in statuses.ORDER if counts[k])
            lines.append(f"  {group:<12} {cells}")
        causes = self.root_causes(results)
        if causes:
            lines.append(f"  {len(causes)} root cause(s), in the order to fix them; each lists the clauses it blocked")
        listed = set()
        for r, blocks in causes:
            lines += self._clause_lines(r)
            if blocks:
                lines.append(
                    f"      blocks: {', '.join(blocks)} (their checks met this rule; rerun them once it holds)"
                )
            listed |= {r.clause_id, *blocks}
        for r in results:
            if r.status in LISTED and r.clause_id not in listed:
                lines += self._clause_lines(r)
        lines += self._evidence_lines(results)
        if target in self.budget_notes:
            lines.append(f"  budget: {self.budget_notes[target]}")
        for capability, clauses in _undeclared(results).items():
            where = results[0].declared.get(capability, [False, "?"])[1]
            lines.append(
                f"  UNDECLARED CAPABILITY {capability}: declared absent ({where}), but {', '.join(clauses)} "
                "pass; delete the declaration"
            )
        return lines

    def _evidence_lines(self, results: list[ClauseResult]) -> list[str]:
        """Per clause, the examples and calls its check made; reduced clauses marked ``*``."""
        ran = [r for r in results if r.calls and r.status not in ("skipped", "declared-absent")]
        if not ran:
            return []
        reduced = [r for r in ran if r.scale < 1.0]
        cost = next((r.cost for r in reversed(ran) if r.cost), 0.0)
        head = (
            f"  evidence (examples/calls): {sum(r.calls for r in ran):,} calls at {cost * 1000:.2f} ms each"
            f" (budget {self.budget:g} s); "
        )
        head += (
            f"{len(reduced)} clause(s) reduced to fit (*), none below its floor" if reduced else "every clause in full"
        )
        cells = [f"{r.clause_id} {r.examples or '-'}/{r.calls}{'*' if r.scale < 1.0 else ''}" for r in ran]
        lines = [head] + ["    " + "  ".join(cells[i : i + 6]) for i in range(0, len(cells), 6)]
        raced = [f"{r.clause_id} {r.overlaps}" for r in ran if r.overlaps]
        if raced:
            lines.append(f"  overlapping calls seen by the concurrency checks: {'  '.join(raced)}")
        faulted = [f"    {r.clause_id} {fault_summary(r.faults)}" for r in ran if r.faults]
        if faulted:
            lines += ["  what the store did under faults (each case: evidence.faults in the JSON report):", *faulted]
        exhausted = {r.clause_id: r.exhaustive for r in ran if r.exhaustive is not None}
        if exhausted:
            cut = [clause_id for clause_id, covered in exhausted.items() if covered["reduced"]]
            lines.append(
                f"  bounded-exhaustive phase: {len(exhausted)} clause(s), "
                f"{sum(covered['sequences'] for covered in exhausted.values()):,} sequences, every one of "
                "its small scope before any random example (each clause's scope: evidence.exhaustive in the JSON "
                "report)" + (f"; depth cut by the budget for {', '.join(cut)}" if cut else "")
            )
        return lines

    @staticmethod
    def _clause_lines(r: ClauseResult) -> list[str]:
        clause = CLAUSES[r.clause_id]
        lines = [f"  {statuses.STATUSES[r.status].label} {r.clause_id} [{clause.level}] {clause.rule}"]
        if r.status not in ("failed", "error") and r.reason:
            lines.append(f"      {r.reason}")
        if r.reproduction:
            lines.append(f"      reproduction: {_shown(r.reproduction)}")
        return lines

    # -- files ---------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """The JSON report; :data:`SCHEMA_PATH` is its schema."""
        targets = []
        for target, results in self.targets().items():
            first = results[0]
            store_class = next((r.store_class for r in results if r.store_class), None)
            undeclared = sorted(_undeclared(results))
            counts = Counter(r.status for r in results)
            targets.append(
                {
                    "name": target,
                    "spec": first.spec,
                    "source": first.source,
                    "store_class": store_class,
                    "package": (store_class and _package_of(store_class)) or _package_of(first.spec),
                    "capabilities": {
                        "detected": max((r.detected for r in results), key=len),
                        "effective": max((r.capabilities for r in results), key=len),
                        "declared": {k: {"present": v, "source": w} for k, (v, w) in first.declared.items()},
                        "undeclared": undeclared,
                    },
                    "gate": self.gate(results),
                    "level_reached": self.level_reached(results),
                    "root_causes": [
                        {"clause": r.clause_id, "status": r.status, "blocks": blocks}
                        for r, blocks in self.root_causes(results)
                    ],
                    "counts": {k: counts[k] for k in statuses.ORDER if counts[k]},
                    "budget": self._budget_json(results),
                    "clauses": [self._clause_json(r) for r in results],
                }
            )
        return {
            "schema_version": SCHEMA_VERSION,
            "tool": {"name": "pytest-chatstore", "version": _version("pytest-chatstore")},
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "spec": {"implemented": SPEC_VERSION, "pinned": self.policy.spec},
            "level": self.policy.level,
            "selection": list(self.policy.clauses),
            "complete": self.complete(),
            "gate": "incomplete"
            if self.stopped is not None
            else "pass"
            if all(t["gate"] == "pass" for t in targets)
            else "fail",
            "stopped": self.stopped,
            "isolation": self.isolation,
            "guard": self.trespasses,
            "redis": sorted(self.redis),
            "environment": {
                "python": platform.python_version(),
                "platform": platform.platform(),
                "packages": {
                    name: _version(name) for name in ("pytest", "hypothesis", "redis", "fakeredis") if _version(name)
                },
            },
            "targets": targets,
        }

    def _budget_json(self, results: list[ClauseResult]) -> dict[str, Any]:
        costs = [r.cost for r in results if r.cost > 0]
        return {
            "seconds": self.budget,
            "cost_per_call": round(costs[-1], 6) if costs else None,
            "calls": sum(r.calls for r in results),
            "reduced": [r.clause_id for r in results if r.scale < 1.0],
        }

    @staticmethod
    def _clause_json(r: ClauseResult) -> dict[str, Any]:
        clause = CLAUSES[r.clause_id]
        data: dict[str, Any] = {
            "id": r.clause_id,
            "level": clause.level,
            "group": clause.group,
            "rule": clause.rule,
            "status": r.status,
            "duration": round(r.duration, 4),
        }
        for name in ("reason", "failure", "reproduction", "blob", "blocked_by", "retries"):
            value = getattr(r, name)
            if value:
                data[name] = value
        data["evidence"] = {"examples": r.examples, "calls": r.calls, "reduced": r.scale < 1.0}
        if r.scale < 1.0:
            data["evidence"]["scale"] = round(r.scale, 4)
        if r.exhaustive is not None:
            data["evidence"]["exhaustive"] = r.exhaustive
        if r.overlaps:
            data["evidence"]["overlaps"] = r.overlaps
        if r.faults:
            data["evidence"]["faults"] = r.faults
        return data

    def to_markdown(self) -> str:
        report = self.to_json()
        pinned = f", pinned {report['spec']['pinned']}" if report["spec"]["pinned"] else ""
        lines = [
            "## Chat-store conformance",
            "",
            f"pytest-chatstore {report['tool']['version']}, spec {SPEC_VERSION}{pinned}, "
            f"gate level `{report['level']}`" + ("" if report["complete"] else " (partial run)") + ".",
            *(
                [f"**Incomplete run: stopped early ({report['stopped']}); no conformance verdict.**"]
                if report["stopped"]
                else []
            ),
        ]
        if report["redis"]:
            lines.append(f"Redis: {'; '.join(report['redis'])}.")
        for t in report["targets"]:
            gate = {"pass": "passes the gate", "fail": "**fails the gate**"}.get(t["gate"], "**not verified**")
            reached = f"conforms to level `{t['level_reached']}`" if t["level_reached"] else "conforms to no level"
            if t["gate"] == "incomplete":
                reached = "the run stopped before every clause ran"
            lines += ["", f"### `{t['spec']}`: {gate}, {reached}", ""]
            # The statuses of the JSON report and JUnit, only those this target has.
            present = [k for k in statuses.STATUSES if any(c["status"] == k for c in t["clauses"])]
            lines += ["| group | " + " | ".join(present) + " |", "| --- |" + " ---: |" * len(present)]
            per_group: dict[str, Counter[str]] = defaultdict(Counter)
            for c in t["clauses"]:
                per_group[c["group"]][c["status"]] += 1
            for group, counts in per_group.items():
                lines.append(f"| {group} | " + " | ".join(str(counts[k] or "") for k in present) + " |")
            notable = [c for c in t["clauses"] if c["status"] in LISTED]
            if notable:
                lines += ["", "| clause | level | status | rule |", "| --- | --- | --- | --- |"]
                for c in notable:
                    rule = c["rule"].replace("|", "\\|")
                    note = f" ({c['reason']})" if c.get("reason") and c["status"] != "failed" else ""
                    lines.append(f"| {c['id']} | {c['level']} | {c['status']} | {rule}{note} |")
            for c in notable:
                lines += _failure_markdown(c)
        return "\n".join(lines) + "\n"

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".json":
            path.write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")
        else:
            path.write_text(self.to_markdown(), encoding="utf-8")


SCHEMA_VERSION = 1
SCHEMA_PATH = Path(__file__).parent / "report.schema.json"
"""The JSON Schema of :meth:`Recorder.to_json` (published in the docs' reference)."""


def _shown(path: str) -> str:
    """``path`` relative to the working directory when it lies below it."""
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


def _undeclared(results: Sequence[ClauseResult]) -> dict[str, list[str]]:
    """Capability declared absent -> the clauses that exercised it and held."""
    found: dict[str, list[str]] = defaultdict(list)
    for r in results:
        for capability in r.undeclared:
            found[capability].append(r.clause_id)
    return dict(found)


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _package_of(spec: str) -> dict[str, str | None] | None:
    """The installed distribution that provides the module of ``spec`` (``MODULE:ATTR``), with its version.

    For a factory target the report asks for the class of the stores it built first, so that a factory in
    a project's own tests names the backend package (``llama-index-storage-chat-store-postgres``), not
    the project."""
    module = spec.split(":", 1)[0]
    names = metadata.packages_distributions().get(module.split(".", 1)[0], [])
    if not names:
        return None
    # A namespace package (llama_index) is shared by many distributions: take the one holding the module.
    path = module.replace(".", "/")
    holding = [n for n in names if any(str(f).startswith((f"{path}.py", f"{path}/")) for f in _files(n))]
    name = sorted(holding or names)[0]
    return {"name": name, "version": _version(name)}


def _files(distribution: str) -> list[Any]:
    try:
        return list(metadata.distribution(distribution).files or [])
    except metadata.PackageNotFoundError:
        return []


def fault_summary(cases: list[dict[str, str]]) -> str:
    """``12 cases (raised E/applied once 6, raised E/not applied 6)``: what a faults clause saw, counted."""
    counts = Counter(f"{case['caller'].split(':')[0]}/{case['effect']}" for case in cases)
    return f"{len(cases)} cases (" + ", ".join(f"{what} {n}" for what, n in sorted(counts.items())) + ")"
