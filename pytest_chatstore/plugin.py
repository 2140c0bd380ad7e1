"""The pytest plugin: options, the clause marker, the ``chatstore`` fixture, and a few hooks.

Everything else (targets, the model, the suite, reporting) lives in plain
modules. The suite is added to whatever pytest collects when a target is
configured (``--chatstore``, ini ``chatstore``, env ``CHATSTORE``) or when a
conftest or plugin defines a ``chatstore_factory`` fixture.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_chatstore.harness import RealTimeBatches, StoreUnderTest
from pytest_chatstore.report import Outcome, summary_lines
from pytest_chatstore.servers import RedisProvider
from pytest_chatstore.settings import REDIS_KINDS, SettingError, Settings, resolve
from pytest_chatstore.targets import Target, target_from_factory

SUITE_DIR = Path(__file__).parent / "suite"
SUITE_FILES = (
    "test_core.py",
    "test_data.py",
    "test_async.py",
    "test_concurrency.py",
    "test_ttl.py",
    "test_model.py",
)
FACTORY_FIXTURE = "chatstore_factory"

settings_key = pytest.StashKey[Settings]()
sources_key = pytest.StashKey[dict[str, str]]()
directories_key = pytest.StashKey[dict[Path, pytest.Directory]]()
suite_source_key = pytest.StashKey[str]()  # on an injected suite module: "targets" or "fixture"
batches_key = pytest.StashKey[RealTimeBatches]()
redis_key = pytest.StashKey[RedisProvider]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("chatstore", "chat-store conformance (pytest-chatstore)")
    group.addoption(
        "--chatstore",
        action="append",
        default=[],
        metavar="MODULE:ATTR",
        help="run the conformance suite against this store class or factory (repeatable). "
        "Env CHATSTORE, ini chatstore.",
    )
    group.addoption(
        "--chatstore-only",
        action="store_true",
        default=False,
        help="collect only the conformance suite, not the project's own tests. Ini chatstore_only.",
    )
    group.addoption(
        "--chatstore-timeout",
        default=None,
        metavar="SECONDS",
        help="per-operation time limit; a store call taking longer fails its clause (default 10). "
        "Env CHATSTORE_TIMEOUT, ini chatstore_timeout.",
    )
    group.addoption(
        "--chatstore-hypothesis",
        default=None,
        metavar="PROFILE",
        help="example budget: default, ci (derandomized; the default when CI is set) or thorough. "
        "Env CHATSTORE_HYPOTHESIS, ini chatstore_hypothesis.",
    )
    group.addoption(
        "--chatstore-redis",
        default=None,
        choices=REDIS_KINDS,
        help="where the Redis server for targets taking redis_url comes from (default auto: url, docker, "
        "binary, fakeredis). Env CHATSTORE_REDIS, ini chatstore_redis.",
    )
    group.addoption(
        "--chatstore-redis-url",
        default=None,
        metavar="URL",
        help="use this Redis server (an empty database of it; default index 15). Env CHATSTORE_REDIS_URL, "
        "ini chatstore_redis_url.",
    )
    group.addoption(
        "--chatstore-require-real-redis",
        action="store_true",
        default=False,
        help="fail instead of falling back to fakeredis. Env CHATSTORE_REQUIRE_REAL_REDIS, "
        "ini chatstore_require_real_redis.",
    )
    parser.addini("chatstore", "store targets (MODULE:ATTR), one per line", type="linelist", default=[])
    parser.addini("chatstore_redis", "Redis source: auto, url, docker, binary or fakeredis", default="")
    parser.addini("chatstore_redis_url", "Redis server URL for the suite", default="")
    parser.addini("chatstore_require_real_redis", "no fakeredis fallback", type="bool", default=False)
    parser.addini("chatstore_only", "collect only the conformance suite", type="bool", default=False)
    parser.addini("chatstore_timeout", "per-operation time limit in seconds", default="")
    parser.addini("chatstore_hypothesis", "Hypothesis profile for the suite", default="")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "chatstore_clause(id): the conformance test that checks spec clause `id` (pytest-chatstore)"
    )
    try:
        config.stash[settings_key] = resolve(config.getoption, config.getini, search_dir=config.invocation_params.dir)
    except SettingError as exc:
        raise pytest.UsageError(f"pytest-chatstore: {exc}") from None
    config.stash[sources_key] = {}
    config.stash[directories_key] = {}
    settings = config.stash[settings_key]
    config.stash[redis_key] = RedisProvider(settings)
    config.stash[batches_key] = RealTimeBatches(
        list(settings.targets), timeout=settings.timeout, profile=settings.profile, redis=config.stash[redis_key]
    )
    config.pluginmanager.register(_Recorder(config), "chatstore-recorder")


def pytest_unconfigure(config: pytest.Config) -> None:
    if redis_key in config.stash:
        config.stash[redis_key].close()


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


def _factory_homes(config: pytest.Config) -> list[Path | None]:
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


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    settings = config.stash[settings_key]
    suite: list[pytest.Item] = []
    if settings.targets:
        suite += _inject(session, session, "targets")
    directories = config.stash[directories_key]
    for home in _factory_homes(config):
        if home is None or home == config.rootpath:
            suite += _inject(session, session, "fixture")
        elif home in directories:  # a conftest's fixtures are visible only under its own directory
            suite += _inject(session, directories[home], "fixture")
    for item in suite:
        clause_mark = item.get_closest_marker("chatstore_clause")
        callspec = getattr(item, "callspec", None)
        target = callspec.params.get("chatstore") if callspec is not None else None
        if clause_mark is not None and isinstance(target, Target):
            item.user_properties += [("chatstore_clause", clause_mark.args[0]), ("chatstore_target", target.name)]
            config.stash[sources_key][target.name] = target.source
    if settings.only:
        items[:] = suite
    else:
        items.extend(suite)


def _fixture_target() -> Target:
    return Target(name=FACTORY_FIXTURE, spec=f"fixture:{FACTORY_FIXTURE}", source="fixture", factory=lambda: None)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "chatstore" not in metafunc.fixturenames:
        return
    module = metafunc.definition.getparent(pytest.Module)
    source = module.stash.get(suite_source_key, "targets") if module is not None else "targets"
    targets = list(metafunc.config.stash[settings_key].targets) if source == "targets" else [_fixture_target()]
    metafunc.parametrize("chatstore", targets, ids=[t.name for t in targets], indirect=True)


@pytest.fixture
def chatstore(request: pytest.FixtureRequest) -> Iterator[StoreUnderTest]:
    """The store under test (a :class:`pytest_chatstore.harness.StoreUnderTest`) for a suite test."""
    target: Target = request.param
    if target.source == "fixture":
        factory = request.getfixturevalue(FACTORY_FIXTURE)
        target = target_from_factory(factory, name=FACTORY_FIXTURE, spec=target.spec, source="fixture")
    settings = request.config.stash[settings_key]
    mark = request.node.get_closest_marker("chatstore_clause")
    sut = StoreUnderTest(
        target,
        timeout=settings.timeout,
        profile=settings.profile,
        clause=mark.args[0] if mark else "MDL-001",
        batches=request.config.stash[batches_key] if target.source != "fixture" else None,
        redis=request.config.stash[redis_key],
    )
    yield sut
    sut.close()
    server = request.config.stash[redis_key].server
    if server is not None:  # carried on the report, so xdist's controller can say which Redis was used
        request.node.user_properties.append(
            ("chatstore_redis", server.description + ("" if server.real else " [FAKE]"))
        )


class _Recorder:
    """Counts clause outcomes per target and prints the summary at the end of the run."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.outcomes: list[Outcome] = []
        self.redis: set[str] = set()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        props = dict(report.user_properties)
        if "chatstore_redis" in props:
            self.redis.add(str(props["chatstore_redis"]))
        if "chatstore_clause" not in props:
            return
        if report.when == "call" or (report.when == "setup" and not report.passed):
            outcome = "failed" if report.failed else "skipped" if report.skipped else "passed"
            self.outcomes.append(Outcome(str(props["chatstore_target"]), str(props["chatstore_clause"]), outcome))

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.outcomes:
            terminalreporter.section("chatstore conformance")
            for server in sorted(self.redis):
                terminalreporter.write_line(f"Redis: {server}")
            for line in summary_lines(self.outcomes, self.config.stash[sources_key]):
                terminalreporter.write_line(line)


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    settings = config.stash[settings_key]
    if not settings.targets:
        return None
    names = ", ".join(f"{t.spec} ({t.source})" for t in settings.targets)
    return [f"chatstore: {names}; hypothesis profile {settings.profile}; per-operation limit {settings.timeout:g} s"]
