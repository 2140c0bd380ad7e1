"""Overlapping independent work (issue 23): a split check's verdict and evidence do not depend on how many of its
parts run at once, parts do run at once when allowed, and a store that may not be called from two threads never is.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from pytest_chatstore.engine import budget
from pytest_chatstore.engine.failures import ClauseFailure, fail
from pytest_chatstore.engine.targets import target_from_factory
from pytest_chatstore.harness.store import SHARDS, StoreUnderTest
from pytest_chatstore.spec.clauses import CLAUSES
from pytest_chatstore.suite.test_model import ChatStoreMachine
from reference_impls.memory import InMemoryChatStore

ROOT = Path(__file__).resolve().parents[1]


def sut_for(factory: Any, clause: str = "MDL-001", concurrency: int = 1, **kwargs: Any) -> StoreUnderTest:
    target = target_from_factory(factory, name="f", spec="test:f", source="test")
    sut = StoreUnderTest(target, timeout=5, profile="ci", clause=clause, **kwargs)
    sut.plan(budget.FULL, 0.001, concurrency)
    return sut


def test_a_store_that_may_be_called_from_threads_is_split_and_one_that_may_not_is_not() -> None:
    assert sut_for(InMemoryChatStore).shards() == SHARDS
    assert sut_for(InMemoryChatStore, declared={"threads": (False, "test")}).shards() == 1


@pytest.mark.parametrize("concurrency", [1, 4])
def test_the_first_failure_in_the_items_order_is_raised_whatever_the_concurrency(concurrency: int) -> None:
    sut = sut_for(InMemoryChatStore, concurrency=concurrency)
    seen: list[int] = []

    def check(shard: StoreUnderTest, item: int) -> None:
        with shard.fresh() as store:
            store.add_message("k", store_message(item))
        seen.append(item)
        if item in (13, 3, 40):
            fail(shard.clause, f"item {item}")

    with pytest.raises(ClauseFailure, match="item 3"):
        sut.each(list(range(48)), check)
    assert set(range(3)) <= set(seen)  # every item before the failing one ran
    assert 47 not in seen  # the last part, after the failing one, stopped (or never started)


def test_parts_run_at_once_when_the_concurrency_allows() -> None:
    sut = sut_for(InMemoryChatStore, concurrency=4)
    together = threading.Barrier(4, timeout=10)  # one after the other, this would break after 10 s

    def check(shard: StoreUnderTest, item: int) -> None:
        if item % 2 == 0:  # each part's first item
            together.wait()
        with shard.fresh() as store:
            store.get_messages("k")

    assert sut.each(list(range(8)), check) == list(range(8))
    assert sut.split == (SHARDS, 4)
    assert sut.calls >= 8 * 2  # each shard's calls (building reads the canary keys) add up on the clause


def test_a_split_state_machine_runs_the_same_examples_whatever_the_concurrency() -> None:
    evidence = []
    for concurrency in (1, 4):
        sut = sut_for(InMemoryChatStore, concurrency=concurrency)
        sut.run_machine(type("ChatStoreMachine", (ChatStoreMachine,), {"sut": sut}))
        evidence.append((sut.examples, sut.calls, sut.split[0]))
    assert evidence[0] == evidence[1]
    assert evidence[0][0] >= budget.work("MDL-001").full_units("ci")  # every example of the full work, in shards


def test_a_split_state_machine_finds_a_bug_and_names_its_steps() -> None:
    class ForgetsSecond(InMemoryChatStore):
        def add_message(self, key: str, message: Any, idx: int | None = None) -> None:
            if len(self.get_messages(key)) == 1 and idx is None:
                return
            super().add_message(key, message, idx)

    sut = sut_for(ForgetsSecond, concurrency=4)
    with pytest.raises(ClauseFailure) as caught:
        sut.run_machine(type("ChatStoreMachine", (ChatStoreMachine,), {"sut": sut}))
    assert "add_message" in str(caught.value)


def _search(sut: StoreUnderTest) -> list[tuple[str, int]]:
    """A property of DEL-001's shape run through ``sut``: what it drew, in order of drawing within each part."""
    from hypothesis import strategies as st

    drawn: list[tuple[str, int]] = []

    @sut.given(key=st.text("abc", min_size=1, max_size=4), count=st.integers(1, 6))
    def check(part: StoreUnderTest, key: str, count: int) -> None:
        drawn.append((key, count))
        with part.fresh() as store:
            for n in range(count):
                store.add_message(key, store_message(n))
            store.expect("messages after the adds", [store_message(n) for n in range(count)], store.get_messages(key))

    check()
    return drawn


def test_a_split_property_runs_the_same_examples_whatever_the_concurrency() -> None:
    runs = []
    for concurrency in (1, 4):
        sut = sut_for(InMemoryChatStore, clause="DEL-001", concurrency=concurrency)
        drawn = _search(sut)
        runs.append((sorted(drawn), sut.examples, sut.split))
        assert len(set(drawn)) >= budget.work("DEL-001").full_units("ci")  # the simplest example once, not per part
    assert runs[0][:2] == runs[1][:2]
    assert runs[0][2] == (SHARDS, 1)
    assert runs[1][2] == (SHARDS, 4)
    # every example of the full work, in parts
    assert runs[0][1] >= budget.work("DEL-001").full_units("ci")
    # one part (a store without threads) is Hypothesis's own search, unchanged
    alone = sut_for(InMemoryChatStore, clause="DEL-001", declared={"threads": (False, "test")})
    _search(alone)
    assert alone.split == (1, 1)
    assert alone.examples == budget.work("DEL-001").full_units("ci")


def test_a_split_property_finds_a_bug_and_the_first_failing_part_is_reported() -> None:
    class ForgetsFifth(InMemoryChatStore):
        def add_message(self, key: str, message: Any, idx: int | None = None) -> None:
            if len(self.get_messages(key)) == 4:
                return
            super().add_message(key, message, idx)

    failures = []
    for concurrency in (1, 4):
        sut = sut_for(ForgetsFifth, clause="DEL-001", concurrency=concurrency)
        with pytest.raises(ClauseFailure) as caught:
            _search(sut)
        failures.append(str(caught.value))
    assert failures[0] == failures[1]
    assert "messages after the adds" in failures[0]


def test_concurrency_follows_what_a_call_waits_not_what_it_computes() -> None:
    assert budget.concurrency(0.020, 0.0003, SHARDS) == SHARDS  # a store that waits on the network
    assert budget.concurrency(0.020, 0.015, SHARDS) == 1  # one that computes: the interpreter runs one thread
    assert budget.concurrency(0.0002, 0.00001, SHARDS) == 1  # too fast for a thread switch to pay
    assert budget.concurrency(0.020, 0.0003, 1) == 1  # a store that may not be called from threads


def test_overlapped_calls_share_out_their_waiting_not_their_computing() -> None:
    assert budget.speedup(0.020, 0.0004, 1) == 1.0
    assert 6 < budget.speedup(0.020, 0.0004, 8) < 8  # 8 at once, each computing 0.4 ms the others cannot overlap
    assert budget.speedup(0.002, 0.0004, 5) == pytest.approx(
        2.5
    )  # half the gain at 2 ms per call: the computing weighs more
    assert budget.speedup(0.002, 0.002, 8) == pytest.approx(8 / 9)  # a store that only computes: slower, if anything


def store_message(item: int) -> Any:
    from pytest_chatstore.spec.contract import ChatMessage

    return ChatMessage("user", f"item {item}")


def test_the_budget_plans_the_split_phases_at_their_overlapped_wall_time() -> None:
    clauses = ["MDL-001", "INS-002", "ORD-001"]
    alone = budget.full_seconds(clauses, 0.020, "default")
    overlapped = budget.full_seconds(clauses, 0.020, "default", speedup=8)
    assert overlapped < alone / 3  # the machine and the exhaustive phases are most of these clauses' calls
    assert budget.full_seconds(["FID-001"], 0.020, "default", speedup=8) < budget.full_seconds(
        ["FID-001"], 0.020, "default"
    )  # a property's random search is split too
    assert budget.full_seconds(["SCL-001"], 0.020, "default", speedup=8) == budget.full_seconds(
        ["SCL-001"], 0.020, "default"
    )  # a fixed scenario is not
    assert budget.plan(clauses, overlapped * 1.01, 0.020, "default", speedup=8) == 1.0
    assert budget.plan(clauses, overlapped * 1.01, 0.020, "default") < 1.0


def _run(pytester: pytest.Pytester, clause_id: str, *args: str) -> dict[str, Any]:
    """One clause against a 2 ms store with an insert bug: its JSON report's clause and budget."""
    result = pytester.runpytest_subprocess(
        "--chatstore=tests.hostile_stores:InsertAtZeroAppends2ms", "--chatstore-only", "--chatstore-hypothesis=ci",
        f"--chatstore-clauses={clause_id}", "--chatstore-report=report.json", *args,
    )  # fmt: skip
    result.assert_outcomes(failed=1, deselected=len(CLAUSES) - 1)
    target = json.loads((pytester.path / "report.json").read_text())["targets"][0]
    return {"budget": target["budget"], **target["clauses"][0]}


def test_a_store_that_waits_gets_its_parts_overlapped_and_the_verdict_of_running_them_in_order(
    pytester: pytest.Pytester,
) -> None:
    overlapped = _run(pytester, "INS-002")
    assert overlapped["budget"]["concurrency"] > 1
    assert overlapped["evidence"]["shards"] == SHARDS
    assert overlapped["evidence"]["concurrency"] > 1
    # The same store, one call at a time: its exhaustive phase in one part meets the same first failing sequence.
    alone = _run(pytester, "INS-002", "--chatstore-capabilities=-threads")
    assert alone["budget"]["concurrency"] == 1
    assert "shards" not in alone["evidence"]
    assert overlapped["failure"] == alone["failure"]
    # At most one part at once, asked for (a backend that limits connections): the same parts, the same verdict.
    one_at_once = _run(pytester, "INS-002", "--chatstore-overlap=1")
    assert one_at_once["budget"]["concurrency"] == 1
    assert one_at_once["failure"] == overlapped["failure"]
    machine = _run(pytester, "MDL-001")  # the state machine's runs, overlapped, meet the bug too
    assert machine["evidence"]["concurrency"] > 1
    assert "add_message" in machine["failure"]


def test_a_call_that_hangs_in_one_part_is_the_clauses_hang_and_the_parts_after_it_stop() -> None:
    from pytest_chatstore.engine.failures import Hung

    class HangsOnKey(InMemoryChatStore):
        def get_messages(self, key: str) -> Any:
            if key == "hang":
                threading.Event().wait(8)
            return super().get_messages(key)

    target = target_from_factory(HangsOnKey, name="f", spec="test:f", source="test")
    sut = StoreUnderTest(target, timeout=2, profile="ci", clause="MDL-001")
    sut.plan(budget.FULL, 0.001, 4)
    ran: list[int] = []

    def check(shard: StoreUnderTest, item: int) -> None:
        with shard.fresh() as store:
            store.get_messages("hang" if item == 5 else "k")
        ran.append(item)

    with pytest.raises(Hung, match="get_messages"):
        sut.each(list(range(16)), check)
    assert set(range(4)) <= set(ran)  # the parts before the hanging one ended
    assert [name for name, _ in sut.runner.abandoned] == ["get_messages"]  # the stuck call, for the next clauses


def test_xdist_workers_share_one_budget_instead_of_each_planning_every_clause() -> None:
    clauses = ["ORD-001", "SET-001", "INS-001", "DEL-001", "KEY-001", "FID-001"]
    alone, shared = (
        budget.Ledger(budget=30, profile="default", measured=0.020, clauses=list(clauses), workers=n) for n in (1, 2)
    )
    assert alone.allowance("ORD-001").scale < shared.allowance("ORD-001").scale  # half the clauses each: more each
    assert shared.allowance("ORD-001").seconds <= 30 * (1 - budget.RESERVE)  # never more than this worker has


def test_under_xdist_the_long_clauses_go_first_and_the_others_keep_their_order(pytester: pytest.Pytester) -> None:
    from pytest_chatstore.run.collection import long_first
    from pytest_chatstore.run.stash import clause_of

    items = pytester.getitems(
        "\n".join(
            f'@pytest.mark.chatstore_clause("{clause}")\ndef test_{n}(): pass\n'
            for n, clause in enumerate(["FRE-001", "ORD-001", "TTL-008", "SET-001", "MDL-001"])
        ).join(["import pytest\n", ""])
    )
    assert [clause_of(item) for item in long_first(items, "default", 2)] == [
        "MDL-001", "FRE-001", "ORD-001", "TTL-008", "SET-001",
    ]  # fmt: skip
    # with more workers each one's share is smaller: TTL-008 is long beside it too
    assert [clause_of(item) for item in long_first(items, "default", 8)][:2] == ["MDL-001", "TTL-008"]


@pytest.mark.parametrize("isolate", [False, True])
def test_an_isolated_run_calls_the_store_one_call_at_a_time(pytester: pytest.Pytester, isolate: bool) -> None:
    """An isolated child that dies is charged to the call it was in: with parts at once that call is not known (a
    loaded machine once made a fast store look like one that waits, and a crash was named in another part's call)."""
    args = ["--chatstore=tests.hostile_stores:Latency2ms", "--chatstore-only", "--chatstore-clauses=INS-001"]
    args += ["--chatstore-hypothesis=ci", "--chatstore-report=r.json", *(["--chatstore-isolate"] if isolate else [])]
    pytester.syspathinsert(ROOT)
    pytester.runpytest_subprocess(*args).assert_outcomes(passed=1, deselected=len(CLAUSES) - 1)
    report = json.loads((pytester.path / "r.json").read_text())
    assert (report["targets"][0]["budget"]["concurrency"] == 1) is isolate
