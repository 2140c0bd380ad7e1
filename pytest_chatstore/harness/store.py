"""The handle the suite's tests receive: a target plus everything needed to test it.

``StoreUnderTest`` builds a fresh store per example (checking that it starts
empty, clause FRE-001), knows the target's capabilities, skips a test whose
capability is missing with a reason naming it, and hands out the Hypothesis
settings of the selected profile.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import math
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, NoReturn, TypeVar

import hypothesis
import pytest
from hypothesis import reproduce_failure, seed

from pytest_chatstore.adapters import select_adapter
from pytest_chatstore.engine import budget, capabilities, scope
from pytest_chatstore.engine.driver import StoreDriver
from pytest_chatstore.engine.failures import ClauseFailure, FactoryFailed, Hung, described, fail, hung
from pytest_chatstore.engine.runner import POLL, BudgetSpent, OperationTimeout, Overlapping, Runner, abandoned_here
from pytest_chatstore.engine.strategies import TRICKY_KEYS
from pytest_chatstore.engine.targets import Target, build_store
from pytest_chatstore.harness import ttl
from pytest_chatstore.servers.proxy import Nemesis
from pytest_chatstore.spec.clauses import CLAUSES, FRESH, MODEL
from pytest_chatstore.spec.contract import ChatMessage
from pytest_chatstore.spec.profiles import Kind, hypothesis_settings


class CapabilityMissing(pytest.skip.Exception):  # type: ignore[name-defined,misc]
    """The kit's own skip: a clause the target lacks a capability for. Any other skip of a suite test is refused."""


T = TypeVar("T")
V = TypeVar("V")

SHARDS = 8
"""Into how many independent parts a split check is cut on a store that may be called from several threads: the
bounded-exhaustive phases and fixed families (:meth:`StoreUnderTest.each`) and the state machines of MDL-001 and
TTL-008 (:meth:`StoreUnderTest.run_machine`), most of a run's calls."""


class _MachineFactory:
    """What Hypothesis runs as a state machine test: builds ``machine``. Not the class itself, whose digest Hypothesis
    takes from its source, which for a class CPython 3.11 finds by parsing the module: that parse fails
    ("AST constructor recursion depth mismatch") when another thread changes the recursion limit meanwhile, as
    Hypothesis does around each example of overlapped runs. Its digest is its :attr:`__name__` (the clause's)."""

    def __init__(self, machine: type[Any], name: str) -> None:
        self.machine, self.__name__ = machine, name

    def __call__(self) -> Any:
        return self.machine()


class _Simplest:
    """Hypothesis starts every search with its simplest example: in a property's search split into parts, each part
    after the first rejects it (an invalid example, not counted), so that the parts' examples add up to different
    ones. (A state machine cannot reject its first run before it draws anything: its parts run one more instead.)"""

    def __init__(self, part: int) -> None:
        self.pending = part > 0

    def skip(self) -> None:
        """Reject this part's first example, the simplest, unless this is the first part."""
        if self.pending:
            self.pending = False
            hypothesis.reject()


class StoreUnderTest:
    """One target, as the suite's tests see it."""

    def __init__(
        self,
        target: Target,
        *,
        timeout: float,
        profile: str,
        clause: str = MODEL,
        batches: ttl.RealTimeBatches | None = None,
        redis: Callable[[], Any] | None = None,
        declared: Mapping[str, tuple[bool, str]] | None = None,
        settled: bool = False,
        reproduce: str | None = None,
        known_broken: frozenset[str] = frozenset(),
        listed: frozenset[str] = frozenset(),
        unreadable: frozenset[str] = frozenset(),
        raising: dict[tuple[str, str], str] | None = None,
        allowance: budget.Allowance = budget.FULL,
        scale: float = 1.0,
    ) -> None:
        self.target = target
        self.clause = clause
        self.profile = profile
        self.timeout = timeout
        self.declared = dict(declared or {})
        """Declared capabilities: name -> (present, where it was declared)."""
        self.settled = settled
        self.known_broken = known_broken - {clause}
        """Other clauses known broken in this run: checks leave their rules out (see :mod:`.attribution`)."""
        self.listed = listed - {clause}
        """Those of them known only from the expected-failures list (not failed in this run)."""
        self.overlaps = 0
        """Calls of a concurrency check that overlapped a call of another thread (its evidence of a race)."""
        self.faults: list[dict[str, str]] = []
        """What the store did under each fault of a faults clause: ``operation``, ``fault``, ``caller`` (what the
        caller saw), ``effect`` (what the server then held, or what the store did next)."""
        self.exhaustive: scope.Covered | None = None
        """What this clause's bounded-exhaustive phase covered (:func:`pytest_chatstore.suite.exhaust`)."""
        self.unreadable = unreadable - {clause}
        """Those of them broken only by an unreadable answer: checks still run the operation, answer unread."""
        self.raising = {where: c for where, c in (raising or {}).items() if c != clause}
        """(store method, exception type) -> the clause that failed because the store raised it there."""
        self.reproduce = reproduce
        """A Hypothesis blob to replay instead of searching (``--chatstore-reproduce``)."""
        self.retries = 0
        """How many times this clause's real-time scenario ran again with a longer ttl (a busy machine)."""
        self.probed: set[str] = set()
        """Capabilities declared absent that this test exercised anyway, to see whether they work."""
        self.detected: frozenset[str] = frozenset()
        self._own_messages: Any = None
        self.effective: frozenset[str] = frozenset()
        """Detected capabilities with the declarations applied (before any probe)."""
        self._depth = 0
        self.allowance = allowance
        """How much of its full work this clause does (see :mod:`.budget`)."""
        self.scale = scale
        """``--chatstore-scale``: the scale clauses' sizes are the spec's times this."""
        self.examples = 0
        """Hypothesis examples run (a property's calls, a state machine's runs)."""
        self.cost = 0.0
        """Seconds per call the budget was planned with (0: not planned)."""
        self.real_time = False
        """The clause waited for the real-time TTL batch: its time is not its calls'."""
        self.built: Any = None
        """The last store the factory built: the report names the package of its class."""
        self.runner = Runner(timeout)
        self.concurrency = 1
        """How many shards of a split check may run at once (:meth:`overlap`): from the store's measured latency."""
        self.split = (1, 1)
        """How this clause's check ran: (shards, how many at once); (1, 1) when it was not split."""
        self.redis = redis
        """Gives the kit-managed Redis server (provisioned on first call), for targets taking ``redis_url``."""
        self.batches = batches or real_time_batches([], timeout=timeout, profile=profile, redis=redis)
        self._capabilities: frozenset[str] | None = None

    @property
    def capabilities(self) -> frozenset[str]:
        """What the suite may use: detected once from a probe store, then declarations applied."""
        if self._capabilities is None:
            with self.fresh(check_empty=False) as driver:
                self.detected = driver.capabilities
                self._own_messages = getattr(driver.adapter, "messages", None)
            self._capabilities = self.effective = capabilities.effective(self.detected, self.declared)
        return self._capabilities

    def assume_detected(self, detected: frozenset[str]) -> None:
        """Take ``detected`` as what a probe store would show (an earlier clause's), building no store."""
        self.detected = detected
        self._capabilities = self.effective = capabilities.effective(detected, self.declared)

    @property
    def store_class(self) -> str | None:
        """``module:qualname`` of the class of the stores the factory builds (for a wrapped LangChain history,
        of the history), once one was built."""
        if self.built is None:
            return None
        named = getattr(self.built, "chatstore_backend", None)  # a hand-written adapter names what it wraps
        cls = (
            (named if isinstance(named, type) else None)
            or getattr(self.built, "backend_class", lambda: None)()
            or type(self.built)
        )
        return f"{cls.__module__}:{cls.__qualname__}"

    @property
    def own_messages(self) -> Any:
        """A strategy of the store's own ecosystem's messages (LangChain's types), or None."""
        _ = self.capabilities  # the probe store tells the adapter
        return self._own_messages

    def require(self, *needed: str) -> None:
        """Skip the calling test, naming each missing capability, unless the target has them all.

        A capability declared absent that the target shows anyway is exercised
        instead (a probe): if the clause holds, the report names an undeclared capability.
        """
        have = self.capabilities
        decision = capabilities.decide(needed, have, self.detected, self.declared)
        if not decision.runs:
            raise CapabilityMissing(capabilities.describe_missing(self.target.name, decision.missing, self.declared))
        if decision.probes:
            self.probed.update(decision.probes)
            self._capabilities = have | set(decision.probes)

    def require_clause(self, clause_id: str) -> None:
        """Skip unless the target has every capability ``clause_id`` needs."""
        self.require(*CLAUSES[clause_id].requires)

    def plan(self, allowance: budget.Allowance, cost: float, concurrency: int = 1) -> None:
        """This clause's share of the time budget, the cost per call that sets the limits of bursts, and how many
        shards of a split check may run at once (:meth:`overlap`)."""
        self.allowance, self.cost, self.concurrency = allowance, cost, concurrency
        self.runner.cost = cost

    @property
    def share(self) -> float:
        """The share of its full work this clause does (below 1.0: reduced by the budget or the scale)."""
        scaled = min(1.0, self.scale) if CLAUSES[self.clause].group == "scale" else 1.0
        return min(scaled, self.allowance.share(budget.work(self.clause), self.profile))

    @property
    def deterministic(self) -> bool:
        """Whether this clause's check is the same on every run: its bounded-exhaustive phase ran in full, or it is
        a fixed scenario never reduced. A listed clause that passes such a check is a strict unexpected pass."""
        if self.exhaustive is not None:
            return not self.exhaustive.reduced
        return budget.work(self.clause).unit == "fixed" and self.share >= 1.0

    def scaled(self, size: int) -> int:
        """A scale clause's ``size`` times ``--chatstore-scale``."""
        return max(1, round(size * self.scale))

    def units(self) -> int:
        """How many units of its work (examples, steps per writer, rounds) this clause runs: see :mod:`.budget`."""
        return self.allowance.units(budget.work(self.clause), self.profile)

    @property
    def calls(self) -> int:
        """Store calls this clause made (its evidence, with :attr:`examples`)."""
        return self.runner.calls

    def _hypothesis_settings(self, kind: Kind, shards: int = 1) -> hypothesis.settings:
        """The profile's settings for a test of ``kind``, with this clause's share of the examples (the budget's
        cut), split over ``shards`` runs."""
        examples = self.units() if self.allowance.reduced or shards > 1 else None
        if examples is not None:
            examples = math.ceil(examples / shards)
            if kind == "machine" and shards > 1:  # each part's first run is the simplest (one step): one more
                examples += 1
        return hypothesis_settings(self.profile, kind, settled=self.settled, max_examples=examples)

    def given(self, **strategies: Any) -> Callable[[Callable[..., None]], Callable[[], None]]:
        """Decorate a property, ``check(sut, **drawn)``, into a search to call once (``check()``): Hypothesis's
        ``given(**strategies)`` under the profile's settings (and ``--chatstore-reproduce``'s blob).

        The body receives the handle to use, ``sut``, not this one: on a store that may be called from several
        threads the search is :meth:`shards` independent searches, each with its own seed, handle and share of the
        examples, run as :meth:`overlap` runs them (as many at once as the store's latency pays for, the same
        examples whatever that is). One part runs Hypothesis's own search, unchanged."""
        parts = self.shards()
        chosen = self._hypothesis_settings("property", shards=parts)

        def decorate(body: Callable[..., None]) -> Callable[[], None]:
            def search(sut: StoreUnderTest, index: int) -> None:
                __tracebackhide__ = True
                test: Any = chosen(hypothesis.given(**strategies)(body))
                handle = test.hypothesis  # Hypothesis's documented hook around each example
                inner = handle.inner_test

                simplest = _Simplest(index)

                def counted(*args: Any, **kwargs: Any) -> Any:
                    simplest.skip()
                    sut.examples += 1
                    return inner(*args, **kwargs)

                handle.inner_test = functools.wraps(inner)(counted)
                # Where Hypothesis keeps this part's failing examples, named here: else it digests the body's source
                # for every part, a few ms each (documented only as internal; without it Hypothesis digests again).
                test._hypothesis_internal_database_key = f"chatstore {self.clause} {body.__qualname__} {index}".encode()
                self._reproduced(self._seeded(test, index, parts, chosen))(sut)

            def run() -> None:
                __tracebackhide__ = True
                self.overlap([functools.partial(search, index=index) for index in range(parts)])

            return run

        return decorate

    def run_machine(self, machine: type[Any], kind: Kind = "machine") -> None:
        """Run a state machine under the profile's settings (and ``--chatstore-reproduce``'s blob).

        On a store that may be called from several threads (and that is not one Redis database reset per store),
        the run is :data:`SHARDS` independent runs, each with its own seed, stores and share of the examples, their
        evidence added up (:meth:`overlap`): as many at once as the store's latency pays for (:attr:`concurrency`),
        the same examples whatever that is."""
        from hypothesis.stateful import run_state_machine_as_test

        shards = self.shards()
        chosen = self._hypothesis_settings(kind, shards=shards)

        def run(sut: StoreUnderTest, index: int) -> None:
            class Counted(machine):  # type: ignore[misc]
                def __init__(self) -> None:
                    sut.examples += 1
                    super().__init__()

            Counted.sut = sut
            Counted.__name__ = Counted.__qualname__ = machine.__name__
            runs: Any = _MachineFactory(Counted, f"{self.clause} {machine.__name__}")
            run_state_machine_as_test(self._reproduced(self._seeded(runs, index, shards, chosen)), settings=chosen)

        self.overlap([functools.partial(run, index=index) for index in range(shards)])

    def shards(self) -> int:
        """Into how many independent parts this clause's split checks are cut (:meth:`each`, :meth:`run_machine`):
        fixed by the store's capabilities, never by a measurement, so that the same seed gives the same examples."""
        if self.reproduce is not None or "threads" not in self.capabilities or "redis_url" in self.target.accepts:
            return 1  # a blob replays one example; one Redis database serves one store at a time
        return SHARDS

    def overlap(self, jobs: Sequence[Callable[[StoreUnderTest], None]]) -> None:
        """Run ``jobs``, independent parts of this clause's check, each on a shard of it (a copy with a runner
        of its own): one after the other on this one when :attr:`concurrency` is 1, else up to that many at
        once on threads that each watch their shard's calls against the limit.

        The verdict is the one of running them in order: the first job's failure in the jobs' order is raised,
        once every job before it ended; jobs after it stop at their next store call. The shards' evidence
        (calls, examples, the time in each method, calls that hung) adds up on this clause."""
        __tracebackhide__ = True
        if self.concurrency <= 1 or len(jobs) <= 1:
            self.split = (len(jobs), 1)
            for job in jobs:
                job(self)
            return
        self.split = (len(jobs), min(self.concurrency, len(jobs)))
        shards = [self._shard() for _ in jobs]
        errors: dict[int, BaseException] = {}
        lock = threading.Lock()
        queued = iter(range(len(jobs)))
        first = [len(jobs)]  # the lowest index that failed

        def serve() -> None:
            while True:
                with lock:
                    index = next(queued, None)
                    if index is None or index > first[0]:
                        return
                shard = shards[index]
                try:
                    shard.runner.host(jobs[index], shard)
                except BaseException as exc:  # noqa: BLE001 - the verdict is chosen below, in order
                    with lock:
                        errors[index] = exc
                        if index < first[0] and not (isinstance(exc, BudgetSpent) and shard.runner.deadline < 0):
                            first[0] = index
                            for later in shards[index + 1 :]:  # stop at their next call: their verdict is moot
                                later.runner.cancel("an earlier shard of this clause failed")

        threads = [
            threading.Thread(target=serve, name=f"chatstore-shard-{n}", daemon=True)
            for n in range(min(self.concurrency, len(jobs)))
        ]
        with Overlapping() as overlapping:
            for thread in threads:
                thread.start()
            while threads:
                threads[0].join(POLL)
                if not threads[0].is_alive():
                    threads.pop(0)
                if abandoned_here():  # the pytest thread gave up on this check (Ctrl-C, a hang): stop every shard
                    for shard in shards:
                        shard.runner.cancel("the check these runs belonged to was given up on")
        for shard in shards:
            self._absorb(shard)
        if first[0] < len(jobs):
            raise errors[first[0]]
        if overlapping.closed:
            fail(
                self.clause,
                f"the store closed {' and '.join(dict.fromkeys(overlapping.closed))} (pytest's capture of it; the kit "
                f"kept it open) in one of this check's {len(jobs)} runs, which went {self.split[1]} at once",
            )

    def each(
        self,
        items: Sequence[V],
        check: Callable[[StoreUnderTest, V], None],
        *,
        stop: Callable[[V], bool] | None = None,
    ) -> list[V]:
        """``check(sut, item)`` for each of ``items``, independent checks of this clause enumerated in order (an
        exhaustive phase's sequences, fixed families): split into :meth:`shards` contiguous parts, the first items
        in the first part, run as :meth:`overlap` runs them, so the first failure in the items' order is the one
        raised. A part stops at the first item for which ``stop`` is true (a budget's deadline). Returns the items
        that ran, in order."""
        __tracebackhide__ = True
        parts = self.shards()
        slices = [items[n * len(items) // parts : (n + 1) * len(items) // parts] for n in range(parts)]
        done: list[list[V]] = [[] for _ in slices]

        def run(sut: StoreUnderTest, part: int) -> None:
            for item in slices[part]:
                if stop is not None and stop(item):
                    return
                check(sut, item)
                done[part].append(item)

        self.overlap([functools.partial(run, part=n) for n in range(parts)])
        return [item for part in done for item in part]

    def _shard(self) -> StoreUnderTest:
        """A copy of this clause's handle for one job of :meth:`overlap`: the same target, capabilities and
        knowledge of the run, a runner of its own (the same limits), no evidence yet."""
        shard = copy.copy(self)
        shard.runner = self.runner.sibling()
        shard.examples = shard.overlaps = shard._depth = 0
        shard.split = (1, 1)
        return shard

    def _absorb(self, shard: StoreUnderTest) -> None:
        """Add a finished shard's evidence to this clause's."""
        self.examples += shard.examples
        self.overlaps += shard.overlaps
        self.built = shard.built or self.built
        self.runner.absorb(shard.runner)

    def _seeded(self, test: T, index: int, parts: int, chosen: hypothesis.settings) -> T:
        """``test``, part ``index`` of a search split into ``parts``, with the part's own fixed seed where the profile
        is derandomized; a search in one part keeps Hypothesis's own."""
        if parts > 1 and chosen.derandomize:
            test_any: Any = test  # a @given test or a state machine factory: both take the decorator
            seeded: T = seed(zlib.crc32(self.clause.encode()) + index)(test_any)
            return seeded
        return test

    def _reproduced(self, test: T) -> T:
        if self.reproduce is None:
            return test
        test_any: Any = test  # a @given test or a state machine class: both take the decorator
        decorated: T = reproduce_failure(hypothesis.__version__, self.reproduce.encode())(test_any)
        return decorated

    @contextlib.contextmanager
    def fresh(
        self,
        *,
        check_empty: bool = True,
        backend_of: StoreDriver | None = None,
        canary: tuple[str, ...] = TRICKY_KEYS[:3],
        list_keys: bool = True,
        nemesis: Nemesis | None = None,
        **kwargs: Any,
    ) -> Iterator[StoreDriver]:
        """A driver around a newly built store (``kwargs`` as for :func:`build_store`).

        ``canary``: the keys read to check that the store starts empty (FRE-001), with the key listing; the
        bounded-exhaustive phase, which builds thousands of stores, reads only the keys its sequence uses, and
        lists the keys (``list_keys``) only where it checks the listing (a store may list keys slowly).

        It gets an emptied Redis database (``redis_url``) or a new ``namespace``; with ``backend_of``, the
        same backend as that driver's store instead, untouched (a second instance, a reopened store).
        With ``nemesis``, the store reaches its server through the kit's fault proxy: its ``redis_url`` is the
        proxy's, and a factory taking ``proxied`` is given the proxy's mapping of addresses (else the identity).
        """
        __tracebackhide__ = True
        server = None
        if backend_of is not None:
            kwargs.update(backend_of.shared_with)
            server, check_empty = backend_of.server, False
        else:
            if "redis_url" in self.target.accepts:
                if self.redis is None:
                    fail(self.clause, f"{self.target.spec} takes redis_url, but no Redis provider is configured")
                server = self.redis()
                server.reset()
                kwargs["redis_url"] = server.url
            if "namespace" in self.target.accepts:  # with redis_url too: a namespace within the kit's database
                kwargs["namespace"] = f"chatstore-{uuid.uuid4().hex[:16]}"
        shared_with: dict[str, Any] = {k: kwargs[k] for k in ("redis_url", "namespace") if k in kwargs}
        if nemesis is not None:
            kwargs["proxied"] = nemesis.proxied
            if "redis_url" in kwargs:
                kwargs["redis_url"] = nemesis.url(kwargs["redis_url"])
        building = build_store(self.target, **kwargs)
        stuck = False

        def factory_hung(exc: OperationTimeout) -> NoReturn:
            raise self._factory_failed(f"hung: {exc}") from None

        def closing_hung(exc: OperationTimeout) -> NoReturn:
            raise hung(self.clause, f"closing the store hung: {exc}") from None

        self.runner.check_deadline()
        try:
            store = self.runner.invoke(building.__enter__, (), {}, on_hang=factory_hung)
        except OperationTimeout as exc:
            factory_hung(exc)
        except Exception as exc:  # a factory that raises: no verdict on the clause at hand
            raise self._factory_failed(f"raised {described(exc)}") from exc
        self.built = store
        try:
            built_with = {k: v for k, v in kwargs.items() if k not in ("redis_url", "namespace", "proxied")}
            if "clock" in kwargs:
                built_with["clock_start"] = kwargs["clock"]()
            driver = StoreDriver(
                store,
                select_adapter(store),
                self.runner,
                capabilities.detect(store, self.target.accepts),
                self.clause,
                known_broken=self.known_broken,
                unreadable=self.unreadable,
                raising=self.raising,
                server=server,
                shared_with=shared_with,
                built_with=built_with,
            )
            if check_empty:
                _check_empty(driver, canary, list_keys=list_keys)
            self._depth += 1
            try:
                yield driver
            except ClauseFailure as exc:
                if exc.replay is not None and self._depth > 1:
                    exc.replay.blocked = "the example uses two stores at once"
                raise
            finally:
                self._depth -= 1
        except Hung:
            stuck = True  # the store may hang closing too: leave it, the verdict is in
            raise
        finally:
            if not stuck:
                try:
                    self.runner.invoke(building.__exit__, (None, None, None), {}, on_hang=closing_hung)
                except OperationTimeout as exc:
                    closing_hung(exc)

    def _factory_failed(self, what: str) -> FactoryFailed:
        short = f"the factory {self.target.spec} {what}"
        return FactoryFailed(
            f"{short}, building a store for {self.clause}'s check: the clause could not be checked (this says "
            f"nothing of {self.clause}'s rule; the factory built the target's first store at its first contact: "
            "look at what changed since, such as a connection limit reached or a server that went away)",
            short,
        )

    def close(self) -> None:
        self.runner.close()

    @contextlib.contextmanager
    def failures_only(self) -> Iterator[None]:
        """Within the block, only clauses that failed in this run count as known broken, not those merely
        listed as expected failures: the bounded-exhaustive phase checks the same whatever the list says."""
        saved = self.known_broken
        self.known_broken = saved - self.listed
        try:
            yield
        finally:
            self.known_broken = saved

    def first_contact(self) -> str | None:
        """Build one store before any check (the capability probe): why that failed, or None.

        A factory that raises or hangs, a Redis server that cannot be reached: a setup problem, said once
        (the plugin stops the run with a usage error) instead of as every clause's failure."""
        try:
            _ = self.capabilities
            return None
        except ClauseFailure as exc:
            why = exc.what or str(exc)
        except Hung as exc:
            why = exc.failure.what or str(exc)
        except FactoryFailed as exc:
            why = exc.short
        except pytest.fail.Exception as exc:  # the Redis provider's: no server could be had
            why = (exc.msg or "").removeprefix("pytest-chatstore: ")
        except pytest.skip.Exception:
            raise
        except Exception as exc:  # noqa: BLE001 - a provisioning problem (no Redis server), said as it is
            why = described(exc)
        if "only works in main thread" in why:
            why += (
                " (the kit builds and calls stores on a worker thread, so that a call that hangs cannot hang the "
                "run; install signal handlers once, outside the store's constructor: at import, in a conftest, or "
                "in a chatstore_factory fixture before it returns the factory)"
            )
        return f"cannot build a store from {self.target.spec}: {why}"

    def measure_cost(self) -> tuple[float, float]:
        """Seconds per store call, from a short measurement on a fresh store (the kit's overhead per call added), and
        the CPU seconds this process spent per call meanwhile (what overlapping calls cannot save)."""
        message = ChatMessage("user", "measuring the cost of a call")
        with self.fresh(check_empty=False) as driver:
            key = TRICKY_KEYS[0] + " cost"
            driver.get_messages(key)  # untimed: a one-time warm-up (a lazy connection) is no cost per call
            start, cpu = time.perf_counter(), time.process_time()
            driver.set_messages(key, [message])
            for _ in range(3):
                driver.add_message(key, message)
                driver.get_messages(key)
            calls = 8
            if "keys" in driver.capabilities:  # every example checks the listing: a slow one is most of the cost
                driver.get_keys()
                calls += 1
            driver.set_messages(key, [])
            seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        return seconds / calls + budget.KIT_OVERHEAD, cpu / calls + budget.KIT_OVERHEAD

    def check_ttl_clause(self) -> None:
        """Run this clause's TTL scenario: instantly on the kit's clock if the factory takes one, else in real time."""
        __tracebackhide__ = True
        if "clock" in self.capabilities:
            clock = ttl.ManualClock()
            with self.fresh(ttl=ttl.ttl_for(self.clause, ttl.CLOCK_TTL), clock=clock) as store:
                ttl.run_in_clock_mode(self.clause, store, clock)
            return
        self.real_time = True
        failure = self.batches.verdict(self.target, self.clause)
        self.retries = self.batches.retries.get((self.target.spec, self.clause), 0)
        if failure is not None:
            raise failure


def real_time_batches(
    targets: list[Target], *, timeout: float, profile: str, redis: Callable[[], Any] | None = None
) -> ttl.RealTimeBatches:
    """The session's real-time TTL batch, building its stores as the suite does."""

    @contextlib.contextmanager
    def open_store(target: Target, clause_id: str, seconds: float | None) -> Iterator[StoreDriver]:
        sut = StoreUnderTest(target, timeout=timeout, profile=profile, clause=clause_id, redis=redis)
        try:
            with sut.fresh(ttl=seconds) as driver:
                yield driver
        finally:
            sut.close()

    def needs_real_time(target: Target) -> bool:
        probe = StoreUnderTest(target, timeout=timeout, profile=profile, redis=redis)
        try:
            caps = probe.capabilities
        except Exception:  # noqa: BLE001 - a target that cannot even be built fails in its own tests
            return False
        finally:
            probe.close()
        return "ttl" in caps and "clock" not in caps

    return ttl.RealTimeBatches(
        targets,
        open_store=open_store,
        needs_real_time=needs_real_time,
        join_timeout=3 * ttl.REALTIME_TTL + 4 * timeout,
    )


def _check_empty(driver: StoreDriver, canary: tuple[str, ...], *, list_keys: bool = True) -> None:
    """The canary: a fresh store must hold nothing (FRE-001)."""
    __tracebackhide__ = True
    # Only data found is FRE-001's: a call that raises, hangs or answers a non-message is the running check's.
    # What it finds was written by other stores of the run: this store's calls alone do not reproduce it.
    driver.unreplayable = "the store was not empty when built: other stores of the run wrote what it holds"
    if list_keys and "keys" in driver.capabilities:
        keys = driver.get_keys()
        with driver.checking(FRESH):
            driver.expect("a freshly built store already lists keys", [], keys)
    for key in canary:
        messages = driver.get_messages(key)
        with driver.checking(FRESH):
            driver.expect(f"a freshly built store already holds messages at {key!r}", [], messages)
    driver.log.clear()
    driver.steps.clear()
    driver.unreplayable = None
