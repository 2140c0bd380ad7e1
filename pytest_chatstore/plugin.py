"""The pytest plugin: options, markers, fixtures and hooks; nothing else. Options come from the settings table;
adding the suite is :mod:`.collection`'s job, building the store under test :mod:`.building`'s, what happens around
each clause :mod:`.containment`'s, judging and recording results :mod:`.outcome`'s.

pytest loads this module in every run where the package is installed, so it imports only the settings table and
the stash keys; the hooks import the rest once the kit is in use (a target, a report to write, a
``chatstore_factory`` fixture, or a suite result reaching xdist's controller).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_chatstore.run.settings import SettingError, add_options, header_lines, resolve
from pytest_chatstore.run.stash import (
    begin_run,
    clause_of,
    forget_unloaded_submodules,
    kit_fixture_key,
    run_key,
    run_state,
    suite_source_key,
    threads_key,
)

if TYPE_CHECKING:
    from pytest_chatstore.harness.store import StoreUnderTest
    from pytest_chatstore.run.outcome import RecorderPlugin

RECORDER = "chatstore-recorder"
MARKERS = (
    "chatstore_clause(id): the conformance test that checks spec clause `id` (pytest-chatstore)",
    "chatstore_slow: a conformance clause whose work grows most with the store's cost per call",
)


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    forget_unloaded_submodules()
    for marker in MARKERS:
        config.addinivalue_line("markers", marker)
    try:
        settings = resolve(
            config.getoption, config.getini, search_dir=config.invocation_params.dir, rootpath=config.rootpath
        )
    except SettingError as exc:
        from pytest_chatstore.report.render import write_no_verdict  # no older report survives where CI reads it

        write_no_verdict(exc.reports, f"a usage error stopped the run before any clause ran: {exc}")
        raise pytest.UsageError(f"pytest-chatstore: {exc}") from None
    begin_run(config, settings)
    if settings.targets or settings.reports or settings.isolate:
        from pytest_chatstore.run import containment

        containment.start(config, settings)
        _recorder(config)
    elif config.getoption("numprocesses", None) and not hasattr(config, "workerinput"):
        config.pluginmanager.register(_LateRecorder(config), "chatstore-late-recorder")
    # else nothing is named yet: a chatstore_factory fixture may still bring the suite, at collection


def _recorder(config: pytest.Config) -> RecorderPlugin | None:
    """The run's recorder (results, summary, reports), registered when the kit is first in use."""
    plugin: RecorderPlugin | None = config.pluginmanager.get_plugin(RECORDER)
    if plugin is None and not config.pluginmanager.is_blocked(RECORDER):
        from pytest_chatstore.run.outcome import RecorderPlugin

        plugin = RecorderPlugin(config)
        config.pluginmanager.register(plugin, RECORDER)
    return plugin


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    if run_key not in config.stash:  # a usage error stopped the run before it began
        return
    if "pytest_chatstore.engine.runner" in sys.modules:  # a store was called: streams a Ctrl-C left closed
        sys.modules["pytest_chatstore.engine.runner"].repair_streams()
    state = run_state(config)
    state.redis.close()
    if state.processes or state.leaked:
        from pytest_chatstore.run import isolation

        isolation.end_left_behind(config)  # helper processes; non-daemon threads would keep the process alive


def pytest_sessionstart(session: pytest.Session) -> None:
    """Under xdist the controller runs no test: it builds each target once before the workers start, so that a
    target that cannot be built is one usage error here rather than a worker's exit (an xdist INTERNALERROR)."""
    config = session.config
    targets = run_state(config).settings.targets
    if targets and not hasattr(config, "workerinput") and config.getoption("numprocesses", None):
        from pytest_chatstore.run import building

        for target in targets:
            building.first_contact(config, target, controller=True)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    run_state(config).exitstatus = int(exitstatus)
    recorder = config.pluginmanager.get_plugin(RECORDER)
    if recorder is None and not run_state(config).settings.targets:
        return  # the kit was not used
    from pytest_chatstore.run import containment

    containment.finish_session(config, getattr(recorder, "recorder", None), exitstatus)


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    return header_lines(run_state(config).settings, run_state(config).isolate) or None


@pytest.fixture(scope="session")
def chatstore_redis_server(pytestconfig: pytest.Config) -> Any:
    """The Redis server the kit manages (a ``RedisServer``: ``.url``, ``.kind``, ``.client()``)."""
    return run_state(pytestconfig).redis()


@pytest.fixture
def chatstore_redis_url(chatstore_redis_server: Any) -> str:
    """The URL of the kit's Redis database, emptied before the test (only keys the kit may delete)."""
    chatstore_redis_server.reset()
    return str(chatstore_redis_server.url)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """With ``--chatstore-only``, no file of the project is collected (or imported); directories are still walked,
    importing nothing, so that a ``chatstore_factory`` fixture in a nested conftest stays attached to its directory."""
    return True if run_state(config).settings.only and not collection_path.is_dir() else None


def pytest_collectstart(collector: pytest.Collector) -> None:
    if isinstance(collector, pytest.Directory):
        run_state(collector.config).directories[collector.path] = collector


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    from pytest_chatstore.run import collection

    if run_state(config).settings.targets or collection.factory_homes(config):
        _recorder(config)  # before the suite's deselections reach it
        collection.add_suite(session, config, items)


def pytest_deselected(items: list[pytest.Item]) -> None:
    if items:
        run_state(items[0].config).deselected.update(item.nodeid for item in items)


def pytest_collection_finish(session: pytest.Session) -> None:
    if run_state(session.config).suite_items:
        from pytest_chatstore.run import collection

        collection.refuse_tampering(session)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "chatstore" not in metafunc.fixturenames:
        return
    from pytest_chatstore.run import collection

    module = metafunc.definition.getparent(pytest.Module)
    from_fixture = module is not None and module.stash.get(suite_source_key, "targets") != "targets"
    targets = [collection.fixture_target()] if from_fixture else list(run_state(metafunc.config).settings.targets)
    metafunc.parametrize("chatstore", targets, ids=[t.name for t in targets], indirect=True)


@pytest.fixture
def chatstore(request: pytest.FixtureRequest) -> Iterator[StoreUnderTest]:
    """The store under test (a :class:`pytest_chatstore.harness.store.StoreUnderTest`) for a suite test."""
    from pytest_chatstore.run import building

    sut = building.store_under_test(request)
    yield sut
    building.after_clause(request, sut)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> bool | None:
    """A suite test runs in a forked child when isolating (see :func:`.containment.run_protocol`)."""
    clause_id = clause_of(item)
    if clause_id is None or item not in run_state(item.config).suite_items:
        return None
    from pytest_chatstore.run import containment

    return containment.run_protocol(item, clause_id)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    if clause_of(item) is not None:
        item.stash[threads_key] = set(threading.enumerate())


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    """Around a suite test's body (see :func:`pytest_chatstore.run.containment.around_clause`)."""
    __tracebackhide__ = True
    clause_id = clause_of(item)
    if clause_id is None or not item.stash.get(kit_fixture_key, False):
        return (yield)
    from pytest_chatstore.run import containment

    with containment.around_clause(item, item.funcargs["chatstore"], clause_id):  # type: ignore[attr-defined]
        return (yield)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Apply the gate to a suite test's result: expected failures, advisory clauses, probes, refusals."""
    report = yield
    if clause_of(item) is None or item not in run_state(item.config).suite_items:
        return report
    if call.when == "teardown" or (call.when == "setup" and report.passed):
        return report
    from pytest_chatstore.run import outcome

    outcome.judge_report(item, call, report)
    return report


class _LateRecorder:
    """In xdist's controller, which collects nothing, the first suite result brings the recorder (a
    ``chatstore_factory`` fixture is seen only by the workers)."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        late = self.config.pluginmanager.get_plugin(RECORDER) is None and hasattr(report, "chatstore")
        recorder = _recorder(self.config) if late else None
        if recorder is not None:
            recorder.pytest_runtest_logreport(report)
