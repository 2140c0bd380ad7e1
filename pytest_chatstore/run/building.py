"""Building the store under test: a target's first contact, a clause's ``StoreUnderTest``, a target's budget.

The plugin's ``chatstore`` fixture and hooks call these; each takes what pytest hands a hook (the request,
the config) and returns a whole object, so that the plugin holds no logic of its own.
"""

from __future__ import annotations

import pytest

from pytest_chatstore.engine import budget, capabilities
from pytest_chatstore.engine.budget import Ledger
from pytest_chatstore.engine.failures import FactoryFailed, Hung
from pytest_chatstore.engine.targets import Target, target_from_factory
from pytest_chatstore.harness.store import StoreUnderTest
from pytest_chatstore.report.render import write_no_verdict
from pytest_chatstore.run import collection, isolation
from pytest_chatstore.run.stash import (
    checks_processes_key,
    clause_of,
    kit_fixture_key,
    processes_key,
    run_state,
    xdist_workers,
)
from pytest_chatstore.spec.clauses import CLAUSES, MODEL

CAPABILITIES_FIXTURE = "chatstore_capabilities"


def store_under_test(request: pytest.FixtureRequest) -> StoreUnderTest:
    """The ``StoreUnderTest`` of the clause ``request`` runs, its capabilities declared from every source (the
    target, the ``chatstore_capabilities`` fixture, ``[tool.chatstore]``, ini, environment, command line) and its
    known-broken rules from the run so far and the expected-failure list."""
    target: Target = request.param
    if target.source == "fixture":
        factory = request.getfixturevalue(collection.FACTORY_FIXTURE)
        target = target_from_factory(factory, name=collection.FACTORY_FIXTURE, spec=target.spec, source="fixture")
    config = request.config
    request.node.stash[checks_processes_key] = isolation.child_processes()  # the store's from here on
    settings = run_state(config).settings
    clause_id = clause_of(request.node) or MODEL
    try:
        from_fixture = request.getfixturevalue(CAPABILITIES_FIXTURE)
    except pytest.FixtureLookupError:
        from_fixture = {}
    policy = settings.policy
    declared = capabilities.declarations(
        target.name,
        target.factory,
        from_fixture,
        f"the {CAPABILITIES_FIXTURE} fixture",
        policy.capabilities,
        policy.capability_source,
    )
    declared_absent = {name for name, (present, _) in declared.items() if not present}
    expected = {c for c in CLAUSES if policy.expected_failure(c, target.name) is not None}
    known = run_state(config).known
    request.node.stash[kit_fixture_key] = True
    return StoreUnderTest(
        target,
        timeout=settings.timeout,
        profile=settings.profile,
        clause=clause_id,
        batches=run_state(config).batches if target.source != "fixture" else None,
        redis=run_state(config).redis,
        declared=declared,
        # A listed clause runs exactly the checks it would run unlisted; only a probe is settled.
        settled=bool(declared_absent & set(CLAUSES[clause_id].requires)),
        reproduce=settings.reproduce.get(clause_id),
        scale=settings.scale,
        known_broken=known.of(target.name) | expected,
        listed=frozenset(expected) - known.of(target.name),
        unreadable=known.unreadable(target.name) - expected,
        raising=known.raising(target.name),
    )


def after_clause(request: pytest.FixtureRequest, sut: StoreUnderTest) -> None:
    """Once a clause's store is closed: the processes it started and left running, ended now (but those of the
    target's first store build, the factory's, which end with the run), and on a Redis server which server it was
    and whether data outside the kit's database changed (carried on the report, so that xdist's controller can
    say them)."""
    sut.close()
    config = request.config
    state = run_state(config)
    running = isolation.started_since(set())  # one look: the children but the kit's and multiprocessing's
    stray = running - request.node.stash.get(checks_processes_key, set()) - state.spared
    if stray:
        commands = {pid: isolation.command_of(pid) for pid in sorted(stray)}
        ended = isolation.end_processes(stray)
        if ended:
            named = "; ".join(
                f"{len(pids)} x {command} (pid {', '.join(map(str, pids[:3]))}{', ...' if len(pids) > 3 else ''})"
                for command in dict.fromkeys(commands[pid] for pid in ended)
                for pids in [[pid for pid in ended if commands[pid] == command]]
            )
            request.node.user_properties.append(
                (
                    "chatstore_ended",
                    f"after {sut.clause}: ended {len(ended)} process(es) the store started during the clause and "
                    f"left running: {named}",
                )
            )
    state.processes |= running - request.node.stash.get(processes_key, set()) - stray
    provider = run_state(config).redis
    if provider.server is not None:
        fake = "" if provider.server.real else " [FAKE]"
        request.node.user_properties.append(
            ("chatstore_redis", provider.server.description + fake + provider.guarded())
        )
        changed = provider.trespass()
        if changed is not None:
            request.node.user_properties.append(("chatstore_guard", f"after {sut.clause}: {changed}"))


def first_contact(config: pytest.Config, target: Target, *, controller: bool = False) -> None:
    """Before a target's first clause, in this process (never in an isolated child), build one store: a target
    that cannot be built stops the run with one usage error. A fixture's factory is checked in its first clause."""
    if target.source == "fixture" or target.name in run_state(config).contacted:
        return
    run_state(config).contacted.add(target.name)
    settings = run_state(config).settings

    def build_one() -> str | None:
        probe = StoreUnderTest(
            target, timeout=settings.timeout, profile=settings.profile, redis=run_state(config).redis
        )
        try:
            return probe.first_contact()
        finally:
            probe.close()

    if controller and "redis_url" in target.accepts:
        run_state(config).redis.look_before_workers(int(config.getoption("numprocesses") or 1))
    # Isolated, or in xdist's controller, no store code runs in this process (a store may leak a thread that
    # keeps a process from exiting, or kill it): the store is built in a child of its own.
    in_child = (run_state(config).isolate or controller) and isolation.available()
    if in_child:
        problem = isolation.answer_in_child(build_one, quiet_for=3 * settings.timeout)
    else:
        with isolation.sparing(run_state(config).spared):  # a server the factory starts once is the factory's
            problem = build_one()
    if controller:
        run_state(config).redis.look(f"when xdist's controller built a {target.name} store before the workers started")
    if problem is not None:  # a wiring mistake, not 56 store bugs: one message, exit 4, no reproduction written
        _refuse(config, problem)


def _refuse(config: pytest.Config, problem: str) -> None:
    """Stop the run with one usage error (exit 4); the report files say why, with no verdict."""
    why = run_state(config).refused = f"a usage error stopped the run before any clause ran: {problem}"
    settings = run_state(config).settings
    if not hasattr(config, "workerinput"):  # xdist's controller may never reach its session's end
        write_no_verdict(settings.reports, why, settings.policy, settings.budget)
    pytest.exit(f"pytest-chatstore: {problem}", returncode=pytest.ExitCode.USAGE_ERROR)


def ledger(config: pytest.Config, sut: StoreUnderTest) -> Ledger:
    """The target's budget; on its first clause, measured (a fixture's factory is first checked here)."""
    ledgers = run_state(config).ledgers
    name = sut.target.name
    if name in ledgers:
        return ledgers[name]
    spared = run_state(config).spared if sut.target.source == "fixture" else set()
    with isolation.sparing(spared):  # a fixture's factory's first store: a server it starts is its own
        problem = sut.first_contact()  # for a fixture's factory; a target's was checked before its first clause
    if problem is not None:
        _refuse(config, problem)
    settings = run_state(config).settings
    clauses = [
        clause_of(item) or ""
        for item in run_state(config).suite_items
        if getattr(item, "callspec", None) is not None and item.callspec.params["chatstore"].name == name  # type: ignore[attr-defined]
    ]
    try:
        cost, cpu = sut.measure_cost()
    except (Exception, Hung, FactoryFailed, pytest.fail.Exception, pytest.skip.Exception):  # noqa: BLE001
        cost = cpu = budget.KIT_OVERHEAD  # a store that cannot even do this fails in the clause's own check
    most = sut.shards() if settings.overlap is None else min(settings.overlap, sut.shards())
    if run_state(config).isolate:
        # An isolated child's death is charged to the call it was in: one call at a time, so that the call is known
        # (on a loaded machine a fast store's calls looked like waiting, and a crash was named in another part's call).
        most = 1
    overlap = budget.concurrency(cost, cpu, most)
    workers = xdist_workers()
    ledgers[name] = Ledger(settings.budget, settings.profile, cost, clauses, overlap=overlap, cpu=cpu, workers=workers)
    # The budget starts, then plans: a first measurement is a guess (a lazy connection, a cold cache), so floors
    # that seem not to fit never stop the run; each clause is planned from what the run observes, and the summary
    # says at the end where the floors did not fit.
    needed = budget.floor_seconds(clauses, cost, settings.profile, ledgers[name].speedup) / workers
    if needed > settings.budget * (1 - budget.RESERVE):
        ledgers[name].note = (
            f"the floors of evidence of {len(clauses)} clause(s) looked like about {needed:.0f} s at "
            f"{cost * 1000:.1f} ms per call before the first clause, more than the budget of {settings.budget:g} s"
        )
    return ledgers[name]
