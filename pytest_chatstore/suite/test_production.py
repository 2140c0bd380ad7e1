"""Production shapes: worker processes on one backend, many and long conversations.

The workers build their stores with the first store's ``redis_url`` or
``namespace`` (see :mod:`pytest_chatstore.suite.test_instances`). The scale
clauses' sizes are the spec's, times ``--chatstore-scale``; large states are
built with one ``set_messages`` per conversation. This module runs after the
concurrency clauses, so PRC-001 knows whether lost updates are already theirs.
"""

from __future__ import annotations

import math
import multiprocessing
import random
import time
from typing import Any

from pytest_chatstore.engine import strategies as cst
from pytest_chatstore.engine.attribution import ANSWER_RULES
from pytest_chatstore.engine.linearizability import Event, overlapping
from pytest_chatstore.engine.runner import announce
from pytest_chatstore.engine.workers import UNREAD, Op, run_worker
from pytest_chatstore.harness.store import CapabilityMissing, StoreUnderTest
from pytest_chatstore.spec.contract import ChatMessage
from pytest_chatstore.spec.model import step
from pytest_chatstore.spec.operations import allowed
from pytest_chatstore.suite import Unread, clause, explained

KEYS = ["conversation", "other"]
WORKERS = 4
PRC_OVERLAP_SHARE = 0.5
"""Calls overlapping another worker process's call that PRC-001 wants to have seen before it concludes, as a share
of one round's worker calls (summed over its rounds): a round whose workers ran one after another (a loaded
machine) is followed by another; one whose workers ran together is enough."""
PRC_ROUNDS = 5
"""The most rounds PRC-001 runs to see :data:`PRC_OVERLAP_SHARE` (each spawns its workers again: seconds)."""

# -- worker processes -------------------------------------------------------------------------


def _answer(value: Any) -> Any:
    return Unread() if value == UNREAD else value


def _step(state: tuple[str, ...], op: Op) -> tuple[tuple[str, ...], Any]:
    """The sequential model of one conversation (:func:`pytest_chatstore.spec.model.step`); the ops name their key."""
    return step(state, op[0], *op[2:])


def _workload(rng: random.Random, worker: int, length: int, capabilities: frozenset[str]) -> list[Op]:
    """Random operations on the shared conversations, of the kinds the store has."""
    ops: list[Op] = []
    for j in range(length):
        key, name = KEYS[j % 2], f"p{worker}-{j}"
        choices: list[Op] = [
            ("add", key, name),
            ("add", key, name, rng.randint(0, 3)),
            ("add", key, name, 0),
            ("delete", key, rng.randint(0, 3)),
            ("delete_last", key),
            ("get", key),
        ]
        ops.append(rng.choice([c for c in choices if allowed(c, capabilities)]))
    return ops


@clause
def test_PRC_001_worker_processes_lose_nothing(chatstore: StoreUnderTest) -> None:
    if chatstore.target.source == "fixture":
        raise CapabilityMissing(
            "PRC-001 needs a target given as MODULE:ATTR (--chatstore), which a worker process can import; "
            "a chatstore_factory fixture lives only in the pytest process"
        )
    length = chatstore.units()
    initial: tuple[str, ...] = ("init-0", "init-1", "init-2")
    inserts = length  # each worker also adds this many to a third conversation, all at once
    wanted = math.ceil(PRC_OVERLAP_SHARE * WORKERS * (length + inserts))
    with chatstore.fresh() as store:
        # Rounds until enough calls overlapped a call of another process (a loaded machine may run the workers one
        # after another): each round's workloads come from its own fixed seed, so a run repeats the same rounds.
        for round_ in range(PRC_ROUNDS):
            _round(chatstore, store, round_, length, inserts, initial)
            if chatstore.overlaps >= wanted:
                break


def _round(
    chatstore: StoreUnderTest, store: Any, round_: int, length: int, inserts: int, initial: tuple[str, ...]
) -> None:
    """One round of PRC-001: the shared conversations set to ``initial``, the workers started together, then
    what they saw checked; the calls that overlapped another process's call are added to ``chatstore.overlaps``."""
    __tracebackhide__ = True
    for key in KEYS:
        store.set_messages(key, [ChatMessage("user", c) for c in initial])
    store.set_messages("burst", [])
    rng = random.Random(1 + round_)
    caps = chatstore.capabilities
    burst_at = 0 if "insert" in caps else None  # at index 0, or at the end
    workloads = [
        [
            *_workload(rng, w, length, caps),
            *(("add", "burst", f"b{w}-{j}", burst_at) for j in range(inserts)),
        ]
        for w in range(WORKERS)
    ]
    # Answers whose rule is known broken by their shape (raw bytes) are not read; a worker's error in an
    # operation whose rule is known broken, or lost updates when CON-004 or a sharing clause is, are blocked
    # by it.
    unread = sorted(op for op, rule in ANSWER_RULES.items() if rule in store.unreadable)
    lost = next((c for c in ("CON-004", "CON-002", "SHR-002", "SHR-001", "SHR-003") if c in store.known_broken), None)
    context = multiprocessing.get_context("spawn")
    start, results = context.Barrier(WORKERS), context.Queue()
    processes = [
        context.Process(
            target=run_worker,
            args=(chatstore.target.spec, store.shared_with, ops, start, results, w, unread),
            daemon=True,
        )
        for w, ops in enumerate(workloads)
    ]
    calls = sum(map(len, workloads))
    announce(f"(round {round_ + 1}: {WORKERS} worker processes making {calls} calls on {[*KEYS, 'burst']})")
    store.runner.calls += calls
    for process in processes:
        process.start()
    limit = 60 + store.runner.burst_limit(calls)  # spawning and importing take seconds
    deadline = time.monotonic() + limit
    collected: dict[int, tuple[list[Any], tuple[Op | None, str] | None]] = {}
    try:
        while len(collected) < WORKERS and time.monotonic() < deadline:
            try:
                worker, events, error = results.get(timeout=max(0.1, deadline - time.monotonic()))
            except Exception:  # noqa: BLE001 - queue.Empty: the deadline passed
                break
            collected[worker] = (events, error)
    finally:
        for process in processes:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
    store.log.append(
        f"(round {round_ + 1}: {WORKERS} worker processes, each with its own store, ran these calls at once:)"
    )
    if len(collected) < WORKERS:
        store.violation(f"{WORKERS - len(collected)} worker process(es) did not finish within {limit:.0f} s")
    for worker, (events, error) in sorted(collected.items()):
        if error is not None:
            failed_op, message = error
            store.log += [f"worker {worker}: {e[2]!r} -> {e[3]!r}" for e in events[-5:]]
            store.log.append(f"worker {worker}: {failed_op!r} raised {message}")
            rule = ANSWER_RULES.get(failed_op[0]) if failed_op else None
            store.violation(f"worker {worker}'s store raised {message} during {failed_op!r}", rule=rule)
    chatstore.overlaps += overlapping(
        [(worker, began, ended) for worker, (events, _) in collected.items() for began, ended, _, _ in events]
    )
    burst = [c.content for c in store.get_messages("burst")]
    expected = sorted(f"b{w}-{j}" for w in range(WORKERS) for j in range(inserts))
    if sorted(burst) != expected:
        where = "at index 0" if burst_at == 0 else "at the end"
        store.log.append(f"({WORKERS} workers each added {inserts} messages to 'burst' ({where}))")
        store.expect("the messages the workers added to 'burst', sorted", expected, sorted(burst), rule=lost)
    for key in KEYS:
        history = [
            Event(worker, began, ended, op, _answer(answer))
            for worker, (events, _) in collected.items()
            for began, ended, op, answer in events
            if op[1] == key
        ]
        after = time.monotonic_ns()
        final = tuple(c.content for c in store.get_messages(key))
        history.append(Event(WORKERS, after, time.monotonic_ns(), ("get", key), final))
        heading = f"(round {round_ + 1}, starting from {list(initial)!r} at {key!r})"
        what = f"calls from {WORKERS} processes on {key!r}"
        explained(store, history, initial, _step, heading=heading, calls=what, rule=lost, who="process")


# -- scale --------------------------------------------------------------------------------------


@clause
def test_SCL_001_every_one_of_a_thousand_conversations_is_listed(chatstore: StoreUnderTest) -> None:
    count = chatstore.scaled(1000)
    keys = [f"conversation {i:05d}" for i in range(count)]
    with chatstore.fresh() as store:
        for key in keys:
            store.set_messages(key, [ChatMessage("user", key)])
        store.log[:] = [f"(set_messages on {count} keys 'conversation 00000' .. {keys[-1]!r})"]
        listed = store.get_keys()
        if len(listed) != len(set(listed)):
            store.violation(f"get_keys listed {len(listed) - len(set(listed))} key(s) more than once")
        missing = sorted(set(keys) - set(listed))
        if missing:
            left_out = f"get_keys left out {len(missing)} of {count} conversations, such as {missing[:3]!r}"
            store.expect(left_out, sorted(keys), sorted(listed))
        store.expect("the keys listed", sorted(keys), sorted(listed), rule="KEY-001")


@clause
def test_SCL_002_a_conversation_of_twenty_thousand_messages(chatstore: StoreUnderTest) -> None:
    count = chatstore.scaled(20_000)
    messages = [ChatMessage("user", f"message {i}") for i in range(count)]
    with chatstore.fresh() as store:
        store.set_messages("long", messages)
        store.log[:] = [f"(set_messages with {count} messages 'message 0' .. 'message {count - 1}')"]
        got = store.get_messages("long")
        if got != messages:
            store.violation(
                f"{len(got)} of {count} messages came back"
                + (", in another order" if len(got) == count else f"; the last was {got[-1] if got else None!r}")
            )
        last = store.delete_last_message("long")
        store.expect("delete_last_message of the long conversation", messages[-1], last, rule="DLL-001")
        first = store.delete_message("long", 0)
        store.expect("delete_message(key, 0) of the long conversation", messages[0], first, rule="DEL-001")
        end = store.delete_message("long", count - 3)
        store.expect(f"delete_message(key, {count - 3}) (the last one now)", messages[-2], end, rule="DEL-001")
        # Deletes that leave the rest in another order break ORD-001 at any length: its rule.
        store.expect("what is left, in order", messages[1:-2], store.get_messages("long"), rule="ORD-001")


@clause
def test_SCL_003_huge_messages_and_deep_nesting(chatstore: StoreUnderTest) -> None:
    count = chatstore.scaled(4)
    megabyte = cst.MEGABYTE
    huge = [ChatMessage("user", f"{i:02d}" + megabyte[2:]) for i in range(count)]
    deep: Any = {"leaf": [1, "two", None, True]}
    for level in range(100):
        deep = {f"level {level}": deep, "list": [level]}
    nested = ChatMessage("assistant", "deep", {"nested": deep})
    with chatstore.fresh() as store:
        store.set_messages("huge", huge)
        got = store.get_messages("huge")
        if got != huge:
            store.log[:] = [f"(set_messages with {count} messages of 1 MB each)"]
            store.violation(f"{len(got)} of {count} messages of 1 MB came back, or not exactly")
        store.add_message("deep", nested)
        store.expect("a message nested 100 levels deep", [nested], store.get_messages("deep"), rule="FID-003")
