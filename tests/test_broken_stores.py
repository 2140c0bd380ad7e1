"""Every clause can fail: each broken store fails its clause; the reference store passes it."""

from __future__ import annotations

import pytest

from pytest_chatstore.engine.failures import ClauseFailure
from pytest_chatstore.engine.targets import parse_target
from pytest_chatstore.harness.store import real_time_batches
from pytest_chatstore.harness.ttl import SCENARIOS
from pytest_chatstore.spec.clauses import CLAUSES, SPEC_VERSION
from tests.broken_stores import BROKEN

REFERENCE = "reference_impls.memory:InMemoryChatStore"


def run_clause(pytester: pytest.Pytester, target: str, clause_id: str) -> pytest.RunResult:
    """Run only ``clause_id``'s test against ``target``, in a fresh process.

    Not in-process: Hypothesis mixes constants from the local modules already imported into what it
    generates (even derandomized), so in a process shared with other tests the examples, and whether
    a hard bug is met, would depend on which tests ran before.
    """
    return pytester.runpytest_subprocess(
        f"--chatstore={target}",
        "--chatstore-only",
        "--chatstore-timeout=5",
        "--chatstore-hypothesis=ci",
        f"--chatstore-spec={SPEC_VERSION}",  # provisional clauses gate too
        "-k",
        clause_id.replace("-", "_"),
        "-q",
    )


def test_every_clause_has_a_broken_store() -> None:
    assert sorted(BROKEN) == sorted(CLAUSES)


@pytest.mark.parametrize("clause_id", sorted(BROKEN))
def test_broken_store_fails_its_clause(pytester: pytest.Pytester, clause_id: str) -> None:
    result = run_clause(pytester, f"tests.broken_stores:{BROKEN[clause_id].__name__}", clause_id)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*[[]{clause_id} {CLAUSES[clause_id].level}[]]*"])
    # For its bug, not because it could not even be built (a factory the kit cannot call, say).
    result.stdout.no_fnmatch_line("*what happened: the factory * raised*")
    # Its reproduction file reproduces: it fails too (a replay of the calls, or a rerun of the clause).
    written = list(pytester.path.rglob(f"test_repro_{clause_id.replace('-', '_')}_*.py"))
    assert len(written) == 1, written
    pytester.runpytest_subprocess(str(written[0]), "-p", "no:cacheprovider", "-q").assert_outcomes(failed=1)


def test_reference_store_passes_every_clause(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest(f"--chatstore={REFERENCE}", "--chatstore-only", "--chatstore-hypothesis=ci", "-q")
    # A memory store takes no redis_url, its instances share nothing (it declares -shared), and it has no server
    # for the fault proxy to stand in front of.
    needs_redis = sum(bool({"redis", "shared", "faults"} & set(clause.requires)) for clause in CLAUSES.values())
    result.assert_outcomes(passed=len(CLAUSES) - needs_redis, skipped=needs_redis)
    result.stdout.fnmatch_lines(["*InMemoryChatStore (--chatstore): CONFORMS*"])


REAL_TIME = {clause_id: f"realtime_{BROKEN[clause_id].__name__}" for clause_id in CLAUSES if clause_id[:3] == "TTL"}
del REAL_TIME["TTL-008"]  # the state machine needs the kit's clock: there is no real-time variant


def test_real_time_ttl_clauses_can_fail_and_run_in_one_batch(pytester: pytest.Pytester) -> None:
    """Every real-time TTL scenario of every target runs in one batch: seconds in all, not per test."""
    targets = [f"--chatstore=tests.broken_stores:{name}" for name in REAL_TIME.values()]
    reference = "--chatstore=tests.broken_stores:realtime_InMemoryChatStore"
    result = pytester.runpytest(*targets, reference, "--chatstore-only", "--chatstore-hypothesis=ci", "-k", "TTL")
    summary = result.stdout.str().split("chatstore conformance")[1]
    blocks = {block.split(" ")[0]: block for block in summary.split("\nrealtime_") if block.strip()}
    for clause_id, name in REAL_TIME.items():
        block = blocks[name.removeprefix("realtime_")]
        assert f"FAILED {clause_id} " in block, block
    assert "InMemoryChatStore (--chatstore): CONFORMS" in blocks["InMemoryChatStore"]
    assert "skipped" in blocks["InMemoryChatStore"]  # TTL-008 needs the clock


def test_first_real_time_verdict_runs_every_targets_scenarios_together() -> None:
    targets = [parse_target(f"tests.broken_stores:realtime_{n}", "test") for n in ("InMemoryChatStore", "ExpiresEarly")]
    batches = real_time_batches(targets, timeout=5, profile="ci")
    assert batches.verdict(targets[0], "TTL-002") is None
    assert set(batches.results) == {(t.spec, c) for t in targets for c in SCENARIOS}
    assert isinstance(batches.results[(targets[1].spec, "TTL-002")], ClauseFailure)


def test_ttl_clauses_skip_without_the_capability(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        plain="from reference_impls.memory import InMemoryChatStore\n\ndef make():\n    return InMemoryChatStore()\n"
    )
    result = pytester.runpytest("--chatstore=plain:make", "--chatstore-only", "-q", "-rs", "-k", "TTL")
    result.assert_outcomes(skipped=8)
    result.stdout.fnmatch_lines(["*make lacks capability ttl (the factory accepts `ttl` (seconds))*"])
