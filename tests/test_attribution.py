"""Verdicts you can trust: one root cause fails one clause, the others keep testing, reports never overclaim."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.root_cause_stores import INDEPENDENT_BUGS, NO_OP_APPEND_ROOT_CAUSES


def run_suite(pytester: pytest.Pytester, target: str, *extra: str) -> tuple[pytest.RunResult, dict[str, Any]]:
    """The whole suite against ``target`` in a fresh process (derandomized), and its JSON report."""
    report = pytester.path / "report.json"
    result = pytester.runpytest_subprocess(
        f"--chatstore={target}",
        "--chatstore-only",
        "--chatstore-hypothesis=ci",
        "--chatstore-timeout=5",
        f"--chatstore-report={report}",
        "-q",
        *extra,
    )
    return result, json.loads(report.read_text())


def statuses(report: dict[str, Any]) -> dict[str, str]:
    return {c["id"]: c["status"] for c in report["targets"][0]["clauses"]}


def test_each_independent_bug_is_named_by_its_own_clause(pytester: pytest.Pytester) -> None:
    """LlamaIndex RedisChatStore 0.8.0's bugs: bytes from the deletes, order reversed after a delete, TTL dropped
    by a delete, the async delete of a last message raising, inserts lost under concurrency."""
    result, report = run_suite(pytester, "tests.root_cause_stores:LlamaRedisLike", "--junitxml=junit.xml")
    target = report["targets"][0]
    causes = {c["clause"] for c in target["root_causes"]}
    assert causes == INDEPENDENT_BUGS
    got = statuses(report)
    assert {c for c, s in got.items() if s == "failed"} == INDEPENDENT_BUGS
    blocked = {c["id"]: c["blocked_by"] for c in target["clauses"] if c["status"] == "blocked"}
    assert blocked, "some checks meet the known broken rules"
    assert set(blocked.values()) <= INDEPENDENT_BUGS
    assert all(got[c] != "passed" for c in blocked)  # a blocked clause is not verified...
    assert report["gate"] == "fail"  # ...and never makes a run green
    result.stdout.fnmatch_lines(["*6 root cause(s), in the order to fix them*", "*blocks: *"])
    junit = (pytester.path / "junit.xml").read_text()
    assert '<property name="chatstore_status" value="blocked" />' in junit
    assert '<property name="chatstore_blocked_by" value="DLL-001" />' in junit


def test_a_should_failure_fails_only_its_clause(pytester: pytest.Pytester) -> None:
    _, report = run_suite(pytester, "tests.broken_stores:NegativeDeleteRefused")
    got = statuses(report)
    assert {c for c, s in got.items() if s not in ("passed", "skipped")} == {"DEL-004"}
    assert got["KEY-002"] == "passed"  # it used to fail on the negative delete's answer


def test_an_expected_failure_leaves_the_clauses_around_it_green(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml('[tool.chatstore.expected-failures]\n"DEL-004" = "negative indices answer None (#1)"\n')
    result, report = run_suite(pytester, "tests.broken_stores:NegativeDeleteRefused")
    assert result.ret == 0
    assert statuses(report)["DEL-004"] == "expected-failure"
    assert report["gate"] == "pass"


def test_none_inside_an_answer_is_a_failure_not_dropped(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        trailing_none="""
from reference_impls.memory import InMemoryChatStore

class TrailingNone(InMemoryChatStore):
    def get_messages(self, key):
        return [*super().get_messages(key), None]
"""
    )
    result, report = run_suite(pytester, "trailing_none:TrailingNone")
    assert report["gate"] == "fail"
    assert statuses(report)["FID-001"] == "failed"
    result.stdout.fnmatch_lines(["*get_messages returned None at position * of its list*"])


def test_a_backend_that_goes_away_is_an_infrastructure_error_never_fresh_store_blame(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        flaky_backend="""
import itertools
from reference_impls.memory import InMemoryChatStore

calls = itertools.count()

class FlakyBackend(InMemoryChatStore):
    def get_messages(self, key):
        if next(calls) % 7 == 6:
            raise ConnectionError("connection reset by peer")
        return super().get_messages(key)
"""
    )
    result, report = run_suite(pytester, "flaky_backend:FlakyBackend", "--chatstore-clauses=FRE-001,ORD-001,MDL-001")
    got = statuses(report)
    assert set(got.values()) <= {"passed", "infrastructure-error"}, got
    assert "infrastructure-error" in got.values()
    assert report["gate"] == "fail"  # no verdict is not a pass
    assert "Inconsistent data generation" not in result.stdout.str()
    result.stdout.fnmatch_lines(["*INFRASTRUCTURE ERROR*"])


def test_a_store_raising_systemexit_gets_a_verdict_with_its_calls(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        exits="""
from reference_impls.memory import InMemoryChatStore

class Exits(InMemoryChatStore):
    def delete_last_message(self, key):
        raise SystemExit(4)
"""
    )
    result, report = run_suite(pytester, "exits:Exits", "--chatstore-clauses=DLL-001")
    assert statuses(report) == {"DLL-001": "failed"}
    result.stdout.fnmatch_lines(["*the store raised SystemExit during store.delete_last_message(*"])


def test_an_interrupted_run_is_never_complete_nor_a_pass(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        interrupts="""
import os
import signal
from reference_impls.memory import InMemoryChatStore

class InterruptsOnListing(InMemoryChatStore):
    def delete_messages(self, key):
        os.kill(os.getpid(), signal.SIGINT)  # the user's Ctrl-C, a real signal, in the middle of the run
        return super().delete_messages(key)
"""
    )
    markdown = pytester.path / "report.md"
    result, report = run_suite(pytester, "interrupts:InterruptsOnListing", f"--chatstore-report={markdown}")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    assert report["complete"] is False
    assert report["gate"] == "incomplete"
    assert report["stopped"] == "interrupted"
    assert all(t["gate"] == "incomplete" for t in report["targets"])
    text = markdown.read_text()
    assert "passes the gate" not in text
    assert "Incomplete run: stopped early (interrupted)" in text
    result.stdout.fnmatch_lines(["*INCOMPLETE RUN: stopped early (interrupted)*", "*NOT VERIFIED*"])


def test_a_run_stopped_by_maxfail_is_incomplete(pytester: pytest.Pytester) -> None:
    _, report = run_suite(pytester, "tests.broken_stores:SetAppends", "-x")
    assert report["gate"] == "incomplete"
    assert report["complete"] is False


def test_blocked_and_root_causes_follow_the_schema(pytester: pytest.Pytester) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    _, report = run_suite(pytester, "tests.root_cause_stores:LlamaRedisLike", "--chatstore-clauses=core")
    schema = Path(__file__).parent.parent / "pytest_chatstore" / "report" / "report.schema.json"
    jsonschema.validate(report, json.loads(schema.read_text()))


def test_one_exception_from_one_method_is_one_root_cause(pytester: pytest.Pytester) -> None:
    """Every delete raising RecursionError used to fail DEL-001, DEL-002, DEL-003... each in its own right."""
    pytester.makepyfile(
        raises="""
        from reference_impls.memory import InMemoryChatStore

        class DeleteRaises(InMemoryChatStore):
            def delete_message(self, key, idx):
                raise RecursionError("maximum recursion depth exceeded")

            async def adelete_message(self, key, idx):
                raise RecursionError("maximum recursion depth exceeded")

            def delete_last_message(self, key):  # works: the reference store's goes through delete_message
                return InMemoryChatStore.delete_message(self, key, -1)
        """
    )
    _, report = run_suite(pytester, "raises:DeleteRaises", "--chatstore-clauses=DEL-*,PAR-*")
    target = report["targets"][0]
    assert [c["clause"] for c in target["root_causes"]] == ["DEL-001"]
    blocked = {c["id"]: c["blocked_by"] for c in target["clauses"] if c["status"] == "blocked"}
    assert blocked == {"DEL-002": "DEL-001", "DEL-003": "DEL-001", "DEL-004": "DEL-001", "PAR-001": "DEL-001",
                       "PAR-002": "DEL-001"}  # fmt: skip


def test_a_write_that_raises_is_the_root_cause_of_its_own_rule(pytester: pytest.Pytester) -> None:
    """LlamaIndex SQLiteChatStore 0.4.0's ``set_messages(k, [])`` raises ``IntegrityError``: SET-002's bug, even when a
    check of another clause (a delete's) meets it first, and never a delete's with a hint about deletes."""
    pytester.makepyfile(
        raises="""
        from reference_impls.memory import InMemoryChatStore

        class EmptySetRaises(InMemoryChatStore):
            def set_messages(self, key, messages):
                messages = list(messages)
                if not messages:
                    raise RuntimeError("NOT NULL constraint failed: data_chatstore.key")
                super().set_messages(key, messages)
        """
    )
    _, report = run_suite(pytester, "raises:EmptySetRaises")
    target = report["targets"][0]
    assert [c["clause"] for c in target["root_causes"]] == ["SET-002"]
    blocked = {c["id"]: c["blocked_by"] for c in target["clauses"] if c["status"] == "blocked"}
    assert blocked
    assert set(blocked.values()) == {"SET-002"}


def test_messages_a_serialiser_alters_are_one_root_cause_fid_001(pytester: pytest.Pytester) -> None:
    """Floats rounded on the way through: FID-001 fails, every clause that reads a message back is blocked by it."""
    _, report = run_suite(
        pytester, "tests.root_cause_stores:RoundsFloats", "--chatstore-clauses=core,fidelity,ownership"
    )
    target = report["targets"][0]
    assert [c["clause"] for c in target["root_causes"]] == ["FID-001"]
    blocked = {c["id"] for c in target["clauses"] if c["status"] == "blocked"}
    assert {"SET-001", "INS-001", "DLA-002"} <= blocked
    assert {c["blocked_by"] for c in target["clauses"] if c["status"] == "blocked"} == {"FID-001"}


def test_a_write_that_stores_nothing_is_one_root_cause_not_one_per_clause_that_wrote(
    pytester: pytest.Pytester,
) -> None:
    """The tutorial's store, whose add_message is a no-op: every check that appended and read back nothing (some run
    before INS-001, and are blocked by it at the end of the run) is INS-001's; the store's other bugs stay theirs."""
    _, report = run_suite(pytester, "tests.root_cause_stores:NoOpAppend")
    target = report["targets"][0]
    assert {c["clause"] for c in target["root_causes"]} == NO_OP_APPEND_ROOT_CAUSES
    blocked = {c["id"]: c["blocked_by"] for c in target["clauses"] if c["status"] == "blocked"}
    assert {"SET-001", "FID-001", "FID-003", "KEY-003", "KEY-004", "KEY-006", "OWN-004"} <= set(blocked)
    assert set(blocked.values()) == {"INS-001"}
    assert report["gate"] == "fail"


def settle(*results: tuple[str, str, str | None], during: dict[str, str] | None = None) -> dict[str, Any]:
    """Settle results given as (clause, status, the rule its failure met); ``during``: blocked during the run."""
    from pytest_chatstore.report.gate import Policy
    from pytest_chatstore.report.verdict import ClauseResult, Results

    recorder = Results(Policy())
    for clause_id, status, met in results:
        blocker = (during or {}).get(clause_id)
        recorder.add(ClauseResult("t", "t", "targets", clause_id, status, met=met, blocked_by=blocker))
    recorder.settle()
    return {r.clause_id: (r.status, r.blocked_by) for r in recorder.results.values()}


def test_settling_blocks_a_failure_by_the_rule_it_met_only_when_that_clause_failed_on_its_own() -> None:
    assert settle(("SET-001", "failed", "INS-001"), ("INS-001", "failed", None)) == {
        "SET-001": ("blocked", "INS-001"),
        "INS-001": ("failed", None),
    }
    # INS-001 holds: the failure SET-001 saw is its own to report
    assert settle(("SET-001", "failed", "INS-001"), ("INS-001", "passed", None))["SET-001"] == ("failed", None)
    # two failures that met each other's rules: one root cause, never none
    settled = settle(("SET-001", "failed", "INS-001"), ("INS-001", "failed", "SET-001"))
    assert settled == {"SET-001": ("blocked", "INS-001"), "INS-001": ("failed", None)}
    # blocked during the run by a clause the settlement blocks (under xdist, a worker knew KEY-003's failure and not
    # INS-001's): blocked by the root cause at the end of the chain
    chained = settle(
        ("INS-001", "failed", None), ("KEY-003", "failed", "INS-001"), ("CON-001", "blocked", None),
        during={"CON-001": "KEY-003"},
    )  # fmt: skip
    assert chained == {
        "INS-001": ("failed", None),
        "KEY-003": ("blocked", "INS-001"),
        "CON-001": ("blocked", "INS-001"),
    }
    # an expected failure is known broken too: a clause that met it is blocked by it, as during the run
    assert settle(("FID-001", "failed", "INS-001"), ("INS-001", "expected-failure", None))["FID-001"][0] == "blocked"


def test_messages_lost_are_charged_to_the_write_that_stored_them_unless_a_later_call_may_have_removed_them() -> None:
    from pytest_chatstore.engine.driver import lost_to
    from pytest_chatstore.engine.failures import Step
    from pytest_chatstore.spec.contract import ChatMessage

    x, y = ChatMessage("user", "x"), ChatMessage("assistant", "y")
    appended = [Step("set", ("a", [x])), Step("add", ("a", y))]
    assert lost_to(appended, [x, y], [x]) == {"INS-001"}
    assert lost_to([Step("set", ("a", [x])), Step("add", ("a", y), {"idx": 0})], [y, x], [x]) == {"INS-002"}
    assert lost_to([Step("set", ("a", [x, y]))], [x, y], []) == {"SET-001"}
    assert lost_to([*appended, Step("delete", ("a", 0))], [x, y], [x]) == frozenset()  # the delete may have
    assert lost_to([*appended, Step("clock", (5.0,))], [x, y], [x]) == frozenset()  # expiry may have
    clocked = [Step("clock", (1000.0,)), *appended, Step("clock", (1004.9,))]
    assert lost_to(clocked, [x, y], [x], ttl=5.0) == {"INS-001"}  # too soon for expiry: lost
    assert lost_to([*appended, Step("clock", (1004.9,))], [x, y], [x], ttl=5.0, clock_start=1000.0) == {"INS-001"}
    assert lost_to([*clocked, Step("clock", (1005.0,))], [x, y], [x], ttl=5.0) == frozenset()  # expiry may have
    assert lost_to([*appended, Step("delete_all", ("b",))], [x, y], [x]) == {"INS-001"}  # another key's delete
    assert lost_to(appended, [x, y], [y, x]) == frozenset()  # misplaced, not lost
    assert lost_to(appended, [x, y], [ChatMessage("user", "X")]) == frozenset()  # altered, not lost
    assert lost_to(appended, [x, y], [x, y]) == frozenset()
    assert lost_to([], [x], []) == frozenset()  # never written by a call the kit logged


def test_a_conversation_written_to_that_answers_as_empty_kept_nothing() -> None:
    from pytest_chatstore.engine.driver import kept_nothing
    from pytest_chatstore.engine.failures import Step
    from pytest_chatstore.spec.contract import ChatMessage

    x = ChatMessage("user", "x")
    written = [Step("add", ("k", x))]
    assert kept_nothing([*written, Step("delete_last", ("k",))], x, None)
    assert kept_nothing([*written, Step("get", ("k",))], [x], [])
    assert kept_nothing([*written, Step("delete_all", ("other",)), Step("get", ("k",))], [x], [])
    assert not kept_nothing([*written, Step("delete_all", ("k",)), Step("get", ("k",))], [x], [])  # emptied since
    assert not kept_nothing([*written, Step("get", ("other",))], [x], [])  # not the key written to
    assert not kept_nothing([*written, Step("get", ("k",))], [x, x], [x])  # something was kept
    assert not kept_nothing([*written, Step("clock", (9.0,)), Step("get", ("k",))], [x], [], ttl=5.0, clock_start=0)
    # A delete that answered None removed nothing by the contract (an index out of range): the write is still owed.
    missed = Step("delete", ("k", 1), result=None)
    assert kept_nothing([*written, missed, Step("get", ("k",))], [x], [])
    assert not kept_nothing([*written, Step("delete", ("k", 0), result=x), Step("get", ("k",))], [x], [])
    assert not kept_nothing([*written, Step("delete", ("k", 0)), Step("get", ("k",))], [x], [])  # answer unread


def test_a_key_too_long_for_its_column_is_one_root_cause_key_003(pytester: pytest.Pytester) -> None:
    """A 255-character key column whose error is swallowed: KEY-003 fails (a 300-character key), and every other
    check that wrote to a key too long and read nothing back (KEY-006's 256 characters, look-alikes, the model) is
    blocked by it, whatever keys its examples drew."""
    _, report = run_suite(pytester, "tests.root_cause_stores:Column255")
    target = report["targets"][0]
    assert [c["clause"] for c in target["root_causes"]] == ["KEY-003"]
    blocked = {c["id"]: c["blocked_by"] for c in target["clauses"] if c["status"] == "blocked"}
    assert "KEY-006" in blocked
    assert set(blocked.values()) == {"KEY-003"}


def test_a_whole_blob_rewrite_race_is_a_root_cause_per_racing_method(pytester: pytest.Pytester) -> None:
    _, report = run_suite(pytester, "tests.root_cause_stores:RewritesWholeBlob", "--chatstore-clauses=concurrency")
    target = report["targets"][0]
    assert [c["clause"] for c in target["root_causes"]] == ["CON-001", "CON-002"]
    assert {c["id"]: c["blocked_by"] for c in target["clauses"] if c["status"] == "blocked"} == {"CON-004": "CON-001"}


def test_a_message_whose_role_was_lost_is_altered_even_where_it_then_equals_another() -> None:
    from pytest_chatstore.engine.driver import altered
    from pytest_chatstore.spec.contract import ChatMessage

    user, assistant = ChatMessage("user", ""), ChatMessage("assistant", "")
    assert altered([user, assistant], [user, user])  # tests.broken_stores:ForgetsRole, met by OWN-001's search
    assert altered(assistant, user)
    assert not altered([user, assistant], [assistant, user])  # moved, not changed: the order's business
    assert not altered([user, assistant], [user])  # lost: the write's business


@pytest.mark.parametrize(
    ("target", "seed"), [(t, s) for t in ("StripsKeys", "FoldsKeys") for s in ("ci", "1", "2", "3", "4")]
)
def test_keys_stripped_are_two_root_causes_whatever_the_seed(pytester: pytest.Pytester, target: str, seed: str) -> None:
    """Google ADK's session services strip session ids. Before, which clauses failed with them depended on the seed:
    ORD-002 or KEY-001 when a search drew ``'\\t'`` (stripped to nothing and refused), MDL-001 or TTL-008 when a
    listing showed ``'a'`` for ``' a'`` or a read showed ``' a'``'s messages at ``'a'``."""
    extra = [] if seed == "ci" else ["--chatstore-hypothesis=default", f"--hypothesis-seed={seed}"]
    _, report = run_suite(pytester, f"tests.root_cause_stores:{target}", "--chatstore-clauses=-input", *extra)
    target_report = report["targets"][0]
    assert [c["clause"] for c in target_report["root_causes"]] == ["KEY-003", "KEY-004"]
    assert {c["blocked_by"] for c in target_report["clauses"] if c["status"] == "blocked"} <= {"KEY-003", "KEY-004"}


def test_a_read_showing_another_keys_messages_is_a_key_collision() -> None:
    from pytest_chatstore.engine.driver import crossed
    from pytest_chatstore.engine.failures import Step
    from pytest_chatstore.spec.contract import ChatMessage

    x, y = ChatMessage("user", "x"), ChatMessage("user", "y")
    wrote = [Step("add", ("a", x, None)), Step("add", (" a", y, None))]
    assert crossed([*wrote, Step("get", ("a",))], [x], [x, y])  # ' a''s message at 'a'
    assert not crossed([*wrote, Step("get", ("a",))], [x], [x, x])  # a duplicate of its own: not another key's
    emptied = [*wrote, Step("delete_all", (" a",), result=[y])]
    assert crossed([*emptied, Step("get", ("a",))], [x], [])  # emptied by a delete of ' a'
    assert not crossed([*wrote, Step("get", ("a",))], [x], [])  # lost, with nothing on another key removing it


def test_a_listing_of_changed_keys_is_a_key_not_kept() -> None:
    from pytest_chatstore.engine.driver import _unkept

    listing = "KEY-001"
    assert _unkept(None, listing, [" a", "b"], ["b"])  # left out
    assert _unkept(None, listing, ["0\r"], ["0"])  # stripped
    assert _unkept(None, listing, ["x" * 300], ["x" * 255])  # cut short
    assert _unkept(None, listing, [" "], ["6041888a-ee4b-44df-8c97-9cd3a20c6a87"])  # ADK: a blank id, a new UUID
    assert not _unkept(None, listing, ["a"], ["chat:a"])  # a prefix left on: listing's own rule
    assert not _unkept(None, listing, ["a"], ["b"])  # a plain key listed as another
    assert not _unkept(None, listing, [" "], ["u1", "u2"])  # more keys listed than went missing
    assert not _unkept(None, "ORD-001", [" a"], ["a"])  # not a listing
