"""Outcomes: what the gate makes of each suite test's result, and the run's summary and reports.

:func:`judge_report` turns pytest's report of a suite test into a clause result
(expected failures, advisory clauses, probes of declared-absent capabilities,
refusals), writes the reproduction of a failure and carries the result on the
report, so that xdist's controller sees it. :class:`RecorderPlugin` collects
the results and writes the terminal summary and the report files.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from pytest_chatstore.engine.failures import classify, failure_text, find_blob, first_clause_failure
from pytest_chatstore.engine.targets import Target
from pytest_chatstore.harness.store import CapabilityMissing, StoreUnderTest
from pytest_chatstore.report import gate, repro
from pytest_chatstore.report.render import summary_lines, write, write_no_verdict
from pytest_chatstore.report.verdict import ClauseResult, Results
from pytest_chatstore.run.stash import (
    clause_of,
    kit_fixture_key,
    run_state,
)
from pytest_chatstore.spec import statuses

KNOWN_BROKEN = statuses.names(known_broken=True)
"""Statuses that show a clause's rule broken: composite checks after it leave that rule out."""


def judge_report(item: pytest.Item, call: pytest.CallInfo[None], report: pytest.TestReport) -> None:
    """Apply the gate to ``report`` (a suite test's setup or call phase), in place."""
    clause_id = clause_of(item)
    assert clause_id is not None
    settings = run_state(item.config).settings
    given = getattr(item, "funcargs", {}).get("chatstore")
    sut = given if isinstance(given, StoreUnderTest) else None  # not ours when the fixture was overridden
    target: Target = sut.target if sut is not None else item.callspec.params["chatstore"]  # type: ignore[attr-defined]
    excinfo = call.excinfo
    refusal = _refusal(item, call, report)
    raw, detail = "refused", ""
    if refusal is not None:
        judgement = gate.Judgement("refused", refusal)
    else:
        raw, detail = "passed" if report.passed else "skipped", ""
        if not (report.passed or report.skipped):
            raw, detail = classify(excinfo.value) if excinfo is not None else ("error", "")
        judgement = gate.judge(
            settings.policy,
            clause_id,
            target.name,
            raw,
            probed=frozenset(sut.probed) if sut is not None else frozenset(),
            probe_source=", ".join(sorted({sut.declared[c][1] for c in sut.probed})) if sut else "",
            detail=detail,
            covered=sut.deterministic if sut is not None else True,
            evidence=f"{sut.examples} examples, {sut.calls} calls" if sut is not None else "",
        )
    if judgement.status in KNOWN_BROKEN:  # later checks of this target leave this rule out
        first = first_clause_failure(excinfo.value) if excinfo is not None else None
        run_state(item.config).known.add(
            target.name,
            clause_id,
            shape=first is not None and first.shape,
            raised_in=first.raised_in if first is not None and judgement.status == "failed" else None,
            met=first.met if first is not None else None,
        )
    _apply(report, judgement, clause_id, gates=settings.policy.gates(judgement.status))
    if excinfo is not None and raw == "infrastructure":
        report.longrepr = detail  # the kit's text, not whatever Hypothesis wrapped it in
    elif excinfo is not None and "nondeterministic" in detail:
        # Hypothesis's complaint about the test (flaky, inconsistent data) is not what happened: the store
        # answered differently to the same calls. Say that instead.
        report.longrepr = f"{failure_text(excinfo.value)}\n  ({detail})"
    failure = None if excinfo is None or judgement.status in ("passed", "skipped") else excinfo.value
    result = ClauseResult(
        target=target.name,
        spec=target.spec,
        source=target.source,
        clause_id=clause_id,
        status=judgement.status,
        reason=judgement.reason or _skip_reason(excinfo),
        duration=report.duration,
        failure=None if failure is None else detail if raw == "infrastructure" else failure_text(failure),
        detected=sorted(sut.detected) if sut is not None else [],
        capabilities=sorted(sut.effective) if sut is not None else [],
        declared={k: [v, where] for k, (v, where) in sut.declared.items()} if sut is not None else {},
        undeclared=sorted(sut.probed) if sut is not None and judgement.status == "passed" else [],
        blocked_by=detail.removeprefix("blocked by ") if raw == "blocked" else None,
        retries=sut.retries if sut is not None else 0,
        examples=sut.examples if sut is not None else 0,
        calls=sut.calls if sut is not None else 0,
        scale=sut.share if sut is not None else 1.0,
        cost=sut.cost if sut is not None else 0.0,
        store_class=sut.store_class if sut is not None else None,
        exhaustive=_exhaustive(sut),
        overlaps=sut.overlaps if sut is not None else 0,
        shards=sut.split[0] if sut is not None else 1,
        concurrency=sut.split[1] if sut is not None else 1,
        faults=list(sut.faults) if sut is not None else [],
    )
    if failure is not None and judgement.status in ("failed", "advisory-failure"):
        result.blob = find_blob(failure)
        clause_failure = first_clause_failure(failure)
        result.met = clause_failure.met if clause_failure is not None else None
        path = repro.write(
            _repro_dir(item.config),
            clause_id=clause_id,
            target=target.spec,
            node=item.nodeid,
            record=clause_failure.replay if clause_failure is not None else None,
            blob=result.blob,
            what=str(clause_failure or failure),
        )
        result.reproduction = str(path)
        report.sections.append(("chatstore reproduction", f"{path}\n(run it with pytest; it fails until fixed)"))
    elif judgement.status == "passed":
        repro.forget(_repro_dir(item.config), clause_id, target.spec)
    report.chatstore = result.to_dict()  # type: ignore[attr-defined]  # carried to xdist's controller
    # JUnit XML writes the teardown report's properties, which are copied from the item's.
    item.user_properties.append(("chatstore_status", judgement.status))
    if result.blocked_by is not None:
        item.user_properties.append(("chatstore_blocked_by", result.blocked_by))


def _exhaustive(sut: StoreUnderTest | None) -> dict[str, Any] | None:
    """The report's record of the clause's bounded-exhaustive phase, if it had one."""
    if sut is None or sut.exhaustive is None:
        return None
    covered = asdict(sut.exhaustive)
    del covered["what"]  # said in "scope"
    return {**covered, "scope": sut.exhaustive.describe()}


def _refusal(item: pytest.Item, call: pytest.CallInfo[None], report: pytest.TestReport) -> str | None:
    """Why the kit refuses this result: the test was skipped, xfailed or its fixture overridden by others."""
    if hasattr(report, "wasxfail"):
        return f"a suite test was marked xfail by something other than the kit ({report.wasxfail or 'no reason'})"
    if report.skipped and not (call.excinfo is not None and call.excinfo.errisinstance(CapabilityMissing)):
        return f"a suite test was skipped by something other than the kit ({_skip_reason(call.excinfo)})"
    if call.when == "call" and not item.stash.get(kit_fixture_key, False):
        return "the kit's `chatstore` fixture was overridden: the suite did not test the store"
    return None


def _apply(report: pytest.TestReport, judgement: gate.Judgement, clause_id: str, *, gates: bool) -> None:
    """Make pytest report what the status table says of ``judgement``'s status, where pytest's own outcome
    differs (a refused or strictly unexpected pass fails; an expected or advisory failure is an xfail; a
    capability declared absent is a skip that says so)."""
    status = statuses.STATUSES[judgement.status]
    outcome = statuses.pytest_outcome(status, gates)
    if not status.rewritten and outcome == status.pytest:
        return
    if outcome == "failed":
        report.outcome = "failed"
        report.longrepr = f"[{status.label}] [{clause_id}] {judgement.reason}"
    elif outcome == "xfailed":
        report.outcome = "skipped"
        report.wasxfail = f"[{clause_id}] {status.name}: {judgement.reason}"
    else:
        report.outcome = "skipped"
        path, lineno, _ = report.location
        report.longrepr = (path, (lineno or 0) + 1, f"Skipped: [{clause_id}] {judgement.reason}")


def _skip_reason(excinfo: pytest.ExceptionInfo[BaseException] | None) -> str:
    if excinfo is None or not excinfo.errisinstance(pytest.skip.Exception):
        return ""
    return str(getattr(excinfo.value, "msg", excinfo.value))


def _repro_dir(config: pytest.Config) -> Path:
    chosen = run_state(config).settings.repro_dir
    if chosen is not None:
        return chosen
    cache = getattr(config, "cache", None)  # absent under -p no:cacheprovider
    if cache is not None:
        return Path(cache.mkdir("chatstore-repro"))
    return config.rootpath / ".chatstore-repro"


class RecorderPlugin:
    """Collects clause results (also from xdist workers) and writes the summary and the reports."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        settings = run_state(config).settings
        self.recorder = Results(settings.policy, settings.budget)
        self.recorder.isolation = run_state(config).isolate
        if not hasattr(config, "workerinput"):
            # Never leave an old report where CI reads it: until this run writes its own, the file says it ran.
            why = "the run has not finished: it is running, or it ended before writing its report"
            write_no_verdict(settings.reports, why, settings.policy, settings.budget)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "teardown":
            run_state(self.config).ran.add(report.nodeid)
        props = dict(report.user_properties)
        if "chatstore_redis" in props:
            self.recorder.redis.add(str(props["chatstore_redis"]))
        if "chatstore_guard" in props and props["chatstore_guard"] not in self.recorder.trespasses:
            self.recorder.trespasses.append(str(props["chatstore_guard"]))
        if "chatstore_ended" in props:
            self.recorder.ended.append(str(props["chatstore_ended"]))
        data = getattr(report, "chatstore", None)
        if isinstance(data, dict):
            result = ClauseResult.from_dict(data)
            self.recorder.add(result)
            self._progress(result)

    def _progress(self, result: ClauseResult) -> None:
        """A line per clause as it finishes, with its time and evidence (not with ``-q``)."""
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is None or self.config.get_verbosity() < 0 or hasattr(self.config, "workerinput"):
            return
        several = len(run_state(self.config).settings.targets) > 1
        evidence = ", ".join(
            [
                *([f"{result.examples} examples"] if result.examples else []),
                *([f"{result.calls} calls"] if result.calls else []),
            ]
        )
        if result.scale < 1.0:
            evidence += f", {result.scale:.0%} of its full work (budget)"
        name = f"{result.target} " if several else ""
        # write(), not write_line(): the latter makes pytest repeat the file's name before each line.
        reporter.write(
            f"\n  {name}{result.clause_id} {result.status:<16} {result.duration:7.2f} s  {evidence}".rstrip()
        )

    @pytest.hookimpl(wrapper=True)
    def pytest_report_teststatus(
        self, report: pytest.TestReport, config: pytest.Config
    ) -> Generator[None, tuple[str, str, str], tuple[str, str, str]]:
        """In normal verbosity a clause's progress line replaces its dot."""
        category, letter, word = yield
        if config.get_verbosity() == 0 and isinstance(getattr(report, "chatstore", None), dict):
            return category, "", word
        return category, letter, word

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        """Name the check that was running (visible with ``-q`` too); not when the kit itself stopped the run
        (``pytest.exit`` with a usage error, which says why on its own)."""
        running = run_state(self.config).running
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        stopped_by_kit = isinstance(excinfo.value, pytest.exit.Exception) and str(excinfo.value).startswith(
            "pytest-chatstore:"
        )
        if running is not None and reporter is not None and not stopped_by_kit:
            target, clause_id, started = running
            reporter.write_line(
                f"pytest-chatstore: interrupted while checking {clause_id} on {target}, "
                f"{time.monotonic() - started:.1f} s into it"
            )

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        kit = run_state(self.config).settings.policy
        for item in items:
            clause_id = clause_of(item)
            if clause_id is not None and "chatstore" in getattr(item, "callspec", None).params:  # type: ignore[union-attr]
                self.recorder.deselect(clause_id, by_kit=not kit.selected(clause_id))

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.recorder.results:
            terminalreporter.section("chatstore conformance")
            for line in summary_lines(self.recorder):
                terminalreporter.write_line(line)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        self.recorder.stopped = run_state(self.config).refused or stopped_early(session, exitstatus)
        if hasattr(self.config, "workerinput"):
            return  # xdist's controller writes the reports
        if not self.recorder.results and self.recorder.stopped is None:
            self.recorder.stopped = f"the run ended (exit status {int(exitstatus)}) before any clause finished"
        self.recorder.trespasses += run_state(self.config).redis.seen
        changed = run_state(self.config).redis.trespass()
        if changed is not None:
            self.recorder.trespasses.append(f"at the end of the run: {changed}")
        if self.recorder.trespasses and exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED  # the gate failed, whatever the clauses said
        self.recorder.settle()
        for path in run_state(self.config).settings.reports:
            write(self.recorder, path)


def stopped_early(session: pytest.Session, exitstatus: int) -> str | None:
    """Why the run stopped before every suite test ran (then no report may claim a verdict), or None."""
    for reason in (session.shouldfail, session.shouldstop):
        if reason:
            return str(reason)
    if exitstatus == pytest.ExitCode.INTERRUPTED:
        return "interrupted"
    if hasattr(session.config, "workerinput"):
        return None  # a worker runs only its share of the suite: the controller judges what ran
    ran: set[str] = run_state(session.config).ran
    deselected: set[str] = run_state(session.config).deselected
    ran = ran | deselected
    missing = [i for i in run_state(session.config).suite_items if i.nodeid not in ran]
    if missing:
        return f"{len(missing)} suite test(s) did not run, the first {missing[0].nodeid}"
    return None
