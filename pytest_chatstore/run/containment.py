"""Around each clause: where it runs (a forked child when isolating), what earlier clauses left stuck, and what
the store left behind (non-daemon threads, armed timers). The plugin's run-test hooks call these."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import pytest

from pytest_chatstore.engine import runner
from pytest_chatstore.engine.attribution import blocked
from pytest_chatstore.engine.driver import first_of_kind
from pytest_chatstore.engine.failures import FactoryFailed, fail
from pytest_chatstore.harness.store import StoreUnderTest, real_time_batches
from pytest_chatstore.run import building, isolation
from pytest_chatstore.run.stash import (
    processes_key,
    run_state,
    threads_key,
)
from pytest_chatstore.spec.clauses import CLAUSES


def start(config: pytest.Config, settings: Any) -> None:
    """When the kit is named at configuration (targets, reports or ``--chatstore-isolate``): whether clauses run
    in forked children, a Redis URL's use checked, and the real-time TTL batches of the targets planned."""
    run_state(config).isolate = isolation.decide(config, settings)
    if any("redis_url" in t.accepts for t in settings.targets):
        problem = run_state(config).redis.check_usage()
        if problem is not None:
            raise pytest.UsageError(f"pytest-chatstore: {problem}")
    run_state(config).batches = real_time_batches(
        list(settings.targets), timeout=settings.timeout, profile=settings.profile, redis=run_state(config).redis
    )


def finish_session(config: pytest.Config, recorder: Any, exitstatus: int) -> None:
    """At the session's end, before any report is written: the store's threads and timers get the time an isolated
    child gives them (a store that ends the process a moment after its last call is not certified), each target's
    budget says where it overran, and the crash notes are cleared (the process did not die in a clause)."""
    if run_state(config).suite_items and not run_state(config).isolate:
        isolation.linger(run_state(config).threads)
    for name, ledger in run_state(config).ledgers.items():
        overrun = ledger.overrun()
        if overrun is not None and recorder is not None:
            recorder.budget_notes[name] = overrun
    if hasattr(config, "workerinput"):
        return
    crashes = run_state(config).crashes
    for target in run_state(config).settings.targets:
        isolation.mark_running(config, target.name, None)
        if run_state(config).isolate and exitstatus != pytest.ExitCode.INTERRUPTED:
            isolation.mark_crashed(config, target.name, crashes.get(target.name))


def run_protocol(item: pytest.Item, clause_id: str) -> bool | None:
    """Before a suite test: the Redis guard's baseline and the target's first contact, in this process. Then, when
    isolating, the test runs in a forked child (True: its reports are logged here); else its clause is noted as
    running, so that a crash leaves the note and the next run isolates (None: pytest runs it)."""
    config = item.config
    target = item.callspec.params["chatstore"]  # type: ignore[attr-defined]
    item.stash[processes_key] = isolation.child_processes()  # those started from here on are the store's
    if "redis_url" in target.accepts:
        with contextlib.suppress(pytest.fail.Exception):  # before any store code (the guard's baseline), once
            run_state(config).redis()
    building.first_contact(config, target)
    run_state(config).running = (target.name, clause_id, time.monotonic())
    if not run_state(config).isolate:
        isolation.mark_running(config, target.name, clause_id)
        return None
    timeout = run_state(config).settings.timeout
    item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
    reports = isolation.run_forked(item, quiet_for=6 * timeout + 120)
    isolation.release(item, reports)
    stop_when_spent(item, target.name)  # the child's ledger came back with its reports
    for report in reports:
        item.ihook.pytest_runtest_logreport(report=report)
    item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
    return True


@contextlib.contextmanager
def around_clause(item: pytest.Item, sut: StoreUnderTest, clause_id: str) -> Iterator[None]:
    """A suite test's body, between its clause's preconditions and what the store left.

    A call stuck since an earlier clause blocks it; a missing capability skips, a declared-absent one that the
    store shows is probed; the budget plans its share. After a body that passed, a store that left non-daemon
    threads running (a process using it could never exit) or a timer whose signal would end the process fails it.
    """
    __tracebackhide__ = True
    config = item.config
    _refuse_while_stuck(config, sut, clause_id)
    ledger = building.ledger(config, sut)
    sut.plan(ledger.allowance(clause_id), ledger.cost, ledger.overlap)
    sut.runner.deadline = time.monotonic() + ledger.hard_limit - ledger.spent
    sut.runner.past_deadline = (
        f"the target's budget ({ledger.budget:g} s) and its slack ({ledger.slack:.0f} s) were spent during this "
        "check: it stopped before its next store call, unverified, and the run stops"
    )
    start = time.perf_counter()
    try:
        sut.require_clause(clause_id)
        run_state(config).detected[sut.target.name] = sut.detected
        yield
    finally:
        run_state(config).stuck.setdefault(sut.target.name, []).extend(
            (clause_id, name, call) for name, call in sut.runner.abandoned
        )
        # Real-time waits are no calls, and calls in concurrent bursts or shards overlap: none shows what one costs.
        counted = not sut.real_time and CLAUSES[clause_id].group != "concurrency" and sut.split[1] == 1
        ledger.record(clause_id, time.perf_counter() - start, sut.calls, counted=counted, methods=sut.runner.seconds_in)
        stop_when_spent(item, sut.target.name)
    _left_behind(item, sut, clause_id)


def stop_when_spent(item: pytest.Item, target: str) -> None:
    """Stop the run (no further clause starts) once ``target``'s budget and its slack are spent."""
    ledger = run_state(item.config).ledgers.get(target)
    reason = ledger.stop_reason() if ledger is not None else None
    if reason is not None:
        item.session.shouldstop = reason


def _refuse_while_stuck(config: pytest.Config, sut: StoreUnderTest, clause_id: str) -> None:
    __tracebackhide__ = True
    stuck = run_state(config).stuck.get(sut.target.name, [])
    still = [(c, name) for c, name, call in stuck if not call.done()]
    if not still:
        return
    detected = run_state(config).detected.get(sut.target.name)
    if detected is not None:  # what an earlier clause saw: a clause the store cannot run is skipped, not blocked
        sut.assume_detected(detected)
        sut.require_clause(clause_id)
    first, name = still[0]
    if name == "__enter__":  # the factory's: no verdict on this clause's rule, nor on the first one's
        why = f"the factory {sut.target.spec} hung building a store in {first}'s check and has still not returned"
        raise FactoryFailed(f"{why}: no store can be built, so {clause_id} could not be checked", why)
    raise blocked(
        clause_id,
        first,
        f"the store's {name}() hung in {first}'s check and has still not returned: a store with a call stuck "
        "inside it cannot be checked (fix the hang, or raise --chatstore-timeout if the call is only slow)",
    )


def _left_behind(item: pytest.Item, sut: StoreUnderTest, clause_id: str) -> None:
    __tracebackhide__ = True
    leaked = isolation.leaked_threads(item.stash.get(threads_key, set()))
    if leaked:
        run_state(item.config).leaked.extend(leaked)
        names = ", ".join(sorted({t.name for t in leaked}))
        fail(
            clause_id,
            f"the store left {len(leaked)} non-daemon thread(s) running after the check ({names}): a process "
            "that uses it can never exit",
        )
    armed = runner.fatal_timers()  # armed outside a single call (a factory, a burst): calls are checked one by one
    if armed:  # disarmed, or the run would die with the store's alarm and give no verdict
        what = runner.disarm(armed)
        met = first_of_kind(sut.raising, armed[0].signal_name)
        if met is not None and met in sut.known_broken:  # the same harm, met first by another check
            raise blocked(clause_id, met, what)
        fail(clause_id, what)
