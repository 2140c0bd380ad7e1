"""The run's state, kept in pytest's stashes: one key each, shared by the plugin's modules."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from pytest_chatstore.attribution import KnownBroken
from pytest_chatstore.budget import Ledger
from pytest_chatstore.runner import Call
from pytest_chatstore.servers import RedisProvider
from pytest_chatstore.settings import Settings
from pytest_chatstore.ttl import RealTimeBatches

settings_key = pytest.StashKey[Settings]()
sources_key = pytest.StashKey[dict[str, str]]()
"""Target name -> where it came from (``--chatstore``, a fixture...)."""
directories_key = pytest.StashKey[dict[Path, pytest.Directory]]()
suite_source_key = pytest.StashKey[str]()
"""On an injected suite module: ``targets`` or ``fixture``."""
batches_key = pytest.StashKey[RealTimeBatches]()
redis_key = pytest.StashKey[RedisProvider]()
suite_items_key = pytest.StashKey[list[pytest.Item]]()
deselected_key = pytest.StashKey[set[str]]()
ran_key = pytest.StashKey[set[str]]()
"""Node IDs of the tests that ran to their teardown (a suite test missing here did not finish)."""
known_key = pytest.StashKey[KnownBroken]()
"""Per target, the clauses known broken so far (per process: each xdist worker knows its own)."""
ledgers_key = pytest.StashKey[dict[str, Ledger]]()
detected_key = pytest.StashKey[dict[str, frozenset[str]]]()
"""Per target, the capabilities detected in its last clause (read after a stuck call, building nothing)."""
contacted_key = pytest.StashKey[set[str]]()
"""Targets already built once before their first clause (a store that cannot be built stops the run)."""
"""Per target, its time budget as the run spends it (per process)."""
isolate_key = pytest.StashKey[str | None]()
"""Why each clause runs in a forked child (``--chatstore-isolate``, or a crash last time), or None."""
threads_key = pytest.StashKey[set[threading.Thread]]()
"""On a suite item: the threads alive when its setup began (a store's leaked threads are the new ones)."""
processes_key = pytest.StashKey[set[int]]()
"""Child processes of the pytest process: on the config, those started while a clause ran (the store's
helpers); on an item, those there when its clause started."""
leaked_key = pytest.StashKey[list[threading.Thread]]()
"""Non-daemon threads stores left running in this process (without isolation)."""
stuck_key = pytest.StashKey[dict[str, list[tuple[str, str, Call[Any]]]]]()
"""Per target, calls that hung: (the clause, the method, its future). While one has not returned, the target's
later clauses are blocked by that clause instead of each waiting out a limit."""
running_key = pytest.StashKey[tuple[str, str, float]]()
"""The suite test running now: (target, clause, its start on the monotonic clock)."""
crashes_key = pytest.StashKey[dict[str, str]]()
"""Targets whose isolated clauses crashed in this run: target -> the first such clause."""
exitstatus_key = pytest.StashKey[int]()
"""The session's exit status, for ending a process that leaked threads would keep alive."""
kit_fixture_key = pytest.StashKey[bool]()
"""On a suite item: the kit's own ``chatstore`` fixture ran."""


def clause_of(item: pytest.Item) -> str | None:
    """The clause a suite test checks (its ``chatstore_clause`` mark), or None for any other test."""
    mark = item.get_closest_marker("chatstore_clause")
    return str(mark.args[0]) if mark is not None else None
