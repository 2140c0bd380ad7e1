"""Reproductions (:mod:`pytest_chatstore.report.repro`), directly: what a file says, and that it fails until fixed."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_chatstore.engine.failures import ClauseFailure, ReplayRecord, Step, find_blob
from pytest_chatstore.engine.targets import parse_target
from pytest_chatstore.harness.store import StoreUnderTest
from pytest_chatstore.report import repro
from pytest_chatstore.spec.contract import ChatMessage

BROKEN = "tests.broken_stores:DeleteLastTakesFirst"
A, B = ChatMessage("user", "a"), ChatMessage("user", "b")


def failure_of(target: str, clause: str) -> ClauseFailure:
    """Drive ``target`` as DLL-001 does and return the failure it shows."""
    sut = StoreUnderTest(parse_target(target, "test"), timeout=5, profile="ci", clause=clause)
    with sut.fresh() as store:
        store.set_messages("k", [A, B])
        try:
            store.expect("delete_last_message return value", B, store.delete_last_message("k"))
        except ClauseFailure as failure:
            return failure
        finally:
            sut.close()
    raise AssertionError(f"{target} did not fail {clause}")


def test_a_replay_writes_the_calls_and_asserts_the_expected_answer_inline(tmp_path: Path) -> None:
    failure = failure_of(BROKEN, "DLL-001")
    path = repro.write(
        tmp_path, clause_id="DLL-001", target=BROKEN, node="n", record=failure.replay, blob=None, what=str(failure)
    )
    text = path.read_text()
    assert path.name == "test_repro_DLL_001_DeleteLastTakesFirst.py"
    assert "store.set_messages('k', [ChatMessage('user', 'a'), ChatMessage('user', 'b')])" in text
    assert "assert store.delete_last_message('k') == ChatMessage('user', 'b')" in text
    assert "replays the failing example (the shortest one found) call by call" in text
    compile(text, str(path), "exec")


def test_a_replay_fails_against_the_broken_store_and_passes_once_fixed(pytester: pytest.Pytester) -> None:
    failure = failure_of(BROKEN, "DLL-001")
    record = failure.replay
    for target, outcome in ((BROKEN, {"failed": 1}), ("reference_impls.memory:InMemoryChatStore", {"passed": 1})):
        text = repro.render(clause_id="DLL-001", target=target, node="n", record=record, blob=None, what="x")
        pytester.makepyfile(test_repro=text)
        pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(**outcome)


def test_what_the_calls_cannot_show_is_rerun_as_a_clause() -> None:
    threads = repro.render(clause_id="CON-001", target=BROKEN, node="n", record=None, blob="AAE=", what="lost")
    assert "reruns the clause, derandomized" in threads
    assert "--chatstore-clauses=CON-001" in threads
    assert "--chatstore-reproduce=CON-001:AAE=" in threads
    blocked = ReplayRecord([Step("get", ("k",))], {}, blocked="the example uses two stores at once")
    assert "reruns the clause" in repro.render(
        clause_id="FRE-001", target=BROKEN, node="n", record=blocked, blob=None, what="x"
    )


class _Group(Exception):
    """An exception group, as Hypothesis raises for several distinct failures (Python 3.10 has no built-in one)."""

    def __init__(self, *inner: BaseException) -> None:
        super().__init__("several")
        self.exceptions = inner


def test_the_blob_is_found_in_hypothesis_notes() -> None:
    exc = AssertionError("boom")
    exc.__notes__ = ["@reproduce_failure('6.170.17', b'AXicY2AAAAAEAAE=')"]  # type: ignore[attr-defined]  # add_note: 3.11+
    assert find_blob(exc) == "AXicY2AAAAAEAAE="
    assert find_blob(_Group(ValueError(), exc)) == "AXicY2AAAAAEAAE="
    assert find_blob(AssertionError("no notes")) is None
