"""Time: expiry, refresh, deletes, reads, recreation, no TTL, and a state machine with a clock.

Scenarios live in :mod:`pytest_chatstore.harness.ttl`; each runs instantly on the kit's
clock when the factory accepts ``clock``, and otherwise in the session's one
real-time batch.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from pytest_chatstore.engine.attribution import blocked
from pytest_chatstore.engine.failures import ClauseFailure
from pytest_chatstore.harness import ttl
from pytest_chatstore.harness.store import CapabilityMissing, StoreUnderTest
from pytest_chatstore.spec.contract import ChatMessage
from pytest_chatstore.spec.model import ChatModel
from pytest_chatstore.suite import clause, run_op, supported
from pytest_chatstore.suite.test_model import ChatStoreMachine, which


@clause
def test_TTL_001_idle_conversations_expire(chatstore: StoreUnderTest) -> None:
    chatstore.check_ttl_clause()


@clause
def test_TTL_002_nothing_expires_early(chatstore: StoreUnderTest) -> None:
    chatstore.check_ttl_clause()


@clause
def test_TTL_003_writes_restart_the_window(chatstore: StoreUnderTest) -> None:
    chatstore.check_ttl_clause()


@clause
def test_TTL_004_deletes_never_make_a_conversation_immortal(chatstore: StoreUnderTest) -> None:
    chatstore.check_ttl_clause()


@clause
def test_TTL_005_reads_do_not_extend_life(chatstore: StoreUnderTest) -> None:
    chatstore.check_ttl_clause()


@clause
def test_TTL_006_recreated_conversations_start_empty(chatstore: StoreUnderTest) -> None:
    chatstore.check_ttl_clause()


@clause
def test_TTL_007_no_ttl_means_no_expiry(chatstore: StoreUnderTest) -> None:
    chatstore.check_ttl_clause()


class TimedChatStoreMachine(ChatStoreMachine):
    """The model-based machine plus a clock: time passes between operations, in small and
    large jumps and exactly to a conversation's deadline."""

    def make_model(self) -> ChatModel:
        self.clock = ttl.ManualClock()
        model = ChatModel(ttl=ttl.CLOCK_TTL)
        model.now = self.clock.now
        return model

    def store_kwargs(self) -> dict[str, Any]:
        return {"ttl": ttl.CLOCK_TTL, "clock": self.clock}

    def state_agrees(self) -> None:
        """Not an invariant here: a read after every step would purge expired conversations
        before the next write could show how it treats them. See :meth:`compare_state`."""

    @rule()
    def compare_state(self) -> None:
        with expiry_attributed(self.store):
            ChatStoreMachine.state_agrees(self)

    def _do(self, op: tuple[Any, ...], use_async: bool) -> None:
        with expiry_attributed(self.store):
            super()._do(op, use_async)

    def _move_to(self, t: float) -> None:
        self.store.log.append(f"(the clock moves from {self.clock.now:g} to {t:g})")
        self.clock.now = self.model.now = t

    @rule(seconds=st.sampled_from([0.001, 1.0, 4.999, 5.0, 9.999]) | st.floats(0.001, ttl.CLOCK_TTL))
    def advance_a_little(self, seconds: float) -> None:
        self._move_to(self.clock.now + seconds)

    @rule(seconds=st.floats(ttl.CLOCK_TTL, 3 * ttl.CLOCK_TTL))
    def advance_a_lot(self, seconds: float) -> None:
        self._move_to(self.clock.now + seconds)

    @precondition(lambda self: any(k in self.model.conversations for k in self.keys))
    @rule(k=which, latest=st.booleans())
    def advance_to_a_deadline(self, k: int, latest: bool) -> None:
        live = [key for key in self.keys if key in self.model.conversations]
        deadlines = self.model.deadlines(live[k % len(live)])
        target = deadlines[1] if latest else deadlines[0]
        if target > self.clock.now:
            self._move_to(target)


@contextlib.contextmanager
def expiry_attributed(store: Any) -> Iterator[None]:
    """TTL-008 is TTL's catch-all: once a focused TTL clause is known broken, its disagreements with the
    model wait for that clause (blocked, not verified), as MDL-001's wait for ORD-001."""
    try:
        yield
    except ClauseFailure as exc:
        known = sorted(c for c in ttl.SCENARIOS if c in store.known_broken)
        if exc.blocked_by is None and known:
            raise blocked(store.owner, known[0], exc.what, log=store.log, replay=exc.replay) from None
        raise


def _reads_extend_life(chatstore: StoreUnderTest) -> bool:
    clock = ttl.ManualClock()
    with chatstore.fresh(ttl=ttl.CLOCK_TTL, clock=clock) as store:
        store.add_message("probe", ChatMessage("user", "probe"))
        clock.now += ttl.CLOCK_TTL / 2
        store.get_messages("probe")
        clock.now += ttl.CLOCK_TTL / 2
        return bool(store.get_messages("probe"))


@clause
def test_TTL_008_store_agrees_with_model_as_time_passes(chatstore: StoreUnderTest) -> None:
    if _reads_extend_life(chatstore):
        raise CapabilityMissing(
            "TTL-008 compares after every step, which needs reads that do not extend life (see TTL-005)"
        )
    _each_write_after_expiry(chatstore)
    machine = type("TimedChatStoreMachine", (TimedChatStoreMachine,), {"sut": chatstore})
    chatstore.run_machine(machine)


_OLD = [ChatMessage("user", "old 0"), ChatMessage("assistant", "old 1")]
_NEW = ChatMessage("user", "new")
_AFTER_EXPIRY: list[tuple[tuple[Any, ...], str | None]] = [
    (("add", "k", _NEW, None), None),
    (("add", "k", _NEW, 0), "insert"),
    (("add", "k", _NEW, 1), "insert"),
    (("set", "k", [_NEW]), None),
    (("delete", "k", 0), "delete_message"),
    (("delete_last", "k"), "delete_last"),
    (("delete_all", "k"), "delete_all"),
    (("get", "k"), None),
    (("keys",), "keys"),
]
"""Every operation on a conversation at the boundary of its expiry, checked before the machine's search: a path
that treats expired messages as live shows whatever the search draws (the machine met an insert that
revived them 9 runs in 10)."""

BOUNDARIES = (-0.001, 0.0, 0.001, 10.0**9)
"""Seconds past a conversation's deadline at which every operation is checked: just before, at (it is gone:
no write for ``ttl`` seconds), just after, and a far future. Enumerated, on every run."""


def _each_write_after_expiry(chatstore: StoreUnderTest) -> None:
    for op in supported(_AFTER_EXPIRY, chatstore.capabilities):
        for past in BOUNDARIES:
            clock = ttl.ManualClock()
            model = ChatModel(ttl=ttl.CLOCK_TTL)
            model.now = clock.now
            with chatstore.fresh(ttl=ttl.CLOCK_TTL, clock=clock) as store, expiry_attributed(store):
                run_op(store, model, ("set", "k", _OLD))
                later = clock.now + ttl.CLOCK_TTL + past
                store.log.append(f"(the clock moves from {clock.now:g} to {later:g}: {past:+g} s past the deadline)")
                clock.now = model.now = later
                run_op(store, model, op)
                store.expect(f"messages after {op[0]} {past:+g} s past the deadline", model.get_messages("k"),
                             store.get_messages("k"))  # fmt: skip
