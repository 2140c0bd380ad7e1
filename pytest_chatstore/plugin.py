"""The pytest plugin: options, the clause marker, fixtures and hooks; nothing else.

Options come from :data:`pytest_chatstore.settings.SETTINGS`; adding the suite to
the run is :mod:`pytest_chatstore.collection`'s job, judging its results
:mod:`pytest_chatstore.outcome`'s, and testing a store
:mod:`pytest_chatstore.harness`'s.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_chatstore import budget, capabilities, collection, isolation, outcome, runner
from pytest_chatstore.attribution import KnownBroken, blocked
from pytest_chatstore.budget import Ledger
from pytest_chatstore.clauses import CLAUSES
from pytest_chatstore.driver import first_of_kind
from pytest_chatstore.failures import Hung, fail
from pytest_chatstore.harness import StoreUnderTest, real_time_batches
from pytest_chatstore.servers import RedisProvider
from pytest_chatstore.settings import SETTINGS, SettingError, resolve
from pytest_chatstore.stash import (
    batches_key,
    clause_of,
    contacted_key,
    crashes_key,
    deselected_key,
    detected_key,
    directories_key,
    exitstatus_key,
    isolate_key,
    kit_fixture_key,
    known_key,
    leaked_key,
    ledgers_key,
    processes_key,
    ran_key,
    redis_key,
    running_key,
    settings_key,
    sources_key,
    stuck_key,
    suite_items_key,
    suite_source_key,
    threads_key,
)
from pytest_chatstore.targets import Target, target_from_factory

CAPABILITIES_FIXTURE = "chatstore_capabilities"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("chatstore", "chat-store conformance (pytest-chatstore)")
    for s in SETTINGS:
        shown = f"{s.help}. Env {s.env}, ini {s.name}."
        if s.metavar is None:
            group.addoption(s.flag, action="store_true", default=False, help=shown)
        else:
            group.addoption(
                s.flag,
                action="append" if s.many else "store",
                default=[] if s.many else None,
                metavar=s.metavar,
                choices=s.choices,
                help=shown,
            )
        default: Any = False if s.ini_type == "bool" else [] if s.many else ""
        parser.addini(s.name, s.help, type=s.ini_type, default=default)  # type: ignore[arg-type]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "chatstore_clause(id): the conformance test that checks spec clause `id` (pytest-chatstore)"
    )
    config.addinivalue_line(
        "markers", "chatstore_slow: a conformance clause whose work grows most with the store's cost per call"
    )
    try:
        settings = resolve(
            config.getoption, config.getini, search_dir=config.invocation_params.dir, rootpath=config.rootpath
        )
    except SettingError as exc:
        raise pytest.UsageError(f"pytest-chatstore: {exc}") from None
    config.stash[settings_key] = settings
    config.stash[sources_key] = {}
    config.stash[directories_key] = {}
    config.stash[suite_items_key] = []
    config.stash[deselected_key] = set()
    config.stash[ran_key] = set()
    config.stash[known_key] = KnownBroken()
    config.stash[ledgers_key] = {}
    config.stash[contacted_key] = set()
    config.stash[detected_key] = {}
    config.stash[leaked_key] = []
    config.stash[stuck_key] = {}
    config.stash[isolate_key] = _isolation(config, settings)
    config.stash[threads_key] = set(threading.enumerate())  # not the store's: they ran before it
    config.stash[processes_key] = set()
    config.stash[redis_key] = RedisProvider(settings.redis)
    if any("redis_url" in t.accepts for t in settings.targets):
        problem = config.stash[redis_key].check_usage()
        if problem is not None:
            raise pytest.UsageError(f"pytest-chatstore: {problem}")
    config.stash[batches_key] = real_time_batches(
        list(settings.targets), timeout=settings.timeout, profile=settings.profile, redis=config.stash[redis_key]
    )
    config.pluginmanager.register(outcome.RecorderPlugin(config), "chatstore-recorder")


def _isolation(config: pytest.Config, settings: Any) -> str | None:
    """Why clauses run in forked children, or None: asked for, or the last run of a target crashed."""
    if settings.isolate:
        if not isolation.available():
            raise pytest.UsageError("pytest-chatstore: --chatstore-isolate needs os.fork (POSIX); this is not")
        return "--chatstore-isolate"
    crashed = isolation.crashed_before(config, [t.name for t in settings.targets])
    if crashed and isolation.available():
        where = ", ".join(f"{target} in {clause}" for target, clause in crashed.items())
        return f"automatically: the last run died ({where})"
    return None


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    if redis_key in config.stash:
        config.stash[redis_key].close()
    if config.stash.get(processes_key, None):  # helpers a store started here would outlive the run
        ended = isolation.end_processes(config.stash[processes_key] & isolation.child_processes())
        if ended:
            sys.stderr.write(
                f"pytest-chatstore: ended {len(ended)} process(es) the store under test started and left running "
                f"(pid {', '.join(map(str, ended))}); --chatstore-isolate ends them after each clause\n"
            )
    leaked = [t for t in config.stash.get(leaked_key, []) if t.is_alive()]
    if leaked:  # they would keep this process alive for ever, after every report was written
        names = ", ".join(sorted({t.name for t in leaked}))
        sys.stderr.write(
            f"pytest-chatstore: ending the process: the store under test left {len(leaked)} non-daemon thread(s) "
            f"running ({names}), which would keep it alive for ever; --chatstore-isolate contains them\n"
        )
        sys.stderr.flush()
        sys.stdout.flush()
        os._exit(config.stash.get(exitstatus_key, 1))


def pytest_sessionstart(session: pytest.Session) -> None:
    """Under xdist the controller runs no test: it builds each target once before the workers start, so that a
    target that cannot be built is one usage error here rather than a worker's exit (an xdist INTERNALERROR)."""
    config = session.config
    if not hasattr(config, "workerinput") and getattr(config.option, "numprocesses", None):
        for target in config.stash[settings_key].targets:
            _first_contact(config, target, controller=True)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    if config.stash.get(suite_items_key, None) and not config.stash[isolate_key]:
        # Store code ran here: its threads and timers get the time an isolated child gives them, before any report
        # says the run passed (a store that ends the process a moment after its last call is not certified).
        isolation.linger(config.stash[threads_key])
    config.stash[exitstatus_key] = int(exitstatus)
    recorder = config.pluginmanager.get_plugin("chatstore-recorder")
    if recorder is not None:
        for name, ledger in config.stash.get(ledgers_key, {}).items():
            overrun = ledger.overrun()
            if overrun is not None:
                recorder.recorder.budget_notes[name] = overrun
    if hasattr(config, "workerinput") or settings_key not in config.stash:
        return
    crashes = config.stash.get(crashes_key, {})
    for target in config.stash[settings_key].targets:  # the process did not die in a clause
        isolation.mark_running(config, target.name, None)
        if config.stash[isolate_key] and exitstatus != pytest.ExitCode.INTERRUPTED:
            isolation.mark_crashed(config, target.name, crashes.get(target.name))


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    settings = config.stash[settings_key]
    if not settings.targets:
        return None
    names = ", ".join(f"{t.spec} ({t.source})" for t in settings.targets)
    lines = [
        f"chatstore: {names}; hypothesis profile {settings.profile}; per-operation limit {settings.timeout:g} s; "
        f"budget {settings.budget:g} s per target"
    ]
    if config.stash[isolate_key]:
        lines.append(f"chatstore: each clause runs in a forked child process ({config.stash[isolate_key]})")
    return lines


@pytest.fixture(scope="session")
def chatstore_redis_server(pytestconfig: pytest.Config) -> Any:
    """The Redis server the kit manages (a ``RedisServer``: ``.url``, ``.kind``, ``.client()``)."""
    return pytestconfig.stash[redis_key]()


@pytest.fixture
def chatstore_redis_url(chatstore_redis_server: Any) -> str:
    """The URL of the kit's Redis database, emptied before the test (only keys the kit may delete)."""
    chatstore_redis_server.reset()
    url: str = chatstore_redis_server.url
    return url


# -- collection ---------------------------------------------------------------------------


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """With ``--chatstore-only``, no file of the project is collected (or imported).

    Directories are still walked, importing nothing, so that a ``chatstore_factory``
    fixture in a nested conftest stays attached to its directory.
    """
    if config.stash[settings_key].only and not collection_path.is_dir():
        return True
    return None


def pytest_collectstart(collector: pytest.Collector) -> None:
    if isinstance(collector, pytest.Directory):
        collector.config.stash[directories_key][collector.path] = collector


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    collection.add_suite(session, config, items)


def pytest_deselected(items: list[pytest.Item]) -> None:
    if items:
        items[0].config.stash[deselected_key].update(item.nodeid for item in items)


def pytest_collection_finish(session: pytest.Session) -> None:
    collection.refuse_tampering(session)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "chatstore" not in metafunc.fixturenames:
        return
    module = metafunc.definition.getparent(pytest.Module)
    source = module.stash.get(suite_source_key, "targets") if module is not None else "targets"
    fixture_target = collection.fixture_target()
    targets = list(metafunc.config.stash[settings_key].targets) if source == "targets" else [fixture_target]
    metafunc.parametrize("chatstore", targets, ids=[t.name for t in targets], indirect=True)


# -- the store under test -------------------------------------------------------------------


@pytest.fixture
def chatstore(request: pytest.FixtureRequest) -> Iterator[StoreUnderTest]:
    """The store under test (a :class:`pytest_chatstore.harness.StoreUnderTest`) for a suite test."""
    target: Target = request.param
    if target.source == "fixture":
        factory = request.getfixturevalue(collection.FACTORY_FIXTURE)
        target = target_from_factory(factory, name=collection.FACTORY_FIXTURE, spec=target.spec, source="fixture")
    settings = request.config.stash[settings_key]
    clause_id = clause_of(request.node) or "MDL-001"
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
    probes = {name for name, (present, _) in declared.items() if not present}
    expected = {c for c in CLAUSES if policy.expected_failure(c, target.name) is not None}
    sut = StoreUnderTest(
        target,
        timeout=settings.timeout,
        profile=settings.profile,
        clause=clause_id,
        batches=request.config.stash[batches_key] if target.source != "fixture" else None,
        redis=request.config.stash[redis_key],
        declared=declared,
        # A listed clause runs exactly the checks it would run unlisted; only a probe is settled.
        settled=bool(probes & set(CLAUSES[clause_id].requires)),
        reproduce=settings.reproduce.get(clause_id),
        scale=settings.scale,
        known_broken=request.config.stash[known_key].of(target.name) | expected,
        listed=frozenset(expected) - request.config.stash[known_key].of(target.name),
        unreadable=request.config.stash[known_key].unreadable(target.name) - expected,
        raising=request.config.stash[known_key].raising(target.name),
    )
    request.node.stash[kit_fixture_key] = True
    yield sut
    sut.close()
    request.config.stash[processes_key] |= isolation.started_since(request.node.stash.get(processes_key, set()))
    provider = request.config.stash[redis_key]
    if provider.server is not None:  # carried on the report, so xdist's controller can say which Redis was used
        fake = "" if provider.server.real else " [FAKE]"
        request.node.user_properties.append(
            ("chatstore_redis", provider.server.description + fake + provider.guarded())
        )
        changed = provider.trespass()
        if changed is not None:
            request.node.user_properties.append(("chatstore_guard", f"after {clause_id}: {changed}"))


def _ledger(config: pytest.Config, sut: StoreUnderTest) -> Ledger:
    """The target's budget; on its first clause, measured, and refused if its floors cannot fit."""
    ledgers = config.stash[ledgers_key]
    name = sut.target.name
    if name not in ledgers:
        problem = sut.first_contact()  # for a fixture's factory; a target's was checked before its first clause
        if problem is not None:
            pytest.exit(f"pytest-chatstore: {problem}", returncode=pytest.ExitCode.USAGE_ERROR)
        settings = config.stash[settings_key]
        clauses = [
            clause_of(item) or ""
            for item in config.stash[suite_items_key]
            if getattr(item, "callspec", None) is not None and item.callspec.params["chatstore"].name == name  # type: ignore[attr-defined]
        ]
        try:
            cost = sut.measure_cost()
        except (Exception, Hung, pytest.fail.Exception, pytest.skip.Exception):  # noqa: BLE001
            cost = budget.KIT_OVERHEAD  # a store that cannot even do this fails in the clause's own check
        ledgers[name] = Ledger(settings.budget, settings.profile, cost, clauses)
        # The budget starts, then plans: a first measurement is a guess (a lazy connection, a cold cache), so
        # floors that seem not to fit never stop the run; each clause is planned from what the run observes,
        # and the summary says at the end where the floors did not fit.
        needed = budget.floor_seconds(clauses, cost, settings.profile)
        if needed > settings.budget * (1 - budget.RESERVE):
            ledgers[name].note = (
                f"the floors of evidence of {len(clauses)} clause(s) looked like about {needed:.0f} s at "
                f"{cost * 1000:.1f} ms per call before the first clause, more than the budget of {settings.budget:g} s"
            )
    return ledgers[name]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> bool | None:
    """A suite test runs in a forked child when isolating; else its clause is noted as running (a crash
    then leaves the note, and the next run isolates)."""
    config = item.config
    clause_id = clause_of(item)
    if clause_id is None or item not in config.stash[suite_items_key]:
        return None
    item.stash[processes_key] = isolation.child_processes()  # those started from here on are the store's
    if "redis_url" in item.callspec.params["chatstore"].accepts:  # type: ignore[attr-defined]
        with contextlib.suppress(pytest.fail.Exception):  # before any store code (the guard's baseline), once
            config.stash[redis_key]()
    _first_contact(config, item.callspec.params["chatstore"])  # type: ignore[attr-defined]
    target = item.callspec.params["chatstore"].name  # type: ignore[attr-defined]
    config.stash[running_key] = (target, clause_id, time.monotonic())
    if not config.stash[isolate_key]:
        isolation.mark_running(config, target, clause_id)
        return None
    timeout = config.stash[settings_key].timeout
    item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
    reports = isolation.run_forked(item, quiet_for=6 * timeout + 120)
    isolation.release(item, reports)
    for report in reports:
        item.ihook.pytest_runtest_logreport(report=report)
    item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
    return True


def _first_contact(config: pytest.Config, target: Target, *, controller: bool = False) -> None:
    """Before a target's first clause, in this process (never in an isolated child), build one store: a target
    that cannot be built stops the run with one usage error. A fixture's factory is checked in its first clause."""
    if target.source == "fixture" or target.name in config.stash[contacted_key]:
        return
    config.stash[contacted_key].add(target.name)
    settings = config.stash[settings_key]

    def build_one() -> str | None:
        probe = StoreUnderTest(
            target, timeout=settings.timeout, profile=settings.profile, redis=config.stash[redis_key]
        )
        try:
            return probe.first_contact()
        finally:
            probe.close()

    # Isolated, or in xdist's controller, no store code runs in this process (a store may leak a thread that
    # keeps a process from exiting, or kill it): the store is built in a child of its own.
    in_child = (config.stash[isolate_key] or controller) and isolation.available()
    problem = isolation.answer_in_child(build_one, quiet_for=3 * settings.timeout) if in_child else build_one()
    if problem is not None:  # a wiring mistake, not 56 store bugs: one message, exit 4, nothing written
        pytest.exit(f"pytest-chatstore: {problem}", returncode=pytest.ExitCode.USAGE_ERROR)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    item.stash[threads_key] = set(threading.enumerate())


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    """Around a suite test's body: its clause's capabilities first, leaked threads after.

    A missing capability skips, a declared-absent one that the store shows is probed, and a
    store that cannot even be built fails the clause (not the fixture's setup). A store that
    leaves non-daemon threads running fails the clause: a process using it could never exit.
    """
    __tracebackhide__ = True
    clause_id = clause_of(item)
    sut = getattr(item, "funcargs", {}).get("chatstore")
    if clause_id is None or not isinstance(sut, StoreUnderTest):
        return (yield)
    stuck = item.config.stash[stuck_key]
    still = [(c, name) for c, name, future in stuck.get(sut.target.name, []) if not future.done()]
    if still:
        detected = item.config.stash[detected_key].get(sut.target.name)
        if detected is not None:  # what an earlier clause saw: a clause the store cannot run is skipped, not blocked
            sut.assume_detected(detected)
            sut.require_clause(clause_id)
        first, name = still[0]
        raise blocked(
            clause_id,
            first,
            f"the store's {name}() hung in {first}'s check and has still not returned: a store with a call stuck "
            "inside it cannot be checked (fix the hang, or raise --chatstore-timeout if the call is only slow)",
        )
    ledger = _ledger(item.config, sut)
    sut.plan(ledger.allowance(clause_id), ledger.cost)
    start = time.perf_counter()
    try:
        sut.require_clause(clause_id)
        item.config.stash[detected_key][sut.target.name] = sut.detected
        result = yield
    finally:
        stuck.setdefault(sut.target.name, []).extend((clause_id, n, f) for n, f in sut.runner.abandoned)
        # Real-time waits are no calls, and calls in concurrent bursts overlap: neither shows what one costs.
        counted = not sut.real_time and CLAUSES[clause_id].group != "concurrency"
        ledger.record(clause_id, time.perf_counter() - start, sut.calls, counted=counted, methods=sut.runner.seconds_in)
    leaked = isolation.leaked_threads(item.stash.get(threads_key, set()))
    if leaked:
        item.config.stash[leaked_key].extend(leaked)
        names = ", ".join(sorted({t.name for t in leaked}))
        fail(
            clause_id,
            f"the store left {len(leaked)} non-daemon thread(s) running after the check ({names}): a process "
            "that uses it can never exit",
        )
    armed = runner.fatal_timers()  # armed outside a single call (a factory, a burst): calls are checked one by one
    if armed:  # disarmed, or the run would die with the store's alarm and give no verdict
        what = runner.disarm(armed)
        met = first_of_kind(sut.raising, armed[0].signal_name)
        if met is not None and met in sut.known_broken:  # the same harm, met first by another check
            raise blocked(clause_id, met, what)
        fail(clause_id, what)
    return result


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Apply the gate to a suite test's result: expected failures, advisory clauses, probes, refusals."""
    report = yield
    if clause_of(item) is None or item not in item.config.stash[suite_items_key]:
        return report
    if call.when == "teardown" or (call.when == "setup" and report.passed):
        return report
    outcome.judge_report(item, call, report)
    return report
