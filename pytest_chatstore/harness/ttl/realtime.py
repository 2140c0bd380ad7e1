"""Real time: every real-time TTL scenario of a session runs in one batch, so the run waits once.

Used when a store keeps its own time (a server's expiry) and its factory takes
no ``clock``. The first real-time TTL test of a command-line target runs every
TTL scenario of every command-line target at once: the whole real-time part
costs one scenario's length (about 2 s), not one sleep per test. A
fixture-provided target (known only inside its test) runs its own batch.
:class:`RealTimeBatches` is given the means to build stores; it knows nothing
of the harness that gives them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass

from pytest_chatstore.engine.driver import StoreDriver
from pytest_chatstore.engine.failures import Inconclusive
from pytest_chatstore.engine.targets import Target
from pytest_chatstore.harness.ttl.scenarios import (
    REALTIME_LAG,
    REALTIME_MARGIN,
    REALTIME_TTL,
    SCENARIOS,
    Scenario,
    Timeline,
    ttl_for,
)

RETRY_SCALES = (3, 9)
"""An inconclusive scenario runs again with ``ttl`` (and its margins) this many times longer, at most twice:
1 s, then 3 s, then 9 s. Only a busy machine pays for it: the retries run only the inconclusive scenarios."""

OpenStore = Callable[[Target, str, "float | None"], AbstractContextManager[StoreDriver]]
"""(target, clause ID, ttl) -> a context manager giving a fresh store of ``target`` checked for ``clause ID``."""


class RealTimeBatches:
    """The session's real-time TTL scenarios: run once, all together, then looked up per test."""

    def __init__(
        self,
        targets: list[Target],
        *,
        open_store: OpenStore,
        needs_real_time: Callable[[Target], bool],
        join_timeout: float,
    ) -> None:
        self.targets = targets
        self.open_store = open_store
        self.needs_real_time = needs_real_time
        """Whether a target's TTL clauses run in real time (it takes ``ttl`` but no ``clock``)."""
        self.join_timeout = join_timeout
        self.results: dict[tuple[str, str], BaseException | None] = {}
        self.retries: dict[tuple[str, str], int] = {}
        """(target spec, clause) -> how many times the scenario ran again with a longer ttl."""

    def verdict(self, target: Target, clause_id: str) -> BaseException | None:
        """The failure of ``clause_id`` against ``target`` (None: it holds), running the batch first if needed."""
        key = (target.spec, clause_id)
        if key not in self.results:
            others = [t for t in self.targets if t != target] if target in self.targets else []
            self._run([target] + [t for t in others if self.needs_real_time(t)])
        return self.results[key]

    def _run(self, targets: list[Target]) -> None:
        def opener(target: Target, clause_id: str) -> Callable[[float | None], AbstractContextManager[StoreDriver]]:
            return lambda seconds: self.open_store(target, clause_id, seconds)

        jobs = [RealTimeJob(t.spec, c, opener(t, c)) for t in targets for c in SCENARIOS]
        self.results.update(run_real_time_batch(jobs, self.join_timeout))
        for scale in RETRY_SCALES:
            again = [j for j in jobs if isinstance(self.results[(j.target, j.clause_id)], Inconclusive)]
            if not again:
                break
            for job in again:
                self.retries[(job.target, job.clause_id)] = self.retries.get((job.target, job.clause_id), 0) + 1
            self.results.update(run_real_time_batch(again, self.join_timeout * scale, scale=scale))


@dataclass
class RealTimeJob:
    """One scenario to run in the real-time batch."""

    target: str
    clause_id: str
    open_store: Callable[[float | None], AbstractContextManager[StoreDriver]]
    """Builds the scenario's store with the given ``ttl``."""


def run_real_time_batch(
    jobs: list[RealTimeJob], join_timeout: float, *, scale: float = 1
) -> dict[tuple[str, str], BaseException | None]:
    """Run every job's scenario at once, each in its own thread with its own store.

    All stores are built before any scenario starts (so no factory's emptiness
    check sees another scenario's writes); then every scenario starts at the
    same instant. ``scale`` multiplies the ttl and its margins (a retry).
    Returns (target, clause) -> the failure, or None.
    """
    ttl = REALTIME_TTL * scale
    outcome: dict[tuple[str, str], BaseException | None] = {}
    start: list[float] = []
    ready = threading.Barrier(len(jobs) + 1, action=lambda: start.append(time.monotonic()))

    def wait_until(t: float) -> None:
        delay = t - time.monotonic()
        if delay > 0:
            time.sleep(delay)  # real time is the point here: these are the batched TTL waits

    def run(job: RealTimeJob, prefix: str) -> None:
        with ExitStack() as stack:
            try:
                store = stack.enter_context(job.open_store(ttl_for(job.clause_id, ttl)))
            except BaseException as exc:  # noqa: BLE001 - reported as the clause's failure
                outcome[(job.target, job.clause_id)] = exc
                ready.wait()
                return
            ready.wait()
            timeline = Timeline(
                ttl, REALTIME_MARGIN * scale, time.monotonic, wait_until, t0=start[0], lag=REALTIME_LAG * scale
            )
            try:
                SCENARIOS[job.clause_id](Scenario(store, timeline, prefix))
                outcome[(job.target, job.clause_id)] = None
            except BaseException as exc:  # noqa: BLE001 - reported as the clause's failure
                outcome[(job.target, job.clause_id)] = exc

    # Stores of one server share its database: each job writes under its own key prefix.
    threads = [threading.Thread(target=run, args=(job, f"ttl{i} "), daemon=True) for i, job in enumerate(jobs)]
    for t in threads:
        t.start()
    ready.wait()
    deadline = time.monotonic() + join_timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    for job in jobs:
        outcome.setdefault(
            (job.target, job.clause_id),
            Inconclusive(f"the scenario did not finish within {join_timeout:g} s (a store call hung)"),
        )
    return outcome
