"""The run's state, kept in pytest's stashes: one key each, shared by the plugin's modules."""

from __future__ import annotations

import sys
import threading
import types
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # the keys' types only: pytest loads the plugin, and so this module, in every run
    from pytest_chatstore.attribution import KnownBroken
    from pytest_chatstore.budget import Ledger
    from pytest_chatstore.runner import Call
    from pytest_chatstore.servers import RedisProvider
    from pytest_chatstore.settings import Settings
    from pytest_chatstore.ttl import RealTimeBatches

settings_key: pytest.StashKey[Settings] = pytest.StashKey()
sources_key: pytest.StashKey[dict[str, str]] = pytest.StashKey()
"""Target name -> where it came from (``--chatstore``, a fixture...)."""
directories_key: pytest.StashKey[dict[Path, pytest.Directory]] = pytest.StashKey()
suite_source_key: pytest.StashKey[str] = pytest.StashKey()
"""On an injected suite module: ``targets`` or ``fixture``."""
batches_key: pytest.StashKey[RealTimeBatches] = pytest.StashKey()
redis_key: pytest.StashKey[RedisProvider] = pytest.StashKey()
suite_items_key: pytest.StashKey[list[pytest.Item]] = pytest.StashKey()
deselected_key: pytest.StashKey[set[str]] = pytest.StashKey()
ran_key: pytest.StashKey[set[str]] = pytest.StashKey()
"""Node IDs of the tests that ran to their teardown (a suite test missing here did not finish)."""
known_key: pytest.StashKey[KnownBroken] = pytest.StashKey()
"""Per target, the clauses known broken so far (per process: each xdist worker knows its own)."""
ledgers_key: pytest.StashKey[dict[str, Ledger]] = pytest.StashKey()
"""Per target, its time budget as the run spends it (per process)."""
detected_key: pytest.StashKey[dict[str, frozenset[str]]] = pytest.StashKey()
"""Per target, the capabilities detected in its last clause (read after a stuck call, building nothing)."""
contacted_key: pytest.StashKey[set[str]] = pytest.StashKey()
"""Targets already built once before their first clause (a store that cannot be built stops the run)."""
refused_key: pytest.StashKey[str] = pytest.StashKey()
"""Why the run stopped before any clause ran (a target that cannot be built): what the reports say."""
isolate_key: pytest.StashKey[str | None] = pytest.StashKey()
"""Why each clause runs in a forked child (``--chatstore-isolate``, or a crash last time), or None."""
threads_key: pytest.StashKey[set[threading.Thread]] = pytest.StashKey()
"""On a suite item: the threads alive when its setup began (a store's leaked threads are the new ones)."""
processes_key: pytest.StashKey[set[int]] = pytest.StashKey()
"""Child processes of the pytest process: on the config, those started while a clause ran (the store's
helpers); on an item, those there when its clause started."""
leaked_key: pytest.StashKey[list[threading.Thread]] = pytest.StashKey()
"""Non-daemon threads stores left running in this process (without isolation)."""
stuck_key: pytest.StashKey[dict[str, list[tuple[str, str, Call[Any]]]]] = pytest.StashKey()
"""Per target, calls that hung: (the clause, the method, the runner's record of the call). While one has not returned,
the target's later clauses are blocked by that clause instead of each waiting out a limit."""
running_key: pytest.StashKey[tuple[str, str, float]] = pytest.StashKey()
"""The suite test running now: (target, clause, its start on the monotonic clock)."""
crashes_key: pytest.StashKey[dict[str, str]] = pytest.StashKey()
"""Targets whose isolated clauses crashed in this run: target -> the first such clause."""
exitstatus_key: pytest.StashKey[int] = pytest.StashKey()
"""The session's exit status, for ending a process that leaked threads would keep alive."""
kit_fixture_key: pytest.StashKey[bool] = pytest.StashKey()
"""On a suite item: the kit's own ``chatstore`` fixture ran."""


def clause_of(item: pytest.Item) -> str | None:
    """The clause a suite test checks (its ``chatstore_clause`` mark), or None for any other test."""
    mark = item.get_closest_marker("chatstore_clause")
    return str(mark.args[0]) if mark is not None else None


def begin_run(config: pytest.Config, settings: Settings) -> None:
    """Set every key the run's hooks read on the config, empty (``settings`` resolved)."""
    from pytest_chatstore.attribution import KnownBroken
    from pytest_chatstore.servers import RedisProvider

    config.stash[settings_key] = settings
    config.stash[sources_key], config.stash[directories_key], config.stash[ledgers_key] = {}, {}, {}
    config.stash[detected_key], config.stash[stuck_key] = {}, {}
    config.stash[deselected_key], config.stash[ran_key], config.stash[contacted_key] = set(), set(), set()
    config.stash[processes_key] = set()
    config.stash[suite_items_key], config.stash[leaked_key] = [], []
    config.stash[known_key] = KnownBroken()
    config.stash[threads_key] = set(threading.enumerate())  # not the store's: they ran before it
    config.stash[redis_key] = RedisProvider(settings.redis)
    config.stash[isolate_key] = None


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
