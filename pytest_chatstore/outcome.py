"""Outcomes: what the gate makes of each suite test's result, and the run's summary and reports.

:func:`judge_report` turns pytest's report of a suite test into a clause result
(expected failures, advisory clauses, probes of declared-absent capabilities,
refusals), writes the reproduction of a failure and carries the result on the
report, so that xdist's controller sees it. :class:`RecorderPlugin` collects
the results and writes the terminal summary and the report files.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_chatstore import gate, repro
from pytest_chatstore.failures import failure_text, first_clause_failure, is_clause_failure
from pytest_chatstore.harness import CapabilityMissing, StoreUnderTest
from pytest_chatstore.report import ClauseResult, Recorder
from pytest_chatstore.stash import clause_of, kit_fixture_key, settings_key
from pytest_chatstore.targets import Target


def judge_report(item: pytest.Item, call: pytest.CallInfo[None], report: pytest.TestReport) -> None:
    """Apply the gate to ``report`` (a suite test's setup or call phase), in place."""
    clause_id = clause_of(item)
    assert clause_id is not None
    settings = item.config.stash[settings_key]
    given = getattr(item, "funcargs", {}).get("chatstore")
    sut = given if isinstance(given, StoreUnderTest) else None  # not ours when the fixture was overridden
    target: Target = sut.target if sut is not None else item.callspec.params["chatstore"]  # type: ignore[attr-defined]
    excinfo = call.excinfo
    refusal = _refusal(item, call, report)
    if refusal is not None:
        judgement = gate.Judgement("refused", refusal)
    else:
        raw = "passed" if report.passed else "skipped" if report.skipped else "failed"
        judgement = gate.judge(
            settings.policy,
            clause_id,
            target.name,
            raw,
            clause_failure=excinfo is not None and is_clause_failure(excinfo.value),
            probed=frozenset(sut.probed) if sut is not None else frozenset(),
            probe_source=", ".join(sorted({sut.declared[c][1] for c in sut.probed})) if sut else "",
        )
    _apply(report, judgement, clause_id)
    failure = None if excinfo is None or judgement.status in ("passed", "skipped") else excinfo.value
    result = ClauseResult(
        target=target.name,
        spec=target.spec,
        source=target.source,
        clause_id=clause_id,
        status=judgement.status,
        reason=judgement.reason or _skip_reason(excinfo),
        duration=report.duration,
        failure=None if failure is None else failure_text(failure),
        detected=sorted(sut.detected) if sut is not None else [],
        capabilities=sorted(sut.effective) if sut is not None else [],
        declared={k: [v, where] for k, (v, where) in sut.declared.items()} if sut is not None else {},
        undeclared=sorted(sut.probed) if sut is not None and judgement.status == "passed" else [],
    )
    if failure is not None and judgement.status in ("failed", "advisory-failure"):
        result.blob = repro.find_blob(failure)
        clause_failure = first_clause_failure(failure)
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
    report.chatstore = result.to_dict()  # type: ignore[attr-defined]  # carried to xdist's controller


def _refusal(item: pytest.Item, call: pytest.CallInfo[None], report: pytest.TestReport) -> str | None:
    """Why the kit refuses this result: the test was skipped, xfailed or its fixture overridden by others."""
    if hasattr(report, "wasxfail"):
        return f"a suite test was marked xfail by something other than the kit ({report.wasxfail or 'no reason'})"
    if report.skipped and not (call.excinfo is not None and call.excinfo.errisinstance(CapabilityMissing)):
        return f"a suite test was skipped by something other than the kit ({_skip_reason(call.excinfo)})"
    if call.when == "call" and not item.stash.get(kit_fixture_key, False):
        return "the kit's `chatstore` fixture was overridden: the suite did not test the store"
    return None


def _apply(report: pytest.TestReport, judgement: gate.Judgement, clause_id: str) -> None:
    status, reason = judgement.status, judgement.reason
    if status in ("refused", "unexpected-pass"):
        report.outcome = "failed"
        tag = "REFUSED" if status == "refused" else "XPASS(strict)"
        report.longrepr = f"[{tag}] [{clause_id}] {reason}"
    elif status in ("expected-failure", "advisory-failure"):
        report.outcome = "skipped"
        report.wasxfail = (
            f"[{clause_id}] {'expected failure' if status == 'expected-failure' else 'advisory'}: {reason}"
        )
    elif status == "declared-absent":
        report.outcome = "skipped"
        path, lineno, _ = report.location
        report.longrepr = (path, (lineno or 0) + 1, f"Skipped: [{clause_id}] {reason}")


def _skip_reason(excinfo: pytest.ExceptionInfo[BaseException] | None) -> str:
    if excinfo is None or not excinfo.errisinstance(pytest.skip.Exception):
        return ""
    return str(getattr(excinfo.value, "msg", excinfo.value))


def _repro_dir(config: pytest.Config) -> Path:
    chosen = config.stash[settings_key].repro_dir
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
        self.recorder = Recorder(config.stash[settings_key].policy)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        props = dict(report.user_properties)
        if "chatstore_redis" in props:
            self.recorder.redis.add(str(props["chatstore_redis"]))
        data = getattr(report, "chatstore", None)
        if isinstance(data, dict):
            self.recorder.add(ClauseResult.from_dict(data))

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        kit = self.config.stash[settings_key].policy
        for item in items:
            clause_id = clause_of(item)
            if clause_id is not None and "chatstore" in getattr(item, "callspec", None).params:  # type: ignore[union-attr]
                self.recorder.deselect(clause_id, by_kit=not kit.selected(clause_id))

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.recorder.results:
            terminalreporter.section("chatstore conformance")
            for line in self.recorder.summary_lines():
                terminalreporter.write_line(line)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if hasattr(self.config, "workerinput"):
            return  # xdist's controller writes the reports
        for path in self.config.stash[settings_key].reports:
            if self.recorder.results:
                self.recorder.write(path)
