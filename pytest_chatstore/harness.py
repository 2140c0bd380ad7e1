"""The handle the suite's tests receive: a target plus everything needed to test it.

``StoreUnderTest`` builds a fresh store per example (checking that it starts
empty, clause FRE-001), knows the target's capabilities, skips a test whose
capability is missing with a reason naming it, and hands out the Hypothesis
settings of the selected profile.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, Literal

import pytest
from hypothesis import HealthCheck, Phase, settings

from pytest_chatstore.adapters import select_adapter
from pytest_chatstore.clauses import CAPABILITIES, CLAUSES
from pytest_chatstore.driver import StoreDriver, detect_capabilities
from pytest_chatstore.report import fail
from pytest_chatstore.runner import Runner
from pytest_chatstore.strategies import TRICKY_KEYS
from pytest_chatstore.targets import Target, build_store

Kind = Literal["property", "machine", "heavy"]

PROFILES: dict[str, dict[Kind, dict[str, Any]]] = {
    "default": {
        "property": {"max_examples": 30},
        "machine": {"max_examples": 250, "stateful_step_count": 50},
        "heavy": {"max_examples": 2},
    },
    "thorough": {
        "property": {"max_examples": 400},
        "machine": {"max_examples": 400, "stateful_step_count": 60},
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


def hypothesis_settings(profile: str, kind: Kind) -> settings:
    """Settings for one suite test of ``kind`` under ``profile`` (``default``, ``ci`` or ``thorough``)."""
    extra: dict[str, Any] = {"derandomize": True, "database": None, "print_blob": True} if profile == "ci" else {}
    return settings(**_COMMON, **PROFILES[profile][kind], **extra)


class StoreUnderTest:
    """One target, as the suite's tests see it."""

    def __init__(self, target: Target, *, timeout: float, profile: str, clause: str = "MDL-001") -> None:
        self.target = target
        self.clause = clause
        self.profile = profile
        self.runner = Runner(timeout)
        self._capabilities: frozenset[str] | None = None

    @property
    def capabilities(self) -> frozenset[str]:
        """What the target can do, detected once from a probe store."""
        if self._capabilities is None:
            with self.fresh(check_empty=False) as driver:
                self._capabilities = driver.capabilities
        return self._capabilities

    def require(self, *capabilities: str) -> None:
        """Skip the calling test, naming each missing capability, unless the target has them all."""
        missing = [c for c in capabilities if c not in self.capabilities]
        if missing:
            reasons = "; ".join(f"{c} ({CAPABILITIES[c]})" for c in missing)
            pytest.skip(f"{self.target.name} lacks capability {reasons}")

    def require_clause(self, clause_id: str) -> None:
        """Skip unless the target has every capability ``clause_id`` needs."""
        self.require(*CLAUSES[clause_id].requires)

    def settings(self, kind: Kind = "property") -> settings:
        return hypothesis_settings(self.profile, kind)

    @contextlib.contextmanager
    def fresh(self, *, check_empty: bool = True, **kwargs: Any) -> Iterator[StoreDriver]:
        """A driver around a newly built store (``kwargs`` as for :func:`build_store`)."""
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
            if check_empty:
                _check_empty(driver)
            yield driver
        finally:
            self.runner.call(building.__exit__, None, None, None)

    def close(self) -> None:
        self.runner.close()


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
