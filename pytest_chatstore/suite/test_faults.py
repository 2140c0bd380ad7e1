"""Faults: a lost request, a lost reply, a server out of reach; nothing duplicated, nothing silently lost.

The store under test reaches its server through the kit's nemesis
(:mod:`pytest_chatstore.servers.proxy`): a factory taking ``redis_url`` is handed
the proxy's URL, one taking ``proxied`` the proxy's mapping of addresses. Each
write of the interface (append, insert, delete at an index, delete last,
replace, delete all; sync and async twins) is first run once and twice without
a fault, to learn how many requests it makes and what the conversation looks
like after it applied once and twice, as this store does it (so that these
clauses judge fault handling only, not order or fidelity, which are other
clauses' business). Then every request of the write, one at a time, is lost,
or has its reply lost, and what the caller saw (a normal return or an
exception) is set against the conversation read afterwards: applied once, not
applied, applied twice (whole, or a part of it sent again), or neither (a mix).

The conversation is read through a second store on the direct connection when
the store shares its backend (``shared``), else through the same store once the
fault has cleared. Every check is a fixed enumeration: the same cases on every
run, whatever the seed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from pytest_chatstore.engine.driver import StoreDriver
from pytest_chatstore.engine.failures import described
from pytest_chatstore.harness.store import StoreUnderTest
from pytest_chatstore.servers.proxy import Fault, Nemesis
from pytest_chatstore.spec.contract import ChatMessage
from pytest_chatstore.suite import Op, clause, twins

BEFORE = [ChatMessage("user", "first"), ChatMessage("assistant", "second"), ChatMessage("user", "third")]
NEW = ChatMessage("user", "written under a fault")
OTHER = ChatMessage("assistant", "written under a fault too")
ATTEMPTS = 3
"""Calls a store may take to work again once a fault has cleared (the first may learn its connection died)."""
STALL = 2.0
"""Seconds FLT-001 holds one reply back before dropping it: a client that times out sooner and retries (redis-py's
``retry_on_timeout``) sends the write again."""


@dataclass(frozen=True)
class Write:
    name: str
    op: Op
    """In the kit's terms; its key is replaced by each case's own."""
    needs: str | None = None


WRITES = (
    Write("append", ("add", "", NEW, None)),
    Write("insert at 1", ("add", "", NEW, 1), "insert"),
    Write("delete at 0", ("delete", "", 0), "delete_message"),
    Write("delete last", ("delete_last", ""), "delete_last"),
    Write("replace", ("set", "", [NEW, OTHER])),
    Write("delete all", ("delete_all", ""), "delete_all"),
)


@dataclass
class Outcome:
    """One write under one fault, as the caller saw it and as the conversation shows it."""

    write: str
    use_async: bool
    fault: Fault
    step: int
    steps: int
    raised: str | None
    """``None``: the call returned normally; else the exception, as ``Type: message``."""
    effect: str
    """``applied once``, ``not applied``, ``applied twice``, ``part applied twice`` or ``neither``."""
    state: list[ChatMessage]
    met: bool
    composed: bool = False
    """The write is the kit's adapter's composition of several backend calls (a LangChain history's replace)."""

    @property
    def case(self) -> dict[str, str]:
        """The report's record (``evidence.faults``)."""
        lost = "request" if self.fault == "request" else "reply"
        held = f" after {STALL:g} s" if self.fault == "stall" else ""
        fault = f"the {lost} of request {self.step} of {self.steps} lost{held}" + ("" if self.met else " (not met)")
        composed = ", composed by the kit's adapter" if self.composed else ""
        return record(f"{self.write} ({_twin(self.use_async)}{composed})", fault, self.raised, self.effect)

    def __str__(self) -> str:
        case = self.case
        return f"{case['operation']}, {case['fault']}: {case['caller']}; {case['effect']}"


def record(operation: str, fault: str, raised: str | None, effect: str) -> dict[str, str]:
    return {"operation": operation, "fault": fault, "caller": "returned" if raised is None else f"raised {raised}",
            "effect": effect}  # fmt: skip


def _twin(use_async: bool) -> str:
    return "async" if use_async else "sync"


@dataclass
class Faulted:
    """A store built through the nemesis, and the store that reads the truth."""

    store: StoreDriver
    judge: StoreDriver
    nemesis: Nemesis
    cases: int = 0
    calls: int = 0
    """The calls the last :meth:`working` took."""

    def key(self) -> str:
        self.cases += 1
        return f"faulted {self.cases}"

    def working(self, key: str, *, use_async: bool = False, through: StoreDriver | None = None) -> list[ChatMessage]:
        """Read ``key`` through the store under faults (or ``through`` another), allowing it :data:`ATTEMPTS` calls
        to work again."""
        __tracebackhide__ = True
        store = through or self.store
        last: Exception | None = None
        for self.calls in range(1, ATTEMPTS + 1):
            try:
                got: list[ChatMessage] = store.perform("get", key, use_async=use_async, raw=True)
                return got
            except Exception as exc:  # noqa: BLE001 - a store's own error class, whatever it is
                last = exc
        said = described(last) if last is not None else "?"
        which = "the same store" if store is self.store else "a second store on the direct connection"
        self.store.violation(
            f"after the fault cleared, {ATTEMPTS} reads of {key!r} through {which} all raised (the last: "
            f"{said}): the store does not work again without being rebuilt",
            rule="FLT-005",
        )

    def truth(self, key: str) -> list[ChatMessage]:
        """The conversation at ``key`` as the server holds it (read with no fault armed)."""
        __tracebackhide__ = True
        return self.working(key, through=self.judge)

    def fill(self, key: str) -> None:
        __tracebackhide__ = True
        self.judge.set_messages(key, BEFORE)

    def apply(self, op: Op, key: str, use_async: bool) -> str | None:
        """Run ``op`` on ``key`` through the store, raw: ``None`` if it returned, else what it raised."""
        name, _, *args = op
        try:
            self.store.perform(name, key, *args, use_async=use_async, read=False, raw=True)
        except Exception as exc:  # noqa: BLE001 - a store's own error class, whatever it is
            return described(exc)
        return None


@contextlib.contextmanager
def faulted(chatstore: StoreUnderTest) -> Iterator[Faulted]:
    """The store under test through a fresh nemesis, and its judge."""
    __tracebackhide__ = True
    chatstore.require_clause(chatstore.clause)
    with (
        Nemesis(limit=chatstore.timeout) as nemesis,
        chatstore.fresh() as direct,
        chatstore.fresh(backend_of=direct, nemesis=nemesis) as store,
    ):
        store.unreplayable = "the example injects network faults, which a reproduction file cannot replay"
        judge = direct if "shared" in chatstore.capabilities else store
        try:
            yield Faulted(store, judge, nemesis)
        finally:
            nemesis.disarm()
            nemesis.up()


def writes(chatstore: StoreUnderTest) -> list[tuple[Write, bool]]:
    """Every write the store has, with each twin it has."""
    caps = chatstore.capabilities
    return [
        (w, use_async)
        for w in WRITES
        if w.needs is None or w.needs in caps
        for use_async in twins(caps)
        if not (use_async and w.needs == "insert" and "async_insert" not in caps)
    ]


def outcomes(chatstore: StoreUnderTest, f: Faulted, faults: tuple[Fault, ...]) -> list[Outcome]:
    """Each write, under each fault at each of its requests: what the caller saw, and what it did."""
    __tracebackhide__ = True
    seen: list[Outcome] = []
    for write, use_async in writes(chatstore):
        # Once and twice without a fault: how many requests it makes, and what it does, as this store does it.
        once_key, twice_key = f.key(), f.key()
        f.fill(once_key)
        f.working(once_key, use_async=use_async)
        before = f.nemesis.requests
        if f.apply(write.op, once_key, use_async) is not None:
            continue  # raising with no fault is no fault's doing: the write's own clauses say it
        steps = f.nemesis.requests - before
        once = f.truth(once_key)
        f.fill(twice_key)
        f.apply(write.op, twice_key, use_async)
        f.apply(write.op, twice_key, use_async)
        twice = f.truth(twice_key)
        composed = write.op[0] in getattr(f.store.store, "composed", frozenset())
        for fault in faults:
            if fault == "stall" and (write is not WRITES[0] or use_async):
                continue  # one stalled reply (the sync append's): each costs STALL seconds of waiting
            for step in range(1, steps + 1):
                key = f.key()
                f.fill(key)
                f.working(key, use_async=use_async)  # it works before the fault
                f.nemesis.arm(fault, step, stall=STALL if fault == "stall" else 0.0)
                raised = f.apply(write.op, key, use_async)
                met = f.nemesis.disarm()
                state = f.truth(key)
                chatstore.examples += 1
                effect = _effect(state, once, twice)
                outcome = Outcome(write.name, use_async, fault, step, steps, raised, effect, state, met, composed)
                f.store.log.append(f"(what happened: {outcome})")
                chatstore.faults.append(outcome.case)
                seen.append(outcome)
    return seen


DUPLICATED = ("applied twice", "part applied twice")
"""Effects in which something the write stored is there twice: FLT-001's."""


def _effect(state: list[ChatMessage], once: list[ChatMessage], twice: list[ChatMessage]) -> str:
    """What the conversation shows of a faulted write, against the same write applied once and twice unfaulted.

    ``part applied twice``: the state applied once, with some of its messages repeated, which is what a retried
    step of a write of several requests leaves (one of a batch's appends sent again); no other clause than
    at-most-once is charged with it."""
    if state == once:
        return "applied once"
    if state == BEFORE:
        return "not applied"
    if state == twice:
        return "applied twice"
    return "part applied twice" if _repeats_within(state, once) else "neither"


def _repeats_within(state: list[ChatMessage], once: list[ChatMessage]) -> bool:
    """Whether ``state`` is ``once`` with one or more of its messages repeated next to themselves, and nothing
    else added, dropped or moved."""
    if len(state) <= len(once):
        return False
    i = 0
    for message in state:
        if i < len(once) and message == once[i]:
            i += 1
        elif i == 0 or message != once[i - 1]:
            return False
    return i == len(once)


def judged(chatstore: StoreUnderTest, faults: tuple[Fault, ...], wrong: Callable[[Outcome], bool], rule: str) -> None:
    """Fail with every outcome ``wrong`` picks, after running them all: the failure lists what the store did."""
    __tracebackhide__ = True
    with faulted(chatstore) as f:
        seen = outcomes(chatstore, f, faults)
        bad = [o for o in seen if wrong(o)]
        if bad:
            table = "\n".join(f"  - {o}: {_short(o.state)}" for o in bad)
            f.store.violation(f"{len(bad)} of {len(seen)} faulted writes {rule}:\n{table}")


def _short(messages: list[ChatMessage]) -> str:
    return "[" + ", ".join(repr(m.content) for m in messages) + "]"


# The recovery clause first: a store that stays broken after a fault blocks the others' checks, not fails them.


@clause
def test_FLT_005_the_same_store_works_again_after_a_fault(chatstore: StoreUnderTest) -> None:
    with faulted(chatstore) as f:
        restart = getattr(f.store.server, "restart", None) if "redis_url" in chatstore.target.accepts else None
        for use_async in twins(chatstore.capabilities):
            twin = _twin(use_async)
            for fault in ("out of reach", "reply", *(("restart",) if restart is not None else ())):
                key = f.key()
                f.fill(key)
                f.working(key, use_async=use_async)
                if fault == "restart" and restart is not None:
                    restart()  # the kit's own server: stopped with its data saved, started again on the same port
                    said = "the server restarted (its data kept)"
                elif fault == "reply":
                    f.nemesis.arm("reply")
                    f.apply(("add", key, NEW, None), key, use_async)
                    f.nemesis.disarm()
                    said = "a lost reply"
                else:
                    f.nemesis.down()  # a read and a write meet it: the store learns its connections are gone
                    f.apply(("get", key), key, use_async)
                    f.apply(("add", key, NEW, None), key, use_async)
                    f.nemesis.up()
                    said = "the server out of reach for a while"
                got = f.working(key, use_async=use_async)
                chatstore.faults.append(record(f"the store ({twin})", said, None, f"worked again at call {f.calls}"))
                truth = f.truth(key)
                if truth[: len(BEFORE)] != BEFORE:
                    f.store.violation(f"after {said} ({twin}), what was written before it is gone: {_short(truth)}")
                if got != truth:
                    f.store.violation(
                        f"after {said} ({twin}), the same store reads {_short(got)}, the server holds {_short(truth)}"
                    )
                raised = f.apply(("add", key, OTHER, None), key, use_async)
                chatstore.examples += 1
                if raised is not None:
                    f.store.violation(f"after {said} ({twin}), an append through the same store raised {raised}")
                if OTHER not in f.truth(key):
                    f.store.violation(f"after {said} ({twin}), an append through the same store returned, but is lost")


@clause
def test_FLT_001_a_write_whose_reply_is_lost_is_applied_at_most_once(chatstore: StoreUnderTest) -> None:
    judged(chatstore, ("reply", "stall"), lambda o: o.effect in DUPLICATED, "were applied twice, whole or in part")


@clause
def test_FLT_002_a_write_that_returns_normally_was_applied(chatstore: StoreUnderTest) -> None:
    judged(
        chatstore,
        ("request", "reply"),
        lambda o: o.raised is None and o.effect not in ("applied once", *DUPLICATED),
        "returned normally but were not applied",
    )


@clause
def test_FLT_003_an_interrupted_write_leaves_the_old_state_or_the_new(chatstore: StoreUnderTest) -> None:
    # A write the kit's adapter composes (a LangChain history's replace: clear, then append) is not the backend's
    # to make atomic: its cases are run and reported, not judged.
    judged(
        chatstore,
        ("request", "reply"),
        lambda o: o.effect == "neither" and not o.composed,
        "left neither the old state nor the new",
    )


@clause
def test_FLT_004_a_read_that_cannot_reach_the_server_raises(chatstore: StoreUnderTest) -> None:
    reads: list[Op] = [("get", "")] + ([("keys",)] if "keys" in chatstore.capabilities else [])
    with faulted(chatstore) as f:
        bad: list[str] = []
        for read, use_async in [(r, t) for r in reads for t in twins(chatstore.capabilities)]:
            key = f.key()
            f.fill(key)
            op = read if read[0] == "keys" else (read[0], key)
            f.working(key, use_async=use_async)
            before = f.nemesis.requests
            truth = _read(f.store, op, use_async)  # what it reads with no fault: the answer to keep
            steps = f.nemesis.requests - before
            cases: list[tuple[str, Fault | None, int]] = [
                (f"the {fault} of request {step} of {steps} lost", fault, step)
                for fault in ("request", "reply")
                for step in range(1, steps + 1)
            ] + [("the server out of reach", None, 0)]
            for said, fault, step in cases:
                f.working(key, use_async=use_async)
                if fault is None:
                    f.nemesis.down()
                else:
                    f.nemesis.arm(fault, step)
                raised = None
                try:
                    got = _read(f.store, op, use_async, raw=True)
                except Exception as exc:  # noqa: BLE001 - raising is what the clause asks
                    raised, got = described(exc), None
                finally:
                    f.nemesis.disarm()
                    f.nemesis.up()
                chatstore.examples += 1
                wrong = raised is None and got != truth
                effect = (
                    "answered nothing" if raised else "answered wrong" if wrong else "answered what the server holds"
                )
                chatstore.faults.append(record(f"{op[0]} ({_twin(use_async)})", said, raised, effect))
                if wrong:
                    bad.append(f"{op[0]} ({_twin(use_async)}), {said}: returned {got!r}, not {truth!r}, raised nothing")
        if bad:
            f.store.violation(f"{len(bad)} faulted reads answered wrong instead of raising:\n  - " + "\n  - ".join(bad))


def _read(store: StoreDriver, op: Op, use_async: bool, *, raw: bool = False) -> Any:
    got = store.perform(*op, use_async=use_async, raw=raw)
    return sorted(got) if op[0] == "keys" and isinstance(got, list) else got
