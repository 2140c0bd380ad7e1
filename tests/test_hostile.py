"""A verdict in bounded time: slow stores fit the budget; hangs, crashes and leaks become verdicts.

The stores are in ``tests/hostile_stores.py``. Figures (wall times) are measured
on demand, not asserted: see ``benchmarks/hostile_runs.py``.
"""

from __future__ import annotations

import fnmatch
import json
import os
from pathlib import Path

import pytest

from pytest_chatstore.engine import budget
from pytest_chatstore.spec.clauses import CLAUSES
from tests import hostile_stores

ONLY = ["--chatstore-only", "--chatstore-hypothesis=ci"]


def _store(name: str) -> str:
    return f"--chatstore=tests.hostile_stores:{name}"


def _report(pytester: pytest.Pytester) -> dict[str, object]:
    data: dict[str, object] = json.loads((pytester.path / "report.json").read_text())
    return data


def _clauses(report: dict[str, object]) -> dict[str, dict[str, object]]:
    targets: list[dict[str, list[dict[str, object]]]] = report["targets"]  # type: ignore[assignment]
    return {str(c["id"]): c for c in targets[0]["clauses"]}


# -- the budget ---------------------------------------------------------------------------------


def test_a_plan_keeps_full_work_when_it_fits_and_never_goes_below_the_floors() -> None:
    clauses = ["ORD-001", "MDL-001", "CON-001"]
    full = budget.full_seconds(clauses, 0.001, "default")
    assert budget.plan(clauses, full * 1.01, 0.001, "default") == 1.0
    scale = budget.plan(clauses, full / 3, 0.001, "default")
    assert 0 < scale < 1
    spent = sum(
        budget.work(c).reduced_calls("default", max(budget.work(c).floor_fraction("default"), scale)) for c in clauses
    )
    assert spent * 0.001 <= full / 3
    floors = budget.floor_seconds(clauses, 0.001, "default")
    assert budget.plan(clauses, floors / 2, 0.001, "default") == 0.0
    with pytest.raises(budget.BudgetTooSmall, match="floors of evidence of 3 clause"):
        budget.plan(clauses, floors / 2, 0.001, "default", strict=True)
    shrunk = budget.Allowance(0.0)
    assert shrunk.units(budget.work("MDL-001"), "default") == 25
    assert shrunk.units(budget.work("CON-004"), "default") == 5
    assert shrunk.units(budget.work("FID-004"), "default") == 1  # a fixed scenario is never cut


def test_every_clause_has_planned_work() -> None:
    assert set(budget.WORK) == set(CLAUSES)


def test_a_slow_store_is_cut_to_fit_the_budget_and_passes(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess(
        _store("Latency2ms"),
        *ONLY,
        "--chatstore-clauses=ORD-001,INS-001,CON-001",
        "--chatstore-budget=3",
        "--chatstore-report=report.json",
    )
    result.assert_outcomes(passed=3, deselected=len(CLAUSES) - 3)
    result.stdout.fnmatch_lines(["*evidence (examples/calls): * calls at * ms each (budget 3 s); * reduced*"])
    clauses = _clauses(_report(pytester))
    reduced = [c for c in clauses.values() if c["evidence"]["reduced"]]  # type: ignore[index]
    assert reduced
    for clause in reduced:
        evidence: dict[str, int] = clause["evidence"]  # type: ignore[assignment]
        assert evidence["calls"] > 0
        if clause["id"] != "CON-001":
            assert evidence["examples"] >= 10  # the floor of a property


def test_a_budget_too_small_for_the_floors_starts_runs_the_floors_and_says_so_at_the_end(
    pytester: pytest.Pytester,
) -> None:
    """A first measurement is a guess (a lazy connection, a cold cache): it never stops the run."""
    result = pytester.runpytest_subprocess(
        _store("Latency2ms"), *ONLY, "--chatstore-clauses=ORD-001,INS-001", "--chatstore-budget=0.2",
        "--chatstore-report=report.json", "--chatstore-capabilities=-threads",  # one call at a time: no overlap
    )  # fmt: skip
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=2, deselected=len(CLAUSES) - 2)
    result.stdout.fnmatch_lines(
        [
            "*ORD-001 10/*[*]  INS-001 10/*[*]",
            "*depth cut by the budget for ORD-001, INS-001",
            "  budget: the clauses took * s, more than the budget of 0.2 s, at * ms per call observed (* calls)*"
            "every clause ran at least its floor of evidence; raise --chatstore-budget*",
        ]
    )
    # The bounded-exhaustive phase stops at the clause's share of the time, after every single write at least.
    exhaustive: dict[str, object] = _clauses(_report(pytester))["INS-001"]["evidence"]["exhaustive"]  # type: ignore[index]
    assert 0 < exhaustive["sequences"] < exhaustive["of"], exhaustive  # type: ignore[operator]
    assert "cut by the budget's time after" in str(exhaustive["scope"])


def test_an_overrun_names_the_store_method_that_took_the_time() -> None:
    ledger = budget.Ledger(budget=60, profile="default", measured=0.001, clauses=["ORD-001"])
    ledger.record("ORD-001", 86.0, 835, methods={"get_keys": (17, 85.2), "get_messages": (600, 0.5)})
    overrun = ledger.overrun()
    assert overrun is not None
    assert "get_keys() took 85 s in all, 17 calls at 5.01 s each (the kit lists the keys of every store" in overrun
    ledger.record("INS-001", 5.0, 10)
    assert ledger.overrun() is None  # past the hard limit the run stopped: the INCOMPLETE line says why instead


def test_a_method_that_always_raises_is_one_root_cause_for_bad_input_and_threads_too(
    pytester: pytest.Pytester,
) -> None:
    # Before: DEL-001, CON-002, CON-004 and BAD-002 each a root cause of its own, for one exception of one method.
    result = pytester.runpytest_subprocess(
        _store("RecursionErrorInDelete"), *ONLY, "--chatstore-clauses=DEL-001,BAD-002,CON-002,CON-004"
    )
    result.assert_outcomes(failed=4, deselected=len(CLAUSES) - 4)
    result.stdout.fnmatch_lines(
        ["*1 root cause(s)*", "  FAILED DEL-001 *", "      blocks: CON-002, CON-004, BAD-002 *"]
    )


def test_the_hard_limit_is_the_budget_and_its_stated_slack() -> None:
    small, large = (budget.Ledger(budget=b, profile="default", measured=0.001, clauses=[]) for b in (60, 240))
    assert (small.hard_limit, large.hard_limit) == (90, 300)  # 30 s at least, else a quarter of the budget
    small.record("ORD-001", 89.0, 100)
    assert small.stop_reason() is None
    small.record("INS-001", 2.0, 10, methods={"get_keys": (10, 90.0)})
    reason = small.stop_reason()
    assert reason is not None
    assert reason.startswith("the clauses took 91 s, past the budget of 60 s and its slack (30 s)")
    assert "get_keys() took 90 s in all" in reason


def test_past_the_hard_limit_no_store_call_starts_and_the_store_is_not_charged() -> None:
    from pytest_chatstore.engine.runner import BudgetSpent, Runner

    runner = Runner(timeout=1.0)
    try:
        assert runner.call(lambda: 1) == 1  # no deadline: inf
        runner.deadline, runner.past_deadline = 0.0, "spent"
        with pytest.raises(BudgetSpent, match="spent"):
            runner.check_deadline()
    finally:
        runner.close()


def test_a_store_slower_than_its_budget_stops_the_run_at_the_budget_and_its_slack(pytester: pytest.Pytester) -> None:
    # 2 ms a call, one at a time (no overlap), a budget of 0.2 s: the floors of evidence need far more. The run stops
    # at the hard limit (the budget and 30 s): the clause running then is unverified, the report says INCOMPLETE, the
    # exit is not 0.
    result = pytester.runpytest_subprocess(
        _store("Latency2ms"), "--chatstore-only", "--chatstore-budget=0.2", "--chatstore-report=report.json",
        "--chatstore-capabilities=-threads",
    )  # fmt: skip
    assert result.ret != pytest.ExitCode.OK
    said = "the clauses took * s, past the budget of 0.2 s and its slack (30 s), at * ms per call observed*"
    result.stdout.fnmatch_lines(
        [f"INCOMPLETE RUN: stopped early ({said}", f"*NOT VERIFIED: the run stopped early ({said}"]
    )
    report = _report(pytester)
    assert report["gate"] == "incomplete"
    assert str(report["stopped"]).startswith("the clauses took")
    stopped = [c for c in _clauses(report).values() if "spent during this check" in str(c.get("failure", ""))]
    assert [c["status"] for c in stopped] in ([], ["error"])  # the limit fell inside a clause, or between two


def test_each_clause_gets_its_share_of_the_time_left() -> None:
    ledger = budget.Ledger(budget=100, profile="default", measured=0.001, clauses=["ORD-001", "MDL-001"])
    first = ledger.allowance("ORD-001")
    assert 0 < first.seconds < 100 * (1 - budget.RESERVE)
    ledger.record("ORD-001", first.seconds, 100)
    assert ledger.allowance("MDL-001").seconds == pytest.approx(100 * (1 - budget.RESERVE) - first.seconds)


def test_a_burst_has_its_own_limit_so_a_slow_correct_store_is_no_hang(pytester: pytest.Pytester) -> None:
    # 50 appends of 20 ms each per writer take a second; the per-operation limit is for one call.
    result = pytester.runpytest_subprocess(
        _store("Latency20ms"), *ONLY, "--chatstore-clauses=CON-001,CON-003", "--chatstore-timeout=0.5"
    )
    result.assert_outcomes(passed=2, deselected=len(CLAUSES) - 2)


# -- hangs --------------------------------------------------------------------------------------


def test_a_hang_stops_its_clause_at_once_and_blocks_the_rest_while_the_call_is_stuck(
    pytester: pytest.Pytester,
) -> None:
    hostile_stores.reset()
    result = pytester.runpytest(
        _store("HangsAfter50"),
        *ONLY,
        "--chatstore-clauses=ORD-001,INS-001,DEL-001,DLL-001",
        "--chatstore-timeout=0.3",
        "--chatstore-report=report.json",
    )
    result.assert_outcomes(failed=4, deselected=len(CLAUSES) - 4)
    result.stdout.fnmatch_lines(["*what happened: the store hung: get_messages() did not return within 0.3 s*"])
    assert hostile_stores.HANGS["n"] == 1  # never replayed to shrink, and never waited out again
    reproduction = next((pytester.path / ".pytest_cache" / "d" / "chatstore-repro").glob("test_repro_DEL_001_*.py"))
    assert "  # this call hangs: it did not return within 0.3 s" in reproduction.read_text()
    report = _report(pytester)
    assert report["gate"] == "fail"
    clauses = _clauses(report)
    assert clauses["DEL-001"]["status"] == "failed"  # the first clause to run (focused clauses run first)
    for other in ("ORD-001", "INS-001", "DLL-001"):
        assert clauses[other]["status"] == "blocked"
        assert clauses[other]["blocked_by"] == "DEL-001"
    result.stdout.fnmatch_lines(["*get_messages() hung in DEL-001's check and has still not returned*"])


def test_after_a_stuck_call_a_clause_the_store_cannot_run_is_skipped_not_blocked(pytester: pytest.Pytester) -> None:
    hostile_stores.reset()
    pytester.makepyfile(
        no_ttl="from tests.hostile_stores import HangsAfter50\n\ndef make():\n    return HangsAfter50()\n"
    )
    result = pytester.runpytest(
        "--chatstore=no_ttl:make", *ONLY, "--chatstore-clauses=DEL-001,ORD-001,TTL-001", "--chatstore-timeout=0.3"
    )
    result.assert_outcomes(failed=2, skipped=1, deselected=len(CLAUSES) - 3)
    result.stdout.fnmatch_lines(["*[[]ORD-001[]] blocked by DEL-001*", "*blocks: ORD-001 (*"])
    result.stdout.no_fnmatch_line("*TTL-001*blocked*")


# -- crashes and exits --------------------------------------------------------------------------

posix = pytest.mark.skipif(not hasattr(os, "fork"), reason="--chatstore-isolate needs os.fork")


@posix
@pytest.mark.parametrize(
    ("store", "how"), [("ExitsInDelete", "it exited with status 3"), ("SegfaultsInDelete", "killed by SIGSEGV")]
)
def test_an_isolated_crash_fails_its_clause_naming_the_call_and_the_run_goes_on(
    pytester: pytest.Pytester, store: str, how: str
) -> None:
    result = pytester.runpytest_subprocess(
        _store(store), *ONLY, "--chatstore-isolate", "--chatstore-clauses=DEL-001,INS-001", "--chatstore-report=r.json"
    )
    result.assert_outcomes(failed=1, passed=1, deselected=len(CLAUSES) - 2)
    result.stdout.fnmatch_lines(
        [f"*what happened: the store crashed the process ({how}*) during store.delete_message(*"]
    )
    report = json.loads((pytester.path / "r.json").read_text())
    assert report["gate"] == "fail"
    assert report["stopped"] is None


@posix
def test_isolation_builds_stores_with_a_conftest_factory_fixture_in_the_child(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import os
        import pytest
        from tests.hostile_stores import ExitsInDelete

        BUILT_IN = []

        @pytest.fixture
        def chatstore_factory():
            def build():
                BUILT_IN.append(os.getpid())
                return ExitsInDelete()
            return build

        def pytest_sessionfinish(session):
            print(f"stores built in the pytest process: {BUILT_IN.count(os.getpid())}")
        """
    )
    result = pytester.runpytest_subprocess(*ONLY, "-s", "--chatstore-isolate", "--chatstore-clauses=DEL-001,INS-001")
    result.assert_outcomes(failed=1, passed=1, deselected=len(CLAUSES) - 2)
    result.stdout.fnmatch_lines(["*the store crashed the process (it exited with status 3*"])
    result.stdout.fnmatch_lines(["*stores built in the pytest process: 0"])  # only the children built stores
    report_path = pytester.path / ".pytest_cache" / "d" / "chatstore-repro"
    assert any(report_path.glob("test_repro_DEL_001_*.py"))


@posix
def test_a_run_that_crashed_isolates_the_target_next_time(pytester: pytest.Pytester) -> None:
    args = [_store("SegfaultsInDelete"), *ONLY, "--chatstore-clauses=DEL-001,INS-001"]
    first = pytester.runpytest_subprocess(*args)
    assert first.ret not in (0, 1)  # the process died: no verdict, no summary
    second = pytester.runpytest_subprocess(*args)
    second.assert_outcomes(failed=1, passed=1, deselected=len(CLAUSES) - 2)
    second.stdout.fnmatch_lines(["*each clause runs in a forked child process (automatically: the last run died*"])
    third = pytester.runpytest_subprocess(*args)  # still isolated: the crash is still there
    third.assert_outcomes(failed=1, passed=1, deselected=len(CLAUSES) - 2)


@posix
def test_an_isolated_child_is_watched_after_its_clause_so_harm_after_the_checks_fails_it(
    pytester: pytest.Pytester,
) -> None:
    result = pytester.runpytest_subprocess(
        _store("ExitsAfterClose"),
        *ONLY,
        "--chatstore-isolate",
        "--chatstore-clauses=ORD-002",
        "--chatstore-report=report.json",
    )
    result.assert_outcomes(failed=1, deselected=len(CLAUSES) - 1)
    # After the checks, on an idle machine; during them, on a loaded one: a failure either way, never a pass.
    result.stdout.fnmatch_lines(["*the store crashed the process*(it exited with status 3)*"])
    assert _report(pytester)["isolation"] == "--chatstore-isolate"


def test_an_alarm_the_store_left_armed_fails_the_clause_and_the_run_survives_it(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess(_store("AlarmInDelete"), *ONLY, "--chatstore-clauses=DEL-001,ORD-002")
    result.assert_outcomes(failed=1, passed=1, deselected=len(CLAUSES) - 2)
    result.stdout.fnmatch_lines(["*the store left SIGALRM armed to fire in * s*the kit disarmed it*"])


@posix
@pytest.mark.parametrize("isolate", [False, True], ids=["in-process", "isolated"])
@pytest.mark.parametrize("store", ["AlarmInDelete", "ExitsSoonAfterDelete", "ExitsAfterClose"])
def test_a_store_that_ends_the_process_never_gets_a_passing_run(
    pytester: pytest.Pytester, store: str, isolate: bool
) -> None:
    args = [_store(store), *ONLY, "--chatstore-clauses=DEL-001,ORD-002", *(["--chatstore-isolate"] * isolate)]
    codes = [pytester.runpytest_subprocess(*args).ret for _ in range(3)]
    assert 0 not in codes, codes  # a rerun (isolated automatically after a death) must not certify it


@pytest.mark.parametrize(("store", "raised"), [("RaisesSystemExit", "SystemExit"), ("RaisesBaseException", "Fatal")])
def test_a_store_raising_a_base_exception_fails_its_clause(pytester: pytest.Pytester, store: str, raised: str) -> None:
    result = pytester.runpytest_subprocess(_store(store), *ONLY, "--chatstore-clauses=DEL-001,INS-001")
    result.assert_outcomes(failed=1, passed=1, deselected=len(CLAUSES) - 2)
    result.stdout.fnmatch_lines([f"*the store raised {raised} during store.delete_message(*"])


def test_an_exception_that_cannot_be_printed_is_still_named(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess(_store("RaisesUnprintable"), *ONLY, "--chatstore-clauses=DEL-001,INS-001")
    result.assert_outcomes(failed=1, passed=1, deselected=len(CLAUSES) - 2)
    result.stdout.fnmatch_lines(
        ["*the store raised Unprintable during store.delete_message(*): <its message cannot be read: str() raised*"]
    )


@pytest.mark.parametrize("isolate", [[], ["--chatstore-isolate"]], ids=["in-process", "isolated"])
def test_a_store_that_lowers_the_recursion_limit_is_its_own_failure_not_the_kits(
    pytester: pytest.Pytester, isolate: list[str]
) -> None:
    # Before: INTERNALERROR and no report in-process; isolated, the kit's own RecursionError charged to the store.
    result = pytester.runpytest_subprocess(_store("LowersRecursionLimit"), *ONLY, *isolate, timeout=300)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    output = result.stdout.str()
    assert "INTERNALERROR" not in output
    assert "the kit failed" not in output
    result.stdout.fnmatch_lines(
        [
            "*store.delete_message(*) returned, but the store set the interpreter's recursion limit to 50 (it was *; "
            "the kit set it back)*",
            "  2 root cause(s)*",  # delete_message, and delete_last_message, which calls it
        ]
    )


def test_a_store_that_closes_stdout_is_one_root_cause_not_the_kits_errors(pytester: pytest.Pytester) -> None:
    # Before: pytest's capture file closed under it, 56 errors at setup and teardown, each "I/O operation on closed
    # file", none naming the store.
    result = pytester.runpytest_subprocess(_store("ClosesStdout"), *ONLY, timeout=300)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    outcomes = result.parseoutcomes()
    assert "error" not in outcomes
    assert "errors" not in outcomes
    result.stdout.fnmatch_lines(
        [
            "*store.delete_messages(*) returned, but the store closed sys.stdout (pytest's capture of it; the kit "
            "kept it open)*",
            "  1 root cause(s)*",
        ]
    )


def test_content_that_is_not_text_is_one_root_cause_not_44_kit_errors(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess(_store("ContentNotText"), *ONLY)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        ["*what happened: the message's content is a _Incomparable, not text: *", "  1 root cause(s)*"]
    )
    assert "RuntimeError: cannot compare" not in result.stdout.str()


def test_ctrl_c_stays_the_users_and_names_the_running_check(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess(_store("CtrlCInDelete"), *ONLY, "-q", "--chatstore-clauses=DEL-001")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*pytest-chatstore: interrupted while checking DEL-001 on CtrlCInDelete*"])


# -- leaked threads -----------------------------------------------------------------------------


@posix
def test_an_isolated_store_that_leaks_a_thread_fails_and_nothing_is_left_running(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess(
        _store("LeaksThread"), *ONLY, "--chatstore-isolate", "--chatstore-clauses=ORD-002", "--chatstore-report=r.json"
    )
    result.assert_outcomes(failed=1, deselected=len(CLAUSES) - 1)
    result.stdout.fnmatch_lines(["*the store left * non-daemon thread(s) running after the check (heartbeat)*"])
    assert (pytester.path / "r.json").exists()


def test_a_leaked_thread_fails_the_clause_and_cannot_keep_the_run_alive(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess(_store("LeaksThread"), *ONLY, "--chatstore-clauses=ORD-002", timeout=120)
    result.assert_outcomes(failed=1, deselected=len(CLAUSES) - 1)
    result.stderr.fnmatch_lines(["*ending the process: the store under test left * non-daemon thread(s)*"])


@posix
def test_a_helper_process_the_store_forked_neither_stalls_an_isolated_run_nor_outlives_it(
    pytester: pytest.Pytester,
) -> None:
    # The helper sleeps ten minutes holding the kit's pipe: before, each clause waited for it.
    result = pytester.runpytest_subprocess(
        _store("ForksHelper"), *ONLY, "--chatstore-isolate", "--chatstore-clauses=ORD-001,DEL-001", timeout=120
    )
    result.assert_outcomes(passed=2, deselected=len(CLAUSES) - 2)


@posix
def test_a_helper_process_the_store_forked_in_the_pytest_process_is_ended_with_the_run(
    pytester: pytest.Pytester,
) -> None:
    result = pytester.runpytest_subprocess(_store("ForksHelper"), *ONLY, "--chatstore-clauses=ORD-001", timeout=120)
    result.assert_outcomes(passed=1, deselected=len(CLAUSES) - 1)
    result.stderr.fnmatch_lines(["pytest-chatstore: ended 1 process(es) the store under test started *"])


def _running(marker: str) -> list[str]:
    """Command lines of the processes on this machine that hold ``marker`` (from ``/proc``)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                line = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if marker in line:
                found.append(line)
    return found


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="finding child processes needs Linux's /proc")
def test_helpers_a_store_starts_in_a_clause_are_ended_when_it_ends_and_said(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every store starts `sh`, which starts a `sleep`; before, they all ran until the run's end (and the sleeps,
    # orphaned when their `sh` was killed, for ten minutes after it).
    seconds = f"600.{os.getpid()}{len(_running('sleep 600.'))}"
    monkeypatch.setenv("CHATSTORE_HELPER_SECONDS", seconds)
    result = pytester.runpytest_subprocess(
        _store("StartsHelperEachStore"),
        *ONLY,
        "--chatstore-clauses=ORD-001,DEL-001",
        "--chatstore-report=report.json",
        timeout=120,
    )
    result.assert_outcomes(passed=2, deselected=len(CLAUSES) - 2)
    ended = _report(pytester)["ended"]
    assert isinstance(ended, list)
    assert sorted(line.split(":")[0] for line in ended) == ["after DEL-001", "after ORD-001"]
    pattern = f"*the store started during the clause and left running: * x sh -c sleep {seconds} & wait (pid *, ...)"
    assert all(fnmatch.fnmatch(line, pattern) for line in ended), ended
    result.stdout.fnmatch_lines(["ended: after ORD-001: ended * process(es) the store started during the clause*"])
    # The first store's helper (its first contact's: perhaps the factory's server) lives until the run's end.
    result.stderr.fnmatch_lines(["pytest-chatstore: ended 1 process(es) the store under test started *run's end*"])
    assert _running(f"sleep {seconds}") == []  # nor their own children


@pytest.mark.parametrize(
    ("store", "what"),
    [("RefusesAfter100Stores", "raised ConnectionError: too many connections"), ("HangsAfter100Stores", "hung*")],
)
def test_a_factory_that_fails_mid_run_leaves_clauses_unverified_and_charges_no_rule(
    pytester: pytest.Pytester, store: str, what: str
) -> None:
    # Before, the clause at hand failed with its own rule and hint (a root cause), and under a hang the later
    # clauses were blocked by it.
    result = pytester.runpytest_subprocess(
        _store(store),
        *ONLY,
        "--chatstore-timeout=1",
        "--chatstore-clauses=ORD-001,ORD-002,SET-001",
        "--chatstore-report=report.json",
        timeout=120,
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # no verdict is no pass
    statuses = {clause: c["status"] for clause, c in _clauses(_report(pytester)).items()}
    assert "failed" not in statuses.values(), statuses
    assert "blocked" not in statuses.values(), statuses
    assert "error" in statuses.values(), statuses
    result.stdout.fnmatch_lines([f"*the factory tests.hostile_stores:{store} {what}, building a store for *"])
    result.stdout.no_fnmatch_line("*root cause*")


def test_an_answer_that_stalls_when_read_is_a_hang_within_the_calls_limit(pytester: pytest.Pytester) -> None:
    # Each message's content takes 150 s to read: before, the run waited for every one of them.
    result = pytester.runpytest_subprocess(
        _store("StallsInAnswer"), *ONLY, "--chatstore-timeout=1", "--chatstore-clauses=ORD-001", timeout=60
    )
    result.assert_outcomes(failed=1, deselected=len(CLAUSES) - 1)
    result.stdout.fnmatch_lines(
        ["*get_messages() returned, but reading its answer (the objects it returned) did not finish within 1 s*"]
    )


# -- progress ------------------------------------------------------------------------------------


def test_each_clause_prints_a_line_with_its_time_and_evidence(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest(
        "--chatstore=reference_impls.memory:InMemoryChatStore", *ONLY, "--chatstore-clauses=ORD-002,CON-001"
    )
    result.assert_outcomes(passed=2, deselected=len(CLAUSES) - 2)
    result.stdout.fnmatch_lines(
        ["chatstore/test_core.py ", "  ORD-002 passed * s  32 examples, * calls*", "  CON-001 passed * s  * calls*"]
    )
    quiet = pytester.runpytest(
        "--chatstore=reference_impls.memory:InMemoryChatStore", *ONLY, "-q", "--chatstore-clauses=ORD-002"
    )
    assert not any("ORD-002 passed" in line for line in quiet.outlines)
