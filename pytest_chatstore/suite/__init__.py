"""The conformance suite: one test per clause, plus the model-based state machine.

Tests here receive the ``chatstore`` fixture (a
:class:`~pytest_chatstore.harness.store.StoreUnderTest`) and build a fresh store per
Hypothesis example with ``chatstore.fresh()``. Shared pieces live in this
module: the :func:`clause` mark and :func:`run_op`, which applies one
operation to a store and to the model and compares the answers.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from hypothesis import strategies as st

from pytest_chatstore.engine import scope
from pytest_chatstore.engine import strategies as cst
from pytest_chatstore.engine.attribution import ANSWER_RULES, exercises, rule_of, state_rule
from pytest_chatstore.engine.driver import StoreDriver
from pytest_chatstore.engine.failures import ClauseFailure, kit_advice
from pytest_chatstore.engine.linearizability import Event, check_linearizable
from pytest_chatstore.harness.store import StoreUnderTest
from pytest_chatstore.spec.clauses import CLAUSES, LISTED, MODEL, NEGATIVE, ORDER, UNLISTED
from pytest_chatstore.spec.model import ChatModel
from pytest_chatstore.spec.operations import OPERATIONS, expected_answer

Op = tuple[Any, ...]
"""An operation: ``("add", key, message, idx)``, ``("get", key)``, ``("keys",)``: a key of
:data:`~pytest_chatstore.spec.operations.OPERATIONS`, then the arguments."""

F = TypeVar("F", bound=Callable[..., Any])
_CLAUSE_IN_NAME = re.compile(r"test_([A-Z]{3})_(\d{3})_")


def clause(test: F) -> F:
    """Mark ``test`` as the check of the clause its name carries: ``test_KEY_001_...`` checks KEY-001.

    The ID is written once, in the name; the mark (``chatstore_clause``) is what the plugin reads.
    """
    match = _CLAUSE_IN_NAME.match(test.__name__)
    clause_id = f"{match.group(1)}-{match.group(2)}" if match else None
    if clause_id not in CLAUSES:
        raise KeyError(f"{test.__name__} names no clause of the registry (expected test_XXX_000_...)")

    @functools.wraps(test)
    def hosted(*args: Any, **kwargs: Any) -> Any:
        """The check, run on its store runner's worker (see :meth:`pytest_chatstore.engine.runner.Runner.host`)."""
        __tracebackhide__ = True
        sut = kwargs.get("chatstore")
        try:
            if isinstance(sut, StoreUnderTest):
                return sut.runner.host(test, *args, **kwargs)
            return test(*args, **kwargs)
        except BaseException as exc:
            kit_advice(exc, clause_id)
            raise

    marked: F = pytest.mark.chatstore_clause(clause_id)(hosted)
    return marked


def supported(cases: list[tuple[Op, str | None]], capabilities: frozenset[str]) -> list[Op]:
    """The operations of ``cases`` (each with the capability it needs, or None) that ``capabilities`` allow."""
    return [op for op, needs in cases if needs is None or needs in capabilities]


def op_strategy(keys: list[str], *, with_index: bool, capabilities: frozenset[str]) -> st.SearchStrategy[Op]:
    """The generated operations (:attr:`Operation.generated`) on ``keys`` that ``capabilities`` allow; those
    taking an index only if ``with_index``, after the others."""
    key = st.sampled_from(keys)
    arguments: dict[str, list[st.SearchStrategy[Any]]] = {
        "nothing": [],
        "key": [key],
        "key_messages": [key, st.lists(cst.simple_messages, max_size=4)],
        "key_message": [key, cst.simple_messages, st.none()],
        "key_index": [key, cst.indices()],
    }
    plain: list[st.SearchStrategy[Op]] = []
    indexed: list[st.SearchStrategy[Op]] = []
    for op in OPERATIONS.values():
        if not op.generated or (op.capability is not None and op.capability not in capabilities):
            continue
        taken = arguments[op.arguments]
        (indexed if op.arguments == "key_index" else plain).append(st.tuples(st.just(op.name), *taken))
        if op.index_capability in capabilities:
            indexed.append(st.tuples(st.just(op.name), *taken[:-1], cst.indices()))
    return st.one_of(plain + (indexed if with_index else []))


def number_op(op: Op, n: int) -> Op:
    """``op`` with its messages made unique to step ``n`` (``#n`` appended to their content)."""
    if op[0] == "add":
        return (op[0], op[1], cst.numbered(op[2], n), *op[3:])
    if op[0] == "set":
        return (op[0], op[1], [cst.numbered(m, n * 100 + i) for i, m in enumerate(op[2])])
    return op


def numbered_ops(ops: list[Op]) -> list[Op]:
    """Every message in ``ops`` made unique, so that no order bug can hide behind equal messages."""
    return [number_op(op, n) for n, op in enumerate(ops)]


def twins(capabilities: frozenset[str]) -> list[bool]:
    """The ways to call an operation (``use_async``): sync, and async too when the store has the twins."""
    return [False, True] if "async" in capabilities else [False]


def readable(driver: StoreDriver, op: Op) -> bool:
    """Whether ``op``'s answer is to be read: not when its rule is known broken by the answer's shape."""
    return ANSWER_RULES.get(op[0]) not in driver.unreadable


def answer(driver: StoreDriver, op: Op, *, use_async: bool = False, rule: str | None = None) -> Any:
    """Apply ``op`` to the store and return its answer, converted (keys sorted); ``None`` if it is not read.

    ``rule`` is the clause governing the operation (by default the one its answer's shape belongs to).
    """
    __tracebackhide__ = True
    name, *args = op
    got = driver.perform(name, *args, use_async=use_async, read=readable(driver, op), rule=rule)
    if name == "keys" and got is not None:
        if len(got) != len(set(got)):
            driver.violation(f"get_keys listed a key more than once: {got!r}", rule=ANSWER_RULES["keys"])
        return sorted(got)
    return got


def left_out(driver: StoreDriver, model: ChatModel, op: Op) -> bool:
    """Whether ``op`` exercises a rule already known broken (then the example goes on without it); logged."""
    known = exercises(op, model) & (driver.known_broken - driver.unreadable)
    if known:
        driver.log.append(
            f"(left out: {op[0]}{tuple(op[1:])!r}, which exercises {', '.join(sorted(known))}, known broken)"
        )
    return bool(known)


def without_known_broken(ops: list[Op], known: frozenset[str]) -> list[Op]:
    # ``known``: clauses broken by a wrong value (those broken only by an unreadable answer keep their ops).
    """``ops`` less those that exercise a rule in ``known``, judged against the model as they would run."""
    model, kept = ChatModel(), []
    for op in ops:
        if not exercises(op, model) & known:
            kept.append(op)
            expected_answer(model, op)
    return kept


def run_op(
    driver: StoreDriver, model: ChatModel, op: Op, *, use_async: bool = False, python_negatives: bool = True
) -> None:
    """Apply ``op`` to the store and the model; fail ``driver.clause`` if the answers differ.

    An operation that exercises a rule already known broken is left out (store and model
    alike), and a wrong answer is charged to the clause whose rule governs it (see
    :mod:`pytest_chatstore.engine.attribution`).

    Writes answer ``None`` by contract and are not compared. ``delete_messages``
    may answer ``None`` or the removed list. With ``python_negatives=False`` a
    negative-index delete may also answer ``None`` and change nothing (DEL-003's
    allowance).
    """
    __tracebackhide__ = True
    if left_out(driver, model, op):
        return
    rule = rule_of(op, model)
    got = answer(driver, op, use_async=use_async, rule=rule)
    if not readable(driver, op):  # its effect still counts: the model follows, later reads compare
        expected_answer(model, op)
        return
    if op[0] == "delete" and got is None and op[2] < 0 and not python_negatives:
        return
    expected = expected_answer(model, op)
    kind = OPERATIONS[op[0]].answer  # a write's answer is not compared; a "removed" one may be None
    if kind == "none" or (kind == "removed" and got is None):
        return
    shown = ", ".join(repr(a) for a in op[1:])
    driver.expect(f"answer to {op[0]}({shown})", expected, got, rule=rule)


def exhaust(chatstore: Any) -> None:
    """The bounded-exhaustive phase of ``chatstore.clause``: every sequence of :mod:`pytest_chatstore.engine.scope`
    that ends in the clause's operation, on a fresh store each (:func:`on_fresh_store`), shortest first.

    After every write the whole state is compared: the write's answer (:func:`run_op`), the messages of
    each key used (charged to the rule of the write, :func:`state_rule`, or to ORD-001's when only their
    order is wrong), and, for the key-listing clauses, ``get_keys``. Writes that exercise a rule already
    *failed* in this run are left out as in the random phase; a rule merely listed as an expected failure
    is not, so that the expected-failure list never changes what this phase checks. The phase's size is
    recorded on ``chatstore.exhaustive``.
    """
    __tracebackhide__ = True
    needs = scope.Needs.of(chatstore.capabilities)
    listing = chatstore.clause in (LISTED, UNLISTED) and "keys" in chatstore.capabilities
    # A slow store: the budget cuts the random phases first; only past their floors does the scope shrink, visibly.
    reduced = not chatstore.allowance.deep
    depth = 1 if reduced else scope.DEPTH
    sequences = scope.sequences(chatstore.clause, needs, depth)
    deep = [] if reduced else scope.packed(chatstore.clause, needs)
    calls = chatstore.calls
    # The budget's share of this clause bounds the phase; past it (a store far slower than measured), it stops,
    # after every single write from the empty state at least, and says how far it got.
    deadline = time.monotonic() + chatstore.allowance.seconds

    def run_sequence(sut: StoreUnderTest, ops: list[Op]) -> None:
        used = tuple(sorted({o[1] for o in ops}))
        on_fresh_store(sut, used, listing, functools.partial(_run_sequence, ops=ops, used=used, listing=listing))

    def run_packed(sut: StoreUnderTest, batch: list[list[Op]]) -> None:
        placed = [[scope.renamed(op, scope.packed_key(n)) for op in ops] for n, ops in enumerate(batch)]
        on_packed_store(sut, placed, batch, listing)

    with chatstore.failures_only():  # past the deadline, only single writes from the empty state still run
        ran = len(
            chatstore.each(sequences, run_sequence, stop=lambda ops: len(ops) > 1 and time.monotonic() > deadline)
        )
        batches = [deep[i : i + scope.PACK] for i in range(0, len(deep) if ran == len(sequences) else 0, scope.PACK)]
        ran_deep = sum(map(len, chatstore.each(batches, run_packed, stop=lambda _: time.monotonic() > deadline)))
    whole = ran == len(sequences) and ran_deep == len(deep)
    chatstore.exhaustive = scope.Covered(
        ran + ran_deep,
        chatstore.calls - calls,
        scope.PACKED_DEPTH if whole and not reduced else depth,
        reduced or not whole,
        of=len(sequences) + len(deep),
        packed=ran_deep,
    )


def on_fresh_store(chatstore: Any, keys: tuple[str, ...], listing: bool, check: Callable[[StoreDriver], None]) -> None:
    """Run ``check`` on a fresh store that is not read first (a bounded-exhaustive phase builds a thousand, each
    empty by construction). On a failure, a fresh store is looked at: one that does not start empty (at ``keys``, and
    in its key listing with ``listing``) is FRE-001's failure, not the running clause's."""
    __tracebackhide__ = True
    try:
        with chatstore.fresh(check_empty=False) as store:
            check(store)
    except ClauseFailure as exc:
        failure = exc
    else:
        return
    with chatstore.fresh(canary=keys, list_keys=listing):
        pass
    raise failure


def on_packed_store(
    chatstore: Any, placed: list[list[Op]], alone: list[list[Op]], listing: bool, rule: str | None = None
) -> None:
    """Run the sequences ``placed`` packed on one fresh store, each on its own conversation (see
    :func:`pytest_chatstore.engine.scope.packed`). On a failure, the sequence that failed (each of them, when the key
    listing did) runs alone on a fresh store as ``alone`` has it, and its own failure, the shortest, is the clause's;
    a batch whose sequences each pass alone fails as
    :meth:`~pytest_chatstore.engine.driver.StoreDriver.side_by_side` says.
    ``rule``: the rule a conversation read wrong breaks (default: its last write's)."""
    __tracebackhide__ = True
    at, drivers = [-1], []
    try:
        with chatstore.fresh(check_empty=False) as store:
            drivers.append(store)
            _run_packed(store, placed, listing, at, rule)
    except ClauseFailure as exc:
        failure = exc
    else:
        return
    for ops in [alone[at[0]]] if at[0] >= 0 else alone:
        used = (ops[0][1],)
        on_fresh_store(chatstore, used, listing, functools.partial(_run_sequence, ops=ops, used=used, listing=listing))
    if not drivers or type(failure) is not ClauseFailure:
        raise failure  # the store could not be built, or the check was blocked: as it came
    drivers[0].side_by_side(failure.what, len(placed))


def _run_packed(store: StoreDriver, placed: list[list[Op]], listing: bool, at: list[int], rule: str | None) -> None:
    """The writes of ``placed`` interleaved (every sequence's first write, then every second one...), the answers
    compared as they come, then each sequence's conversation read; ``at[0]``: the sequence being run (-1: the key
    listing)."""
    __tracebackhide__ = True
    model = ChatModel()
    rules = [""] * len(placed)
    for step in range(max(map(len, placed))):
        for n, ops in enumerate(placed):
            if step < len(ops):
                at[0] = n
                rules[n] = rule or state_rule(ops[step], model)
                run_op(store, model, ops[step], python_negatives=store.owner == NEGATIVE)
    for n, ops in enumerate(placed):
        at[0] = n
        _state_agrees(store, model, (ops[0][1],), ops[-1], rules[n])
    at[0] = -1
    if listing:
        _listing_agrees(store, model, tuple(ops[0][1] for ops in placed))


def _run_sequence(store: StoreDriver, ops: list[Op], used: tuple[str, ...], listing: bool) -> None:
    """One sequence of the bounded-exhaustive phase, the whole state compared after every write."""
    __tracebackhide__ = True
    model = ChatModel()
    for op in ops:
        rule = state_rule(op, model)
        run_op(store, model, op, python_negatives=store.owner == NEGATIVE)
        if not _state_agrees(store, model, used, op, rule):
            break
        if listing:
            _listing_agrees(store, model, used)


def exhaust_shared(chatstore: Any) -> None:
    """SHR-001's bounded-exhaustive phase: every sequence of :func:`pytest_chatstore.engine.scope.through_two_instances`
    on two instances of one backend, the last write through the second; after every write the other instance
    reads what the writer reads, for each key used."""
    __tracebackhide__ = True
    sequences = scope.through_two_instances(scope.Needs.of(chatstore.capabilities))
    calls = chatstore.calls
    with chatstore.failures_only():
        for ops in sequences:
            model = ChatModel()
            used = tuple(sorted({o[1] for o in ops}))
            with chatstore.fresh(canary=used, list_keys=False) as first, chatstore.fresh(backend_of=first) as second:
                for n, op in enumerate(ops):
                    writer, other = (second, first) if n == len(ops) - 1 else (first, second)
                    run_op(writer, model, op)
                    for key in used:
                        other.expect(
                            f"{key!r} read through the other instance after {op[0]} (expected: what the writer reads)",
                            writer.get_messages(key),
                            other.get_messages(key),
                        )
    chatstore.exhaustive = scope.Covered(
        len(sequences),
        chatstore.calls - calls,
        2,
        what="each write, and each state of up to 2 messages then each write, the last through the other instance",
    )


def _state_agrees(store: StoreDriver, model: ChatModel, keys: tuple[str, ...], op: Op, rule: str) -> bool:
    """Compare the messages at ``keys`` after ``op``; False when a delete left the right messages in the wrong
    order and the running clause is not ORD-001 (the sequence then stops: its indices no longer mean what the
    model says)."""
    __tracebackhide__ = True
    for key in keys:
        expected, got = model.get_messages(key), store.get_messages(key)
        reordered = got != expected and sorted(map(repr, got)) == sorted(map(repr, expected))
        if reordered and op[0] in ("delete", "delete_last") and store.owner not in (ORDER, MODEL):
            # The right messages, in the wrong order, after a delete: ORD-001's rule, checked in its own phase.
            store.log.append("(the sequence stops: only the order of what is left is wrong, ORD-001's business)")
            return False
        store.expect(f"messages at {key!r} after {op[0]}", expected, got, rule=ORDER if reordered else rule)
    return True


def _listing_agrees(store: StoreDriver, model: ChatModel, used: tuple[str, ...]) -> None:
    """Compare ``get_keys`` with the model. A conversation the sequence emptied that stays listed is KEY-002's
    business: KEY-001's phase leaves it aside, KEY-002's charges it to itself (anything else to KEY-001)."""
    __tracebackhide__ = True
    expected = model.get_keys()
    got = answer(store, ("keys",), rule=UNLISTED)
    if got is None:  # not read: listing's answer is known broken by its shape
        return
    emptied = [k for k in got if k in used and k not in expected]
    if store.owner == LISTED:
        store.expect("keys listed (sorted; emptied conversations left to KEY-002)", expected,
                     [k for k in got if k not in emptied], rule=LISTED)  # fmt: skip
        return
    only_emptied = set(expected) <= set(got) and set(got) - set(expected) == set(emptied)
    store.expect("keys listed (sorted)", expected, got, rule=UNLISTED if only_emptied else LISTED)


class Unread:
    """An answer the kit does not read (its rule is known broken by its shape): equal to any expected answer."""

    def __eq__(self, other: object) -> bool:
        return True

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return "<not read>"


def explained(
    store: StoreDriver,
    history: list[Event],
    initial: tuple[str, ...],
    step: Callable[[tuple[str, ...], Any], tuple[tuple[str, ...], Any]],
    *,
    heading: str,
    calls: str,
    rule: str | None,
    who: str = "thread",
) -> None:
    """Fail the check (``store.violation`` under ``rule``) when no sequential order of ``history`` from ``initial``
    (``step``: the model) explains it; the log is ``heading`` and the history's timeline, and the message counts
    the ``calls`` ("concurrent calls", "calls from 4 processes on 'a'")."""
    __tracebackhide__ = True
    verdict = check_linearizable(history, initial, step)
    if not verdict.ok:
        store.log[:] = [heading, *timeline(history, who)]
        store.violation(
            f"no sequential order explains these {len(history)} {calls} (at most {len(verdict.order)} could be placed)",
            rule=rule,
        )


def timeline(history: list[Event], who: str = "thread") -> list[str]:
    """A concurrent history as lines ordered by start time, in microseconds from the first call."""
    events = sorted(history, key=lambda e: e.start)
    t0 = events[0].start
    return [
        f"{who} {e.thread} [{(e.start - t0) / 1000:.0f}-{(e.end - t0) / 1000:.0f} us] {e.op!r} -> {e.result!r}"
        for e in events
    ]
