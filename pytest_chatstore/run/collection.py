"""Collection: adding the suite to the run for each target, and refusing a run whose suite was tampered with.

The suite is added to whatever pytest collects when a target is configured
(``--chatstore``, ini ``chatstore``, env ``CHATSTORE``) or when a conftest or
plugin defines a ``chatstore_factory`` fixture (then only under that conftest's
directory, where the fixture is visible).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from pytest_chatstore.run.stash import (
    clause_of,
    run_state,
    suite_source_key,
    xdist_workers,
)
from pytest_chatstore.spec.clauses import CLAUSES, SLOW

if TYPE_CHECKING:  # the targets module loads importlib and asyncio: only once a suite is collected
    from pytest_chatstore.engine.targets import Target

SUITE_DIR = Path(__file__).parent.parent / "suite"
SUITE_FILES = (
    "test_core.py",
    "test_data.py",
    "test_async.py",
    "test_instances.py",
    "test_concurrency.py",
    "test_production.py",
    "test_tail.py",
    "test_faults.py",
    "test_ttl.py",
    "test_model.py",
)
FACTORY_FIXTURE = "chatstore_factory"


def factory_homes(config: pytest.Config) -> list[Path | None]:
    """Where ``chatstore_factory`` fixtures are defined: a conftest's directory, or None for a plugin."""
    homes: list[Path | None] = []
    for plugin in config.pluginmanager.get_plugins():
        if hasattr(plugin, FACTORY_FIXTURE):
            file = getattr(plugin, "__file__", None)
            if file and Path(file).name == "conftest.py" and Path(file).parent.is_relative_to(config.rootpath):
                homes.append(Path(file).parent)
            elif None not in homes:
                homes.append(None)
    return homes


def _inject(session: pytest.Session, parent: pytest.Session | pytest.Directory, source: str) -> list[pytest.Item]:
    prefix = "" if isinstance(parent, pytest.Session) else parent.nodeid + "/"
    items: list[pytest.Item] = []
    for name in SUITE_FILES:
        module = pytest.Module.from_parent(parent, path=SUITE_DIR / name, nodeid=f"{prefix}chatstore/{name}")
        module.stash[suite_source_key] = source
        items.extend(session.genitems(module))
    return items


def add_suite(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """Collect the suite for every target and fixture, tag its items, apply ``--chatstore-clauses``."""
    from pytest_chatstore.engine.attribution import ANSWER_RULES, FOCUSED
    from pytest_chatstore.engine.targets import Target

    settings = run_state(config).settings
    suite: list[pytest.Item] = []
    if settings.targets:
        suite += _inject(session, session, "targets")
    directories = run_state(config).directories
    for home in factory_homes(config):
        if home is None or home == config.rootpath:
            suite += _inject(session, session, "fixture")
        elif home in directories:  # a conftest's fixtures are visible only under its own directory
            suite += _inject(session, directories[home], "fixture")
    # Focused clauses first (those on the shape of answers before the others, and among them FID-001, whose
    # rule is the messages' content wherever it is read), composite ones after: a composite check then knows
    # which rules are already broken.
    answer_shapes = set(ANSWER_RULES.values())
    suite.sort(
        key=lambda item: (
            clause_of(item) not in FOCUSED,
            clause_of(item) not in answer_shapes,
            clause_of(item) != ANSWER_RULES["get"],
        )
    )
    kept: list[pytest.Item] = []
    for item in suite:
        clause_id = clause_of(item)
        callspec = getattr(item, "callspec", None)
        target = callspec.params.get("chatstore") if callspec is not None else None
        if clause_id is None or not isinstance(target, Target):
            continue
        clause = CLAUSES[clause_id]
        item.user_properties += [
            ("chatstore_clause", clause_id),
            ("chatstore_level", clause.level),
            ("chatstore_group", clause.group),
            ("chatstore_target", target.name),
        ]
        if clause_id in SLOW:
            item.add_marker(pytest.mark.chatstore_slow)
        run_state(config).sources[target.name] = target.source
        if settings.policy.selected(clause_id):
            kept.append(item)
    dropped = [item for item in suite if item not in kept]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    if hasattr(config, "workerinput"):  # an xdist worker: every worker orders the same way, as xdist requires
        kept = long_first(kept, settings.profile, xdist_workers())
    run_state(config).suite_items = kept
    if settings.only:
        items[:] = kept
    else:
        items.extend(kept)


def long_first(items: list[pytest.Item], profile: str, workers: int) -> list[pytest.Item]:
    """``items`` with the clauses that are long beside ``workers`` workers' shares first, longest first, the
    others in their order: xdist hands out the first items first, so a long clause starts at once on one worker
    while the others share the rest, instead of starting last and keeping the run waiting on it. Long: at least
    half of one worker's share of the calls of the whole selection."""
    from pytest_chatstore.engine import budget

    calls = {item: budget.work(clause_of(item) or "").calls(profile) for item in items}
    share = sum(calls.values()) / max(1, workers)
    return sorted(items, key=lambda item: -calls[item] if calls[item] * 2 >= share else 0.0)


def refuse_tampering(session: pytest.Session) -> None:
    """Refuse a run whose suite tests were removed or replaced instead of deselected or declared."""
    config = session.config
    present = {item.nodeid for item in session.items}
    suite = run_state(config).suite_items
    missing = [i.nodeid for i in suite if i.nodeid not in present and i.nodeid not in run_state(config).deselected]
    replaced = [
        i.nodeid
        for i in session.items
        if i in suite
        and isinstance(i, pytest.Function)
        and not Path(i.function.__code__.co_filename).is_relative_to(SUITE_DIR)
    ]
    problems = []
    if missing:
        problems.append(f"{len(missing)} suite test(s) were removed from the run: {', '.join(missing[:5])}")
    if replaced:
        problems.append(f"{len(replaced)} suite test(s) were replaced by other code: {', '.join(replaced[:5])}")
    if problems:
        raise pytest.UsageError(
            "pytest-chatstore refuses this run: "
            + "; ".join(problems)
            + ". The suite is the spec: leave clauses out with --chatstore-clauses, declare capabilities, "
            "or list known failures in [tool.chatstore.expected-failures]."
        )


def fixture_target() -> Target:
    """The placeholder target of a ``chatstore_factory`` fixture (the factory itself is known only in a test)."""
    from pytest_chatstore.engine.targets import Target

    return Target(name=FACTORY_FIXTURE, spec=f"fixture:{FACTORY_FIXTURE}", source="fixture", factory=lambda: None)
