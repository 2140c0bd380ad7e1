"""The handle the suite's tests receive: a target plus everything needed to test it.

``StoreUnderTest`` builds a fresh store per example (checking that it starts
empty, clause FRE-001), knows the target's capabilities, skips a test whose
capability is missing with a reason naming it, and hands out the Hypothesis
settings of the selected profile.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Literal, TypeVar

import hypothesis
import pytest
from hypothesis import HealthCheck, Phase, reproduce_failure, settings

from pytest_chatstore import ttl
from pytest_chatstore.adapters import select_adapter
from pytest_chatstore.clauses import CAPABILITIES, CLAUSES
from pytest_chatstore.driver import StoreDriver, detect_capabilities
from pytest_chatstore.gate import effective_capabilities
from pytest_chatstore.report import ClauseFailure, fail
from pytest_chatstore.runner import Runner
from pytest_chatstore.strategies import TRICKY_KEYS
from pytest_chatstore.targets import Target, build_store

Kind = Literal["property", "machine", "timed", "heavy"]

PROFILES: dict[str, dict[Kind, dict[str, Any]]] = {
    "default": {
        "property": {"max_examples": 30},
        "machine": {"max_examples": 150, "stateful_step_count": 50},
        "timed": {"max_examples": 80, "stateful_step_count": 40},
        "heavy": {"max_examples": 2},
    },
    "thorough": {
        "property": {"max_examples": 400},
        "machine": {"max_examples": 400, "stateful_step_count": 60},
        "timed": {"max_examples": 300, "stateful_step_count": 60},
        "heavy": {"max_examples": 10},
    },
}
PROFILES["ci"] = PROFILES["default"]
"""Examples per test kind. ``ci`` has the default's counts but is derandomized (see :func:`hypothesis_settings`)."""

_COMMON: dict[str, Any] = {
    "deadline": None,  # speed is measured by benchmarks, not by timed tests
    # The explain phase re-runs a failure under tracing: ~12 s per failure with nested JSON
    # messages, and the kit's own report already shows the operations that failed.
    "phases": [p for p in Phase if p is not Phase.explain],
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
}


def hypothesis_settings(profile: str, kind: Kind, *, settled: bool = False) -> settings:
    """Settings for one suite test of ``kind`` under ``profile`` (``default``, ``ci`` or ``thorough``).

    ``settled`` is for a clause whose failure is already known (an expected failure, or a
    probe of a capability declared absent): derandomized, so its verdict cannot flip
    between runs, and without shrinking, which only costs time there.
    """
    extra: dict[str, Any] = {"print_blob": True}
    if profile == "ci" or settled:
        extra |= {"derandomize": True, "database": None}
    if settled:
        extra["phases"] = [p for p in _COMMON["phases"] if p is not Phase.shrink]
    return settings(**{**_COMMON, **PROFILES[profile][kind], **extra})


class CapabilityMissing(pytest.skip.Exception):  # type: ignore[name-defined,misc]
    """The kit's own skip: a clause the target lacks a capability for. Any other skip of a suite test is refused."""


T = TypeVar("T")


class StoreUnderTest:
    """One target, as the suite's tests see it."""

    def __init__(
        self,
        target: Target,
        *,
        timeout: float,
        profile: str,
        clause: str = "MDL-001",
        batches: RealTimeBatches | None = None,
        redis: Callable[[], Any] | None = None,
        declared: Mapping[str, tuple[bool, str]] | None = None,
        settled: bool = False,
        reproduce: str | None = None,
    ) -> None:
        self.target = target
        self.clause = clause
        self.profile = profile
        self.timeout = timeout
        self.declared = dict(declared or {})
        """Declared capabilities: name -> (present, where it was declared)."""
        self.settled = settled
        self.reproduce = reproduce
        """A Hypothesis blob to replay instead of searching (``--chatstore-reproduce``)."""
        self.probed: set[str] = set()
        """Capabilities declared absent that this test exercised anyway, to see whether they work."""
        self.detected: frozenset[str] = frozenset()
        self._own_messages: Any = None
        self.effective: frozenset[str] = frozenset()
        """Detected capabilities with the declarations applied (before any probe)."""
        self._depth = 0
        self.runner = Runner(timeout)
        self.redis = redis
        """Gives the kit-managed Redis server (provisioned on first call), for targets taking ``redis_url``."""
        self.batches = batches or RealTimeBatches([], timeout=timeout, profile=profile, redis=redis)
        self._capabilities: frozenset[str] | None = None

    @property
    def capabilities(self) -> frozenset[str]:
        """What the suite may use: detected once from a probe store, then declarations applied."""
        if self._capabilities is None:
            with self.fresh(check_empty=False) as driver:
                self.detected = driver.capabilities
                self._own_messages = getattr(driver.adapter, "messages", None)
            declared = {name: present for name, (present, _) in self.declared.items()}
            self._capabilities, _ = effective_capabilities(self.detected, declared)
            self.effective = self._capabilities
        return self._capabilities

    @property
    def own_messages(self) -> Any:
        """A strategy of the store's own ecosystem's messages (LangChain's types), or None."""
        _ = self.capabilities  # the probe store tells the adapter
        return self._own_messages

    def require(self, *capabilities: str) -> None:
        """Skip the calling test, naming each missing capability, unless the target has them all.

        A capability declared absent that the target shows anyway is exercised
        instead (a probe): if the clause holds, the report names an undeclared capability.
        """
        have = self.capabilities
        missing = [c for c in capabilities if c not in have]
        probes = [c for c in missing if c in self.detected and not self.declared.get(c, (True, ""))[0]]
        if missing and len(probes) == len(missing):
            self.probed.update(probes)
            self._capabilities = have | set(probes)
            return
        if missing:
            reasons = "; ".join(f"{c} ({CAPABILITIES[c]}){self._declared_where(c)}" for c in missing)
            raise CapabilityMissing(f"{self.target.name} lacks capability {reasons}")

    def _declared_where(self, capability: str) -> str:
        present, where = self.declared.get(capability, (True, ""))
        return "" if present else f", declared absent by {where}"

    def require_clause(self, clause_id: str) -> None:
        """Skip unless the target has every capability ``clause_id`` needs."""
        self.require(*CLAUSES[clause_id].requires)

    def settings(self, kind: Kind = "property") -> Callable[[T], T]:
        """Decorate a ``@given`` test with the profile's settings (and ``--chatstore-reproduce``'s blob)."""
        chosen = hypothesis_settings(self.profile, kind, settled=self.settled)

        def apply(test: T) -> T:
            decorated: T = chosen(test)
            return self._reproduced(decorated)

        return apply

    def run_machine(self, machine: type[Any], kind: Kind = "machine") -> None:
        """Run a state machine under the profile's settings (and ``--chatstore-reproduce``'s blob)."""
        from hypothesis.stateful import run_state_machine_as_test

        chosen = hypothesis_settings(self.profile, kind, settled=self.settled)
        run_state_machine_as_test(self._reproduced(machine), settings=chosen)

    def _reproduced(self, test: T) -> T:
        if self.reproduce is None:
            return test
        test_any: Any = test  # a @given test or a state machine class: both take the decorator
        decorated: T = reproduce_failure(hypothesis.__version__, self.reproduce.encode())(test_any)
        return decorated

    @contextlib.contextmanager
    def fresh(self, *, check_empty: bool = True, **kwargs: Any) -> Iterator[StoreDriver]:
        """A driver around a newly built store (``kwargs`` as for :func:`build_store`)."""
        server = None
        if "redis_url" in self.target.accepts:
            if self.redis is None:
                fail(self.clause, f"{self.target.spec} takes redis_url, but no Redis provider is configured")
            server = self.redis()
            server.reset()
            kwargs["redis_url"] = server.url
        building = build_store(self.target, **kwargs)
        try:
            store = self.runner.call(building.__enter__)
        except Exception as exc:  # noqa: BLE001 - a factory that raises fails the clause at hand
            fail(self.clause, f"the factory {self.target.spec} raised {type(exc).__name__}: {exc}")
        try:
            driver = StoreDriver(
                store,
                select_adapter(store),
                self.runner,
                detect_capabilities(store, self.target.accepts),
                self.clause,
            )
            driver.backdoor = server.client() if server is not None else None
            driver.built_with = {k: v for k, v in kwargs.items() if k != "redis_url"}
            if "clock" in kwargs:
                driver.built_with["clock_start"] = kwargs["clock"]()
            if check_empty:
                _check_empty(driver)
            self._depth += 1
            try:
                yield driver
            except ClauseFailure as exc:
                if exc.replay is not None and self._depth > 1:
                    exc.replay.blocked = "the example uses two stores at once"
                raise
            finally:
                self._depth -= 1
        finally:
            self.runner.call(building.__exit__, None, None, None)

    def close(self) -> None:
        self.runner.close()

    def check_ttl_clause(self, clause_id: str) -> None:
        """Run a TTL scenario: instantly on the kit's clock if the factory takes one, else in real time."""
        __tracebackhide__ = True
        self.require_clause(clause_id)
        if "clock" in self.capabilities:
            ttl.run_in_clock_mode(clause_id, self.fresh)
            return
        failure = self.batches.verdict(self, clause_id)
        if failure is not None:
            raise failure


class RealTimeBatches:
    """The session's real-time TTL scenarios: run once, all together, then looked up per test.

    The first real-time TTL test of a command-line target runs every TTL
    scenario of every command-line target at once, so the whole run waits for
    real time once. A fixture-provided target (known only inside its test) runs
    its own batch.
    """

    def __init__(
        self, targets: list[Target], *, timeout: float, profile: str, redis: Callable[[], Any] | None = None
    ) -> None:
        self.targets = targets
        self.timeout = timeout
        self.profile = profile
        self.redis = redis
        self.results: dict[tuple[str, str], BaseException | None] = {}

    def verdict(self, sut: StoreUnderTest, clause_id: str) -> BaseException | None:
        key = (sut.target.spec, clause_id)
        if key not in self.results:
            others = [t for t in self.targets if t != sut.target] if sut.target in self.targets else []
            group = [sut.target] + [t for t in others if self._real_time(t)]
            self._run(group)
        return self.results[key]

    def _real_time(self, target: Target) -> bool:
        probe = StoreUnderTest(target, timeout=self.timeout, profile=self.profile, batches=self, redis=self.redis)
        try:
            caps = probe.capabilities
        except Exception:  # noqa: BLE001 - a target that cannot even be built fails in its own tests
            return False
        finally:
            probe.close()
        return "ttl" in caps and "clock" not in caps

    def _run(self, targets: list[Target]) -> None:
        handles: list[StoreUnderTest] = []
        jobs: list[ttl.RealTimeJob] = []
        for target in targets:
            for clause_id in ttl.SCENARIOS:
                sut = StoreUnderTest(
                    target, timeout=self.timeout, profile=self.profile, clause=clause_id, batches=self, redis=self.redis
                )
                handles.append(sut)
                jobs.append(ttl.RealTimeJob(target.spec, clause_id, sut.fresh))
        try:
            join_timeout = 3 * ttl.REALTIME_TTL + 4 * self.timeout
            self.results.update(ttl.run_real_time_batch(jobs, join_timeout))
        finally:
            for sut in handles:
                sut.close()


def _check_empty(driver: StoreDriver) -> None:
    """The canary: a fresh store must hold nothing (FRE-001)."""
    __tracebackhide__ = True
    clause, driver.clause = driver.clause, "FRE-001"
    if "keys" in driver.capabilities:
        driver.expect("a freshly built store already lists keys", [], driver.get_keys())
    for key in TRICKY_KEYS[:3]:
        driver.expect(f"a freshly built store already holds messages at {key!r}", [], driver.get_messages(key))
    driver.clause = clause
    driver.log.clear()
    driver.steps.clear()
