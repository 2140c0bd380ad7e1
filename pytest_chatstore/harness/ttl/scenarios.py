"""The TTL scenarios: one per TTL clause, written once against a :class:`Timeline`.

Each TTL clause is one scenario, written once against a :class:`Timeline`:

- **clock mode** (the factory accepts ``clock``): the kit's :class:`ManualClock`
  jumps to each step's time, so a scenario costs nothing and checks expiry
  exactly at the deadline (a conversation is gone once ``now >= deadline``);
- **real-time mode** (a server keeps its own time): the scenario sleeps until
  each step. All real-time scenarios of all targets start together, so the
  whole real-time part costs one scenario's length (about 2 s), not one sleep
  per test.

Real-time tolerance. With ``ttl = 1 s``, a check that a conversation is still
alive is scheduled :data:`REALTIME_MARGIN` (0.3 s) before the earliest possible
deadline, and a check that it is gone 0.3 s after the latest one. A gone-check
counts only if it started at least :data:`REALTIME_LAG` (0.2 s) after the
deadline measured from the end of the write, so a server may expire up to
0.2 s late (Redis expires on access, to the millisecond); an alive-check counts
only if it ended 50 ms before the deadline measured from the start of the
write. The price: real-time mode cannot see a store that expires less than
about 0.3 s early or late. Clock mode has no tolerance at all. If a slow
machine made a check run on the wrong side of its deadline, the check fails as
*inconclusive* and says so, instead of passing or failing on a guess.

A check is only as good as the writes it depends on. A write whose outcome
depends on the conversation being alive (an append or insert that expects the
earlier messages there) counts only if it ended before the earlier write's
deadline; one that depends on the conversation being gone (a write after
expiry that expects a new conversation) only if it started after the latest
deadline plus the lag. Otherwise the scenario is inconclusive, whatever the
store did. An inconclusive scenario is run again with a longer ``ttl`` (and
margins scaled with it), see :mod:`pytest_chatstore.harness.ttl.realtime`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pytest_chatstore.engine.driver import StoreDriver
from pytest_chatstore.engine.failures import Inconclusive
from pytest_chatstore.harness.ttl.clock import CLOCK_TTL, ManualClock
from pytest_chatstore.spec.clauses import CLAUSES
from pytest_chatstore.spec.contract import ChatMessage

REALTIME_TTL = 1
REALTIME_MARGIN = 0.3
"""Real-time checks are scheduled this long before the earliest / after the latest deadline."""
REALTIME_LAG = 0.2
"""How late a server may expire a conversation (and how late a call may run) without a false failure."""
REALTIME_EARLY_SLOP = 0.05
"""Clock granularity allowed on the early side (Redis keeps expiry in milliseconds)."""


@dataclass
class Timeline:
    """When things happen in a scenario, in seconds from its start."""

    ttl: float
    margin: float  # 0 in clock mode
    now: Callable[[], float]
    wait_until: Callable[[float], None]
    t0: float = 0.0
    lag: float = REALTIME_LAG
    """How late expiry may be seen (real time only); scaled with ``ttl`` on a retry."""

    def at(self, offset: float) -> float:
        """Wait until ``offset`` seconds after the start; return that instant."""
        self.wait_until(self.t0 + offset)
        return self.t0 + offset

    def timed(self, call: Callable[[], Any]) -> tuple[float, float, Any]:
        start = self.now()
        result = call()
        return start, self.now(), result


A, B, C = ChatMessage("user", "a"), ChatMessage("assistant", "b"), ChatMessage("user", "c")


class Scenario:
    """One TTL clause's scenario against one store; checks fail the driver's clause."""

    def __init__(self, store: StoreDriver, timeline: Timeline, prefix: str) -> None:
        self.store = store
        self.tl = timeline
        self.prefix = prefix
        self.written_at: dict[str, tuple[float, float]] = {}  # key -> (start, end) of its last write

    def key(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def write(self, name: str, call: Callable[[str], Any], *, needs_alive: bool = False) -> None:
        """Write to ``name``; with ``needs_alive`` the write's outcome depends on the earlier write being alive."""
        before = self.written_at.get(name)
        start, end, _ = self.tl.timed(lambda: call(self.key(name)))
        self.written_at[name] = (start, end)
        if needs_alive and before is not None and self.tl.margin:
            deadline = before[0] + self.tl.ttl - REALTIME_EARLY_SLOP
            if end > deadline:
                raise Inconclusive(
                    f"the write to {name!r} ended {end - before[0]:.3f} s after the write it builds on, past the "
                    f"{self.tl.ttl:g} s deadline: the earlier messages may have expired legitimately; the machine is "
                    "overloaded"
                )

    def require_gone(self, name: str) -> None:
        """The next write to ``name`` expects a new conversation: valid only after the latest deadline plus lag."""
        end_of_window = self.written_at[name][1]
        start = self.tl.now()
        if self.tl.margin and start < end_of_window + self.tl.ttl + self.tl.lag:
            raise Inconclusive(
                f"the write to {name!r} after expiry started {start - end_of_window:.3f} s after its last write, "
                f"too close to the {self.tl.ttl:g} s deadline to show anything; the machine is overloaded"
            )

    def expect_alive(self, name: str, expected: list[ChatMessage], *, since: float | None = None) -> None:
        """``name`` holds ``expected``; valid only if the read ends before the earliest deadline."""
        __tracebackhide__ = True
        start_of_window = self.written_at[name][0] if since is None else since
        _, end, got = self.tl.timed(lambda: self.store.get_messages(self.key(name)))
        if self.tl.margin and end > start_of_window + self.tl.ttl - REALTIME_EARLY_SLOP:
            raise Inconclusive(
                f"the read of {name!r} ended {end - start_of_window:.3f} s after its write, too close to the "
                f"{self.tl.ttl:g} s deadline to show anything; the machine is overloaded"
            )
        self.store.expect(f"{name!r} {end - start_of_window:.3f} s after its last write", expected, got)

    def expect_gone(self, name: str, *, since: float | None = None) -> None:
        """``name`` is gone (reads, listing, deletes); valid only if checked after the latest deadline."""
        __tracebackhide__ = True
        end_of_window = self.written_at[name][1] if since is None else since
        start = self.tl.now()
        if self.tl.margin and start < end_of_window + self.tl.ttl + self.tl.lag:
            raise Inconclusive(
                f"the check of {name!r} started {start - end_of_window:.3f} s after its write, too close to the "
                f"{self.tl.ttl:g} s deadline to show anything; the machine is overloaded"
            )
        key = self.key(name)
        age = f"{start - end_of_window:.3f} s after the deadline window opened"
        if "keys" in self.store.capabilities:  # listing first: a read may purge what listing would show
            listed = [k for k in self.store.get_keys() if k == key]
            self.store.expect(f"get_keys() lists {name!r} {age}", [], listed)
        self.store.expect(f"get_messages({name!r}) {age}", [], self.store.get_messages(key))


def expiry(s: Scenario) -> None:
    """TTL-001: no write for ttl seconds, and every way of looking says gone."""
    s.write("set", lambda k: s.store.set_messages(k, [A, B]))
    s.write("added", lambda k: s.store.add_message(k, A))
    s.tl.at(s.tl.ttl + s.tl.margin)
    s.expect_gone("set")
    if "delete_last" in s.store.capabilities:
        s.store.expect(
            "delete_last_message on an expired conversation", None, s.store.delete_last_message(s.key("set"))
        )
    if "delete_message" in s.store.capabilities:
        s.store.expect(
            "delete_message(k, 0) on an expired conversation", None, s.store.delete_message(s.key("added"), 0)
        )
    if "delete_all" in s.store.capabilities:
        got = s.store.delete_messages(s.key("added"))
        if got:
            s.store.violation(f"delete_messages on an expired conversation returned {got!r}")


def no_premature_expiry(s: Scenario) -> None:
    """TTL-002: still there just before the deadline."""
    s.write("k", lambda k: s.store.set_messages(k, [A, B]))
    s.tl.at(s.tl.ttl - max(s.tl.margin, 1e-3))
    s.expect_alive("k", [A, B])
    if "keys" in s.store.capabilities:
        s.store.expect(
            "get_keys() just before the deadline", [s.key("k")], [k for k in s.store.get_keys() if k == s.key("k")]
        )


def writes_restart_the_window(s: Scenario) -> None:
    """TTL-003: append, insert and set each give a full ttl from their moment."""
    half = s.tl.ttl / 2
    s.write("append", lambda k: s.store.add_message(k, A))
    s.write("set", lambda k: s.store.set_messages(k, [A]))
    insert = "insert" in s.store.capabilities
    if insert:
        s.write("insert", lambda k: s.store.add_message(k, A))
    s.tl.at(half)
    s.write("append", lambda k: s.store.add_message(k, B), needs_alive=True)
    s.write("set", lambda k: s.store.set_messages(k, [B]))
    if insert:
        s.write("insert", lambda k: s.store.add_message(k, C, 0), needs_alive=True)
    s.tl.at(half + s.tl.ttl - max(s.tl.margin, 1e-3))
    s.expect_alive("append", [A, B])
    s.expect_alive("set", [B])
    if insert:
        s.expect_alive("insert", [C, A])


def deletes_do_not_immortalise(s: Scenario) -> None:
    """TTL-004: after a delete that leaves messages, gone by ttl after the delete."""
    half = s.tl.ttl / 2
    s.write("last", lambda k: s.store.set_messages(k, [A, B, C]))
    s.write("index", lambda k: s.store.set_messages(k, [A, B, C]))
    s.tl.at(half)
    # Raw calls: what the deletes answer is DLL-001's and DEL-001's business, not expiry's.
    if "delete_last" in s.store.capabilities:
        s.write("last", lambda k: s.store.call("delete_last", k))
    if "delete_message" in s.store.capabilities:
        s.write("index", lambda k: s.store.call("delete", k, 0))
    s.tl.at(half + s.tl.ttl + s.tl.margin)
    s.expect_gone("last")
    s.expect_gone("index")


def reads_do_not_extend(s: Scenario) -> None:
    """TTL-005: reads in the middle of the window change nothing."""
    s.write("k", lambda k: s.store.add_message(k, A))
    s.tl.at(s.tl.ttl / 2)
    s.store.get_messages(s.key("k"))
    if "keys" in s.store.capabilities:
        s.store.get_keys()
    s.tl.at(s.tl.ttl + s.tl.margin)
    s.expect_gone("k")


def recreated_conversations_are_new(s: Scenario) -> None:
    """TTL-006: after expiry, a write starts from nothing."""
    s.write("append", lambda k: s.store.set_messages(k, [A, B]))
    s.write("insert", lambda k: s.store.set_messages(k, [A, B]))
    s.tl.at(s.tl.ttl + s.tl.margin)
    s.require_gone("append")
    s.store.add_message(s.key("append"), C)
    s.store.expect("an expired conversation after one append", [C], s.store.get_messages(s.key("append")))
    if "insert" in s.store.capabilities:
        s.require_gone("insert")
        s.store.add_message(s.key("insert"), C, 1)
        s.store.expect("an expired conversation after one insert", [C], s.store.get_messages(s.key("insert")))


def none_never_expires(s: Scenario) -> None:
    """TTL-007 (the store is built with ttl=None): nothing goes, however long."""
    s.write("k", lambda k: s.store.add_message(k, A))
    s.tl.at(s.tl.ttl * 1.5 + s.tl.margin if s.tl.margin else 10**6)
    s.store.expect("a conversation in a store built with ttl=None", [A], s.store.get_messages(s.key("k")))


_BY_NAME: dict[str, Callable[[Scenario], None]] = {
    f.__name__: f
    for f in (
        expiry,
        no_premature_expiry,
        writes_restart_the_window,
        deletes_do_not_immortalise,
        reads_do_not_extend,
        recreated_conversations_are_new,
        none_never_expires,
    )
}

SCENARIOS: dict[str, Callable[[Scenario], None]] = {
    c.id: _BY_NAME[c.ttl_scenario] for c in CLAUSES.values() if c.ttl_scenario
}
"""Clause ID -> its scenario, as its record names it (TTL-008 is the state machine, clock mode only)."""


def ttl_for(clause_id: str, ttl: float) -> float | None:
    """The ``ttl`` a clause's store is built with: ``None`` for the scenario that needs a store without one."""
    return None if SCENARIOS.get(clause_id) is none_never_expires else ttl


def run_in_clock_mode(clause_id: str, store: StoreDriver, clock: ManualClock) -> None:
    """Run one scenario instantly on ``store``, built with ``ttl=ttl_for(clause_id, CLOCK_TTL)`` and ``clock``."""

    def jump(t: float) -> None:
        clock.now = max(clock.now, t)

    timeline = Timeline(CLOCK_TTL, 0.0, clock, jump, t0=clock.now)
    SCENARIOS[clause_id](Scenario(store, timeline, "ttl "))
