"""The pytest plugin: options, the clause marker, the ``chatstore`` fixture, and a few hooks.

Everything else (targets, the model, the suite, reporting) lives in plain
modules. The suite is added to whatever pytest collects when a target is
configured (``--chatstore``, ini ``chatstore``, env ``CHATSTORE``) or when a
conftest or plugin defines a ``chatstore_factory`` fixture.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_chatstore import gate, repro
from pytest_chatstore.clauses import CLAUSES, LEVELS
from pytest_chatstore.harness import CapabilityMissing, RealTimeBatches, StoreUnderTest
from pytest_chatstore.report import ClauseFailure, ClauseResult, Recorder
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
CAPABILITIES_FIXTURE = "chatstore_capabilities"

settings_key = pytest.StashKey[Settings]()
sources_key = pytest.StashKey[dict[str, str]]()
directories_key = pytest.StashKey[dict[Path, pytest.Directory]]()
suite_source_key = pytest.StashKey[str]()  # on an injected suite module: "targets" or "fixture"
batches_key = pytest.StashKey[RealTimeBatches]()
redis_key = pytest.StashKey[RedisProvider]()
suite_items_key = pytest.StashKey[list[pytest.Item]]()
deselected_key = pytest.StashKey[set[str]]()
kit_fixture_key = pytest.StashKey[bool]()  # on a suite item: the kit's own ``chatstore`` fixture ran


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
    group.addoption(
        "--chatstore-level",
        default=None,
        choices=tuple(LEVELS),
        help="conformance level whose clauses fail the run: core, must or full (default); failures of "
        "other clauses are reported as advisory. Env CHATSTORE_LEVEL, ini chatstore_level.",
    )
    group.addoption(
        "--chatstore-clauses",
        action="append",
        default=[],
        metavar="PATTERNS",
        help="run only these clauses: IDs, globs ('KEY-*') or groups ('ttl'), comma-separated, repeatable. "
        "Env CHATSTORE_CLAUSES, ini chatstore_clauses.",
    )
    group.addoption(
        "--chatstore-spec",
        default=None,
        metavar="VERSION",
        help="pin the spec version the run gates on; clauses newer than it only warn. "
        "Env CHATSTORE_SPEC, ini chatstore_spec.",
    )
    group.addoption(
        "--chatstore-capabilities",
        action="append",
        default=[],
        metavar="DECLARATIONS",
        help="declare capabilities for every target: 'name' present, '-name' absent (e.g. -threads). "
        "Env CHATSTORE_CAPABILITIES, ini chatstore_capabilities.",
    )
    group.addoption(
        "--chatstore-config",
        default=None,
        metavar="FILE",
        help="TOML file with the capabilities and expected-failures tables (default: [tool.chatstore] in "
        "pyproject.toml). Env CHATSTORE_CONFIG, ini chatstore_config.",
    )
    group.addoption(
        "--chatstore-report",
        action="append",
        default=[],
        metavar="PATH",
        help="write the conformance report: PATH.json (machine-readable, see the schema) or PATH.md. "
        "Repeatable. Env CHATSTORE_REPORT, ini chatstore_report.",
    )
    group.addoption(
        "--chatstore-repro-dir",
        default=None,
        metavar="DIR",
        help="where failures write reproduction files (default .pytest_cache/d/chatstore-repro). "
        "Env CHATSTORE_REPRO_DIR, ini chatstore_repro_dir.",
    )
    group.addoption(
        "--chatstore-reproduce",
        action="append",
        default=[],
        metavar="CLAUSE:BLOB",
        help="replay exactly the failing example a reproduction file names (its Hypothesis blob). "
        "Env CHATSTORE_REPRODUCE, ini chatstore_reproduce.",
    )
    parser.addini("chatstore", "store targets (MODULE:ATTR), one per line", type="linelist", default=[])
    parser.addini("chatstore_level", "conformance level that fails the run: core, must or full", default="")
    parser.addini("chatstore_clauses", "clauses to run: IDs, globs or groups", type="linelist", default=[])
    parser.addini("chatstore_spec", "spec version the run gates on", default="")
    parser.addini("chatstore_capabilities", "declared capabilities: name or -name", type="linelist", default=[])
    parser.addini("chatstore_config", "TOML file with capabilities and expected-failures tables", default="")
    parser.addini("chatstore_report", "report paths (.json, .md)", type="linelist", default=[])
    parser.addini("chatstore_repro_dir", "directory for reproduction files", default="")
    parser.addini("chatstore_reproduce", "CLAUSE:BLOB pairs to replay", type="linelist", default=[])
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
        config.stash[settings_key] = resolve(
            config.getoption, config.getini, search_dir=config.invocation_params.dir, rootpath=config.rootpath
        )
    except SettingError as exc:
        raise pytest.UsageError(f"pytest-chatstore: {exc}") from None
    config.stash[sources_key] = {}
    config.stash[directories_key] = {}
    config.stash[suite_items_key] = []
    config.stash[deselected_key] = set()
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
    kept: list[pytest.Item] = []
    for item in suite:
        clause_id = _clause_of(item)
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
        config.stash[sources_key][target.name] = target.source
        if settings.policy.selected(clause_id):
            kept.append(item)
    dropped = [item for item in suite if item not in kept]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    config.stash[suite_items_key] = kept
    if settings.only:
        items[:] = kept
    else:
        items.extend(kept)


def _clause_of(item: pytest.Item) -> str | None:
    mark = item.get_closest_marker("chatstore_clause")
    return str(mark.args[0]) if mark is not None else None


def pytest_deselected(items: list[pytest.Item]) -> None:
    if items:
        items[0].config.stash[deselected_key].update(item.nodeid for item in items)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Refuse a run whose suite tests were removed or replaced instead of deselected or declared."""
    config = session.config
    present = {item.nodeid for item in session.items}
    suite = config.stash[suite_items_key]
    missing = [i.nodeid for i in suite if i.nodeid not in present and i.nodeid not in config.stash[deselected_key]]
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


def _declarations(request: pytest.FixtureRequest, target: Target, settings: Settings) -> dict[str, tuple[bool, str]]:
    """Declared capabilities, later sources winning: the target's attribute, the fixture, then the run's settings."""
    declared = {
        k: (v, f"{target.name}.chatstore_capabilities") for k, v in gate.declared_by_target(target.factory).items()
    }
    try:
        from_fixture = request.getfixturevalue(CAPABILITIES_FIXTURE)
    except pytest.FixtureLookupError:
        from_fixture = {}
    fixture_source = f"the {CAPABILITIES_FIXTURE} fixture"
    declared |= {k: (v, fixture_source) for k, v in gate.check_capabilities(from_fixture, fixture_source).items()}
    policy = settings.policy
    declared |= {k: (v, policy.capability_source) for k, v in policy.capabilities.items()}
    return declared


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
    clause_id = _clause_of(request.node) or "MDL-001"
    declared = _declarations(request, target, settings)
    probes = {name for name, (present, _) in declared.items() if not present}
    policy = settings.policy
    sut = StoreUnderTest(
        target,
        timeout=settings.timeout,
        profile=settings.profile,
        clause=clause_id,
        batches=request.config.stash[batches_key] if target.source != "fixture" else None,
        redis=request.config.stash[redis_key],
        declared=declared,
        settled=policy.expected_failure(clause_id, target.name) is not None
        or bool(probes & set(CLAUSES[clause_id].requires)),
        reproduce=settings.reproduce.get(clause_id),
    )
    request.node.stash[kit_fixture_key] = True
    yield sut
    sut.close()
    server = request.config.stash[redis_key].server
    if server is not None:  # carried on the report, so xdist's controller can say which Redis was used
        request.node.user_properties.append(
            ("chatstore_redis", server.description + ("" if server.real else " [FAKE]"))
        )


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    """Before a suite test's body: its clause's capabilities, for every clause, in the call phase.

    A missing capability skips, a declared-absent one that the store shows is probed, and a
    store that cannot even be built fails the clause (not the fixture's setup).
    """
    clause_id = _clause_of(item)
    sut = getattr(item, "funcargs", {}).get("chatstore")
    if clause_id is not None and isinstance(sut, StoreUnderTest):
        sut.require_clause(clause_id)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Apply the gate to a suite test's result: expected failures, advisory clauses, probes, refusals."""
    report = yield
    clause_id = _clause_of(item)
    if clause_id is None or item not in item.config.stash[suite_items_key]:
        return report
    if call.when == "teardown" or (call.when == "setup" and report.passed):
        return report
    settings = item.config.stash[settings_key]
    given = getattr(item, "funcargs", {}).get("chatstore")
    sut = given if isinstance(given, StoreUnderTest) else None  # not ours when the fixture was overridden
    target: Target = sut.target if sut is not None else item.callspec.params["chatstore"]  # type: ignore[attr-defined]
    excinfo = call.excinfo
    refusal = _refusal(item, call, report)
    if refusal is not None:
        judgement = gate.Judgement("refused", refusal)
    else:
        raw = "passed" if report.passed else "skipped" if report.skipped else "failed"
        judgement = gate.judge(
            settings.policy,
            clause_id,
            target.name,
            raw,
            clause_failure=excinfo is not None and _is_clause_failure(excinfo.value),
            probed=frozenset(sut.probed) if sut is not None else frozenset(),
            probe_source=", ".join(sorted({sut.declared[c][1] for c in sut.probed})) if sut else "",
        )
    _apply(report, judgement, clause_id)
    failure = None if excinfo is None or judgement.status in ("passed", "skipped") else excinfo.value
    result = ClauseResult(
        target=target.name,
        spec=target.spec,
        source=target.source,
        clause_id=clause_id,
        status=judgement.status,
        reason=judgement.reason or _skip_reason(excinfo),
        duration=report.duration,
        failure=None if failure is None else _failure_text(failure),
        detected=sorted(sut.detected) if sut is not None else [],
        capabilities=sorted(sut.effective) if sut is not None else [],
        declared={k: [v, where] for k, (v, where) in sut.declared.items()} if sut is not None else {},
        undeclared=sorted(sut.probed) if sut is not None and judgement.status == "passed" else [],
    )
    if failure is not None and judgement.status in ("failed", "advisory-failure"):
        result.blob = repro.find_blob(failure)
        clause_failure = _first_clause_failure(failure)
        path = repro.write(
            _repro_dir(item.config),
            clause_id=clause_id,
            target=target.spec,
            node=item.nodeid,
            record=clause_failure.replay if clause_failure is not None else None,
            blob=result.blob,
            what=str(clause_failure or failure),
        )
        result.reproduction = str(path)
        report.sections.append(("chatstore reproduction", f"{path}\n(run it with pytest; it fails until fixed)"))
    report.chatstore = result.to_dict()  # type: ignore[attr-defined]  # carried to xdist's controller
    return report


def _refusal(item: pytest.Item, call: pytest.CallInfo[None], report: pytest.TestReport) -> str | None:
    """Why the kit refuses this result: the test was skipped, xfailed or its fixture overridden by others."""
    if hasattr(report, "wasxfail"):
        return f"a suite test was marked xfail by something other than the kit ({report.wasxfail or 'no reason'})"
    if report.skipped and not (call.excinfo is not None and call.excinfo.errisinstance(CapabilityMissing)):
        return f"a suite test was skipped by something other than the kit ({_skip_reason(call.excinfo)})"
    if call.when == "call" and not item.stash.get(kit_fixture_key, False):
        return "the kit's `chatstore` fixture was overridden: the suite did not test the store"
    return None


def _apply(report: pytest.TestReport, judgement: gate.Judgement, clause_id: str) -> None:
    status, reason = judgement.status, judgement.reason
    if status in ("refused", "unexpected-pass"):
        report.outcome = "failed"
        tag = "REFUSED" if status == "refused" else "XPASS(strict)"
        report.longrepr = f"[{tag}] [{clause_id}] {reason}"
    elif status in ("expected-failure", "advisory-failure"):
        report.outcome = "skipped"
        report.wasxfail = (
            f"[{clause_id}] {'expected failure' if status == 'expected-failure' else 'advisory'}: {reason}"
        )
    elif status == "declared-absent":
        report.outcome = "skipped"
        path, lineno, _ = report.location
        report.longrepr = (path, (lineno or 0) + 1, f"Skipped: [{clause_id}] {reason}")


def _is_clause_failure(exc: BaseException) -> bool:
    inner = getattr(exc, "exceptions", None)
    if inner:
        return all(_is_clause_failure(e) for e in inner)
    return isinstance(exc, ClauseFailure)


def _failure_text(exc: BaseException) -> str:
    """The kit's report of the (first) clause failure; Hypothesis may group several distinct ones."""
    first = _first_clause_failure(exc)
    if first is None:
        return f"{type(exc).__name__}: {exc}"[:20_000]
    others = len(getattr(exc, "exceptions", ())) - 1
    more = f"\n  (and {others} more distinct failure(s) of this clause)" if others > 0 else ""
    return (str(first) + more)[:20_000]


def _first_clause_failure(exc: BaseException) -> ClauseFailure | None:
    if isinstance(exc, ClauseFailure):
        return exc
    for inner in getattr(exc, "exceptions", ()):
        found = _first_clause_failure(inner)
        if found is not None:
            return found
    return None


def _skip_reason(excinfo: pytest.ExceptionInfo[BaseException] | None) -> str:
    if excinfo is None or not excinfo.errisinstance(pytest.skip.Exception):
        return ""
    return str(getattr(excinfo.value, "msg", excinfo.value))


def _repro_dir(config: pytest.Config) -> Path:
    chosen = config.stash[settings_key].repro_dir
    if chosen is not None:
        return chosen
    cache = getattr(config, "cache", None)  # absent under -p no:cacheprovider
    if cache is not None:
        return Path(cache.mkdir("chatstore-repro"))
    return config.rootpath / ".chatstore-repro"


class _Recorder:
    """Collects clause results (also from xdist workers) and writes the summary and the reports."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.recorder = Recorder(config.stash[settings_key].policy)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        props = dict(report.user_properties)
        if "chatstore_redis" in props:
            self.recorder.redis.add(str(props["chatstore_redis"]))
        data = getattr(report, "chatstore", None)
        if isinstance(data, dict):
            self.recorder.add(ClauseResult.from_dict(data))

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        kit = self.config.stash[settings_key].policy
        for item in items:
            clause_id = _clause_of(item)
            if clause_id is not None and "chatstore" in getattr(item, "callspec", None).params:  # type: ignore[union-attr]
                self.recorder.deselect(clause_id, by_kit=not kit.selected(clause_id))

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.recorder.results:
            terminalreporter.section("chatstore conformance")
            for line in self.recorder.summary_lines():
                terminalreporter.write_line(line)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if hasattr(self.config, "workerinput"):
            return  # xdist's controller writes the reports
        for path in self.config.stash[settings_key].reports:
            if self.recorder.results:
                self.recorder.write(path)


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    settings = config.stash[settings_key]
    if not settings.targets:
        return None
    names = ", ".join(f"{t.spec} ({t.source})" for t in settings.targets)
    return [f"chatstore: {names}; hypothesis profile {settings.profile}; per-operation limit {settings.timeout:g} s"]
