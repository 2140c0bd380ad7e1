"""The run's state: one :class:`RunState` in the config's stash, shared by the plugin's modules; and the few
keys kept on nodes."""

from __future__ import annotations

import os
import sys
import threading
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # the keys' types only: pytest loads the plugin, and so this module, in every run
    from pytest_chatstore.engine.attribution import KnownBroken
    from pytest_chatstore.engine.budget import Ledger
    from pytest_chatstore.engine.runner import Call
    from pytest_chatstore.harness.ttl import RealTimeBatches
    from pytest_chatstore.run.settings import Settings
    from pytest_chatstore.servers import RedisProvider


@dataclass
class RunState:
    """The run's state, one object in the config's stash (:func:`run_state`), set empty by :func:`begin_run`.

    What a clause learns is kept per process: each xdist worker has its own."""

    settings: Settings
    redis: RedisProvider
    known: KnownBroken
    """Per target, the clauses known broken so far."""
    threads: set[threading.Thread]
    """The threads alive when the run began (a store's leaked threads are the new ones)."""
    sources: dict[str, str] = field(default_factory=dict)
    """Target name -> where it came from (``--chatstore``, a fixture...)."""
    directories: dict[Path, pytest.Directory] = field(default_factory=dict)
    batches: RealTimeBatches | None = None
    """The real-time TTL scenarios, run in batches at the end of collection (targets named by ``--chatstore``)."""
    suite_items: list[pytest.Item] = field(default_factory=list)
    deselected: set[str] = field(default_factory=set)
    ran: set[str] = field(default_factory=set)
    """Node IDs of the tests that ran to their teardown (a suite test missing here did not finish)."""
    ledgers: dict[str, Ledger] = field(default_factory=dict)
    """Per target, its time budget as the run spends it."""
    detected: dict[str, frozenset[str]] = field(default_factory=dict)
    """Per target, the capabilities detected in its last clause (read after a stuck call, building nothing)."""
    contacted: set[str] = field(default_factory=set)
    """Targets already built once before their first clause (a store that cannot be built stops the run)."""
    refused: str | None = None
    """Why the run stopped before any clause ran (a target that cannot be built): what the reports say."""
    isolate: str | None = None
    """Why each clause runs in a forked child (``--chatstore-isolate``, or a crash last time), or None."""
    processes: set[int] = field(default_factory=set)
    """Child processes of the pytest process started around a clause, before its checks (a fixture's server, the
    target's first store): ended at the run's end if still running."""
    spared: set[int] = field(default_factory=set)
    """Child processes a target's first store build started (the factory's: a server it starts once, lazily):
    never ended after a clause, only at the run's end."""
    leaked: list[threading.Thread] = field(default_factory=list)
    """Non-daemon threads stores left running in this process (without isolation)."""
    stuck: dict[str, list[tuple[str, str, Call[Any]]]] = field(default_factory=dict)
    """Per target, calls that hung: (the clause, the method, the runner's record of the call). While one has not
    returned, the target's later clauses are blocked by that clause instead of each waiting out a limit."""
    running: tuple[str, str, float] | None = None
    """The suite test running now: (target, clause, its start on the monotonic clock)."""
    crashes: dict[str, str] = field(default_factory=dict)
    """Targets whose isolated clauses crashed in this run: target -> the first such clause."""
    exitstatus: int = 1
    """The session's exit status, for ending a process that leaked threads would keep alive."""


run_key: pytest.StashKey[RunState] = pytest.StashKey()


def run_state(config: pytest.Config) -> RunState:
    """The run's state (set by :func:`begin_run` at configure)."""
    return config.stash[run_key]


# On nodes, not on the config:
suite_source_key: pytest.StashKey[str] = pytest.StashKey()
"""On an injected suite module: ``targets`` or ``fixture``."""
threads_key: pytest.StashKey[set[threading.Thread]] = pytest.StashKey()
"""On a suite item: the threads alive when its setup began (a store's leaked threads are the new ones)."""
processes_key: pytest.StashKey[set[int]] = pytest.StashKey()
"""On a suite item: the child processes there when its clause started."""
checks_processes_key: pytest.StashKey[set[int]] = pytest.StashKey()
"""On a suite item: the child processes there when its checks started (fixtures set up, the store's factory
had); those started from then on and still running when the clause ends are the store's, ended then."""
kit_fixture_key: pytest.StashKey[bool] = pytest.StashKey()
"""On a suite item: the kit's own ``chatstore`` fixture ran."""


def xdist_workers() -> int:
    """How many xdist workers share this run (1 without xdist)."""
    return int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)


def clause_of(item: pytest.Item) -> str | None:
    """The clause a suite test checks (its ``chatstore_clause`` mark), or None for any other test."""
    mark = item.get_closest_marker("chatstore_clause")
    return str(mark.args[0]) if mark is not None else None


def begin_run(config: pytest.Config, settings: Settings) -> None:
    """Set the run's state on the config, empty (``settings`` resolved)."""
    from pytest_chatstore.engine.attribution import KnownBroken
    from pytest_chatstore.servers import RedisProvider

    # The threads alive now are not the store's: they ran before it.
    config.stash[run_key] = RunState(settings, RedisProvider(settings.redis), KnownBroken(), set(threading.enumerate()))


def forget_unloaded_submodules() -> None:
    """pytester's in-process runs put ``sys.modules`` back after each run, dropping the modules the kit loaded
    lazily, but not the package attributes naming them: ``from pytest_chatstore import x`` would then mix a stale
    module with freshly loaded ones (two ``ClauseFailure`` classes). Drop such attributes, so that every run loads
    one generation of the kit."""
    for name, package in list(sys.modules.items()):
        if name.split(".")[0] == "pytest_chatstore" and hasattr(package, "__path__"):
            for attr, value in list(vars(package).items()):
                if isinstance(value, types.ModuleType) and sys.modules.get(value.__name__) is not value:
                    delattr(package, attr)
