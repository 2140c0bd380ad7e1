"""The renderers of a run's verdict: the end-of-run summary, the JSON report and the Markdown report.

Each reads a :class:`~pytest_chatstore.report.verdict.Results`, whose verdict is already decided
(:mod:`pytest_chatstore.report.verdict`), and decides nothing. A report file is written by the
renderer its suffix names (:data:`RENDERERS`). The failure text itself (rule, what
happened, the operations, the hint) is :mod:`pytest_chatstore.engine.failures`'.
"""

from __future__ import annotations

import json
import os
import platform
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from pytest_chatstore.engine.failures import said
from pytest_chatstore.report.gate import Policy
from pytest_chatstore.report.verdict import LISTED, ClauseResult, Results
from pytest_chatstore.spec import statuses
from pytest_chatstore.spec.clauses import CLAUSES, LEVELS, SPEC_VERSION


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
    run = Results(policy if policy is not None else Policy(), budget)
    run.stopped = why
    for path in paths:
        write(run, path)


def summary_lines(run: Results) -> list[str]:
    pinned = f"pinned to {run.policy.spec}" if run.policy.spec else "not pinned"
    lines = [f"spec {SPEC_VERSION} ({pinned}); gate level {run.policy.level}"]
    if run.stopped is not None:
        lines.append(f"INCOMPLETE RUN: stopped early ({run.stopped}); this is no conformance verdict")
    lines += [f"Redis: {server}" for server in sorted(run.redis)]
    if run.isolation is not None:
        lines.append(f"isolation: each clause ran in a forked child process ({run.isolation})")
    lines += [f"GUARD: the store changed data outside the kit's database, {change}" for change in run.trespasses]
    lines += [f"ended: {what}" for what in run.ended[:3]]
    if len(run.ended) > 3:
        lines.append(
            f"ended: processes left running after {len(run.ended) - 3} more clause(s) too "
            "(each in the JSON report's `ended`)"
        )
    if run.deselected_by_others:
        lines.append(
            f"PARTIAL RUN: {len(run.deselected_by_others)} clause(s) deselected by -k, -m or --deselect; "
            "this is no conformance verdict (--chatstore-clauses makes a subset the report records)"
        )
    if run.deselected_by_kit:
        lines.append(f"subset: --chatstore-clauses {' '.join(run.policy.clauses)}")
    retried = [r for r in run.results.values() if r.retries]
    if retried:
        lines.append(
            f"real time: {len(retried)} TTL scenario(s) ran again with a longer ttl because the machine was busy "
            f"({', '.join(sorted({f'{r.clause_id} x{r.retries}' for r in retried}))})"
        )
    for target, results in run.targets().items():
        lines += _target_lines(run, target, results)
    return lines


def _target_lines(run: Results, target: str, results: list[ClauseResult]) -> list[str]:
    lines = [f"{target} ({results[0].source}): {run.verdict(results)}"]
    groups: dict[str, Counter[str]] = defaultdict(Counter)
    for r in results:
        groups[CLAUSES[r.clause_id].group][r.status] += 1
    for group, counts in groups.items():
        cells = ", ".join(f"{counts[k]} {statuses.word(k)}" for k in statuses.ORDER if counts[k])
        lines.append(f"  {group:<12} {cells}")
    causes = run.root_causes(results)
    if causes:
        lines.append(f"  {len(causes)} root cause(s), in the order to fix them; each lists the clauses it blocked")
    listed = set()
    for r, blocks in causes:
        lines += _clause_lines(r)
        if blocks:
            lines.append(f"      blocks: {', '.join(blocks)} (their checks met this rule; rerun them once it holds)")
        listed |= {r.clause_id, *blocks}
    for r in results:
        if r.status in LISTED and r.clause_id not in listed:
            lines += _clause_lines(r)
    lines += _evidence_lines(run, results)
    if target in run.budget_notes:
        lines.append(f"  budget: {run.budget_notes[target]}")
    for capability, clauses in _undeclared(results).items():
        where = results[0].declared.get(capability, [False, "?"])[1]
        lines.append(
            f"  UNDECLARED CAPABILITY {capability}: declared absent ({where}), but {', '.join(clauses)} "
            "pass; delete the declaration"
        )
    return lines


def _evidence_lines(run: Results, results: list[ClauseResult]) -> list[str]:
    """Per clause, the examples and calls its check made; reduced clauses marked ``*``."""
    ran = [r for r in results if r.calls and r.status not in ("skipped", "declared-absent")]
    if not ran:
        return []
    reduced = [r for r in ran if r.scale < 1.0]
    cost = next((r.cost for r in reversed(ran) if r.cost), 0.0)
    head = (
        f"  evidence (examples/calls): {sum(r.calls for r in ran):,} calls at {cost * 1000:.2f} ms each"
        f" (budget {run.budget:g} s); "
    )
    head += f"{len(reduced)} clause(s) reduced to fit (*), none below its floor" if reduced else "every clause in full"
    cells = [f"{r.clause_id} {r.examples or '-'}/{r.calls}{'*' if r.scale < 1.0 else ''}" for r in ran]
    lines = [head] + ["    " + "  ".join(cells[i : i + 6]) for i in range(0, len(cells), 6)]
    split: dict[tuple[int, int], list[str]] = defaultdict(list)
    for r in ran:
        if r.shards > 1 and r.concurrency > 1:  # parts run in order are the same calls: the JSON report says so
            split[(r.shards, r.concurrency)].append(r.clause_id)
    for (shards, concurrency), clause_ids in split.items():
        lines.append(
            f"  split into {shards} independent parts (own stores and seeds), {concurrency} at once: "
            f"{', '.join(clause_ids)}"
        )
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


def _clause_lines(r: ClauseResult) -> list[str]:
    clause = CLAUSES[r.clause_id]
    lines = [f"  {statuses.STATUSES[r.status].label} {r.clause_id} [{clause.level}] {clause.rule}"]
    if r.status not in ("failed", "error") and r.reason:
        lines.append(f"      {r.reason}")
    if r.reproduction:
        lines.append(f"      reproduction: {_shown(r.reproduction)}")
    return lines


def to_json(run: Results) -> dict[str, Any]:
    """The JSON report; :data:`SCHEMA_PATH` is its schema."""
    targets = []
    for target, results in run.targets().items():
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
                "gate": run.gate(results),
                "level_reached": run.level_reached(results),
                "root_causes": [
                    {"clause": r.clause_id, "status": r.status, "blocks": blocks}
                    for r, blocks in run.root_causes(results)
                ],
                "counts": {k: counts[k] for k in statuses.ORDER if counts[k]},
                "budget": _budget_json(run, results),
                "clauses": [_clause_json(r) for r in results],
            }
        )
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "pytest-chatstore", "version": _version("pytest-chatstore")},
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "spec": {"implemented": SPEC_VERSION, "pinned": run.policy.spec},
        "level": run.policy.level,
        "selection": list(run.policy.clauses),
        "complete": run.complete(),
        "gate": run.run_gate(),
        "stopped": run.stopped,
        "isolation": run.isolation,
        "guard": run.trespasses,
        "ended": run.ended,
        "redis": sorted(run.redis),
        "environment": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "packages": {
                name: _version(name) for name in ("pytest", "hypothesis", "redis", "fakeredis") if _version(name)
            },
        },
        "targets": targets,
    }


def _budget_json(run: Results, results: list[ClauseResult]) -> dict[str, Any]:
    costs = [r.cost for r in results if r.cost > 0]
    return {
        "seconds": run.budget,
        "cost_per_call": round(costs[-1], 6) if costs else None,
        "concurrency": max((r.concurrency for r in results), default=1),
        "calls": sum(r.calls for r in results),
        "reduced": [r.clause_id for r in results if r.scale < 1.0],
    }


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
    if r.shards > 1:
        data["evidence"] |= {"shards": r.shards, "concurrency": r.concurrency}
    if r.faults:
        data["evidence"]["faults"] = r.faults
    return data


def to_markdown(run: Results) -> str:
    report = to_json(run)
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


def json_text(run: Results) -> str:
    """The JSON report as text."""
    return json.dumps(to_json(run), indent=2) + "\n"


RENDERERS: dict[str, Callable[[Results], str]] = {".json": json_text, ".md": to_markdown}
"""A report file's suffix -> the renderer that writes it (``--chatstore-report`` accepts these suffixes)."""


def write(run: Results, path: Path) -> None:
    """Write the report ``path``'s suffix names."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(RENDERERS[path.suffix](run), encoding="utf-8")


def badge(report: dict[str, Any]) -> dict[str, Any]:
    """The badge's renderer, from a JSON report (``python -m pytest_chatstore badge``): a shields.io endpoint
    document, green when every target passes the gate, saying the weakest level every target conforms to ("conforms
    to full (spec 0.5)"), or the gate level failed and what was still reached ("fails full (spec 0.5); conforms to
    must")."""
    targets = report.get("targets", [])
    passes = report.get("gate") == "pass" and bool(targets)
    levels = list(LEVELS)
    reached = [t.get("level_reached") for t in targets]
    weakest = None if None in reached or not reached else min(reached, key=levels.index)
    spec = f"(spec {report['spec']['implemented']})"
    if passes:
        message = f"conforms to {weakest} {spec}" if weakest else f"passes {spec}"
    else:
        message = f"fails {report.get('level', 'the gate')} {spec}" + (f"; conforms to {weakest}" if weakest else "")
    return {"schemaVersion": 1, "label": "chatstore", "message": message, "color": "brightgreen" if passes else "red"}


SCHEMA_VERSION = 1
SCHEMA_PATH = Path(__file__).parent / "report.schema.json"
"""The JSON Schema of :func:`to_json` (published in the docs' reference)."""


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
