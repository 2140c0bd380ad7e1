"""The kit's settings, written once as the rows of :class:`Settings` and resolved one way.

Each :class:`Setting` is one row: its name (the ini key; the option is
``--`` plus the name with dashes, the environment variable the name in
capitals), its help, the default shown in the docs and the function that
parses and checks a value. The plugin's options and ini keys, the resolution
below and the options table of ``docs/reference.md`` (``python -m
pytest_chatstore options``) are all generated from the table.

A value comes from the command line, then the environment, then ini, then the
default. An invalid value raises :class:`SettingError` naming the setting and
where the value came from. This module reads values through two small
callables, so it can be tested without pytest. It also reads the
``[tool.chatstore]`` TOML tables (capabilities and expected failures) into the
:class:`~pytest_chatstore.report.gate.Policy`.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

from pytest_chatstore.engine import capabilities
from pytest_chatstore.engine.budget import DEFAULT_BUDGET
from pytest_chatstore.report import gate
from pytest_chatstore.servers import REDIS_KINDS, RedisConfig
from pytest_chatstore.spec.clauses import CLAUSES, LEVELS
from pytest_chatstore.spec.profiles import PROFILES

if TYPE_CHECKING:  # loading a target (importlib, asyncio) waits until one is named: pytest loads this module always
    from pytest_chatstore.engine.targets import Target

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


class SettingError(Exception):
    """A setting has an invalid value; the message names the setting and its source. ``reports`` are the report
    paths the settings name (when those parse), so that the usage error can be written where CI reads the
    report rather than leaving an older run's report there."""

    def __init__(self, message: str, reports: tuple[Path, ...] = ()) -> None:
        super().__init__(message)
        self.reports = reports


class Invalid(Exception):
    """Raised by a parser: what is wrong with the value. :func:`resolve` names the setting and where the value
    came from (``chatstore-timeout from ini: ...``), so that no parser repeats its setting's name."""


@dataclass(frozen=True)
class Context:
    """What parsing a value may depend on."""

    base: Path
    """Where relative paths are resolved (pytest's invocation directory)."""
    search_dir: Path | None
    """Where target modules are also looked for (see :func:`parse_target`)."""
    environ: Mapping[str, str]


T = TypeVar("T")

Parser = Callable[[Any, str, Context], T]
"""(raw value, where it came from, context) -> the parsed value; raises :class:`Invalid` or :class:`SettingError`."""


@dataclass(frozen=True)
class Setting(Generic[T]):
    """One setting: an option, its ini twin and its environment variable. A row is an attribute of
    :class:`Settings`; read on a resolved :class:`Settings`, it gives the value, typed ``T`` by its parser."""

    name: str
    """The ini key and the option's dest (``chatstore_timeout``)."""
    metavar: str | None
    """The value's placeholder; ``None`` for an on/off flag (``--chatstore-only``)."""
    help: str
    parse: Parser[T]
    default: T | Callable[[Mapping[str, str]], T]
    """The value when nothing is set; a callable is given the environment."""
    many: bool = False
    """Repeatable on the command line, one per line in ini, comma or space separated in the environment."""
    choices: tuple[str, ...] | None = None
    shown: str = ""
    """The default as the reference shows it, where :attr:`default` alone does not say it well."""

    @overload
    def __get__(self, settings: None, owner: type) -> Setting[T]: ...

    @overload
    def __get__(self, settings: Settings, owner: type) -> T: ...

    def __get__(self, settings: Settings | None, owner: type) -> Setting[T] | T:
        if settings is None:
            return self
        value: T = settings.values[self.name]
        return value

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def env(self) -> str:
        return self.name.upper()

    @property
    def label(self) -> str:
        """How error messages name the setting."""
        return self.name.replace("_", "-")

    @property
    def ini_type(self) -> str:
        return "bool" if self.metavar is None else "linelist" if self.many else "string"

    @property
    def shown_default(self) -> str:
        """The default, as the reference shows it."""
        if self.shown:
            return self.shown
        default = self.default
        if isinstance(default, bool):
            return str(default).lower()
        if isinstance(default, float):
            return f"{default:g}"
        if isinstance(default, str):
            return f"`{default}`"
        return "none"  # None, an empty tuple or mapping

    def default_value(self, environ: Mapping[str, str]) -> T:
        return self.default(environ) if callable(self.default) else self.default


def _words(value: object) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [w for item in items for w in re.split(r"[\s,]+", str(item)) if w]


# -- parsers, one per setting -------------------------------------------------------------


def _targets(value: Any, source: str, ctx: Context) -> tuple[Target, ...]:
    from pytest_chatstore.engine.targets import TargetError, parse_target

    specs = value if isinstance(value, list) else re.split(r"[\s,]+", str(value))
    label = {"command line": "--chatstore", "ini": "ini chatstore"}.get(source, source)
    try:
        return tuple(parse_target(spec, label, ctx.search_dir) for spec in specs if spec.strip())
    except TargetError as exc:
        raise SettingError(str(exc)) from None


def _flag(value: Any, source: str, ctx: Context) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise Invalid(f"{value!r} is not a boolean")


def _number(what: str) -> Parser[float]:
    def parse(value: Any, source: str, ctx: Context) -> float:
        try:
            number = float(str(value))
        except ValueError:
            raise Invalid(f"{value!r} is not {what}") from None
        if not number > 0:
            raise Invalid(f"must be positive, got {value!r}")
        return number

    return parse


_seconds = _number("a number of seconds")


def _at_once(value: Any, source: str, ctx: Context) -> int | None:
    if str(value) == "auto":
        return None
    try:
        number = int(str(value))
    except ValueError:
        raise Invalid(f"{value!r} is neither auto nor a whole number") from None
    if number < 1:
        raise Invalid(f"must be 1 or more, got {value!r}")
    return number


def _profile(value: Any, source: str, ctx: Context) -> str:
    if str(value) not in PROFILES:
        raise Invalid(f"unknown profile {str(value)!r}; choose from {', '.join(PROFILES)}")
    return str(value)


def _redis_kind(value: Any, source: str, ctx: Context) -> str:
    if str(value) not in REDIS_KINDS:
        raise Invalid(f"{str(value)!r} is not one of {', '.join(REDIS_KINDS)}")
    return str(value)


def _redis_url(value: Any, source: str, ctx: Context) -> str:
    if not str(value).startswith(("redis://", "rediss://", "unix://")):
        raise Invalid(f"{str(value)!r} is not a redis:// URL")
    return str(value)


def _level(value: Any, source: str, ctx: Context) -> str:
    return gate.check_level(str(value), source)


def _spec(value: Any, source: str, ctx: Context) -> str:
    return gate.check_spec(str(value), source)


def _clauses(value: Any, source: str, ctx: Context) -> tuple[str, ...]:
    return gate.check_clause_patterns(_words(value), source)


def _capabilities(value: Any, source: str, ctx: Context) -> tuple[dict[str, bool], str]:
    return capabilities.parse_tokens(_words(value), source), source


def _config(value: Any, source: str, ctx: Context) -> tuple[Path, str]:
    return ctx.base / str(value), str(value)


def _reports(value: Any, source: str, ctx: Context) -> tuple[Path, ...]:
    from pytest_chatstore.report.render import RENDERERS

    paths = tuple(ctx.base / w for w in _words(value))
    for path in paths:
        if path.suffix not in RENDERERS:
            raise Invalid(f"{str(path)!r} must end in {' or '.join(RENDERERS)}")
    return paths


def _directory(value: Any, source: str, ctx: Context) -> Path:
    return ctx.base / str(value)


def _reproduce(value: Any, source: str, ctx: Context) -> dict[str, str]:
    """``CLAUSE:BLOB`` pairs, as a reproduction file prints them."""
    pairs: dict[str, str] = {}
    for word in _words(value):
        clause_id, _, blob = word.partition(":")
        if clause_id not in CLAUSES or not blob:
            raise Invalid(f"{word!r} is not CLAUSE-ID:BLOB")
        pairs[clause_id] = blob
    return pairs


def _ci_profile(environ: Mapping[str, str]) -> str:
    return "ci" if environ.get("CI") else "default"


class Settings:
    """The run's settings, resolved. Each :class:`Setting` row below is the one place its option is written
    (name, help, default and, through its parser, type); on an instance it reads as its resolved value.
    ``redis`` and ``policy`` are made of several rows."""

    targets = Setting(
        "chatstore",
        "MODULE:ATTR",
        "store class or factory to check; repeatable (environment: comma or space separated)",
        _targets,
        (),
        many=True,
    )
    only = Setting(
        "chatstore_only",
        None,
        "collect only the conformance suite, not (or even import) the project's own tests",
        _flag,
        False,
    )
    timeout = Setting(
        "chatstore_timeout",
        "SECONDS",
        "per-operation time limit: a store call taking longer fails its clause",
        _seconds,
        10.0,
    )
    budget = Setting(
        "chatstore_budget",
        "SECONDS",
        "time budget per target: the kit measures the store's cost per call and cuts each clause's work to fit, "
        "never below its floor of evidence; where the floors do not fit, the summary says so at the end; past the "
        "budget and its slack (a quarter of it, 30 s at least) the run stops, INCOMPLETE",
        _seconds,
        DEFAULT_BUDGET,
    )
    overlap: Setting[int | None] = Setting(
        "chatstore_overlap",
        "N",
        "at most N parts of a split check at once on a store that waits (auto: as many as the measured latency "
        "and CPU pay for, up to 8; 1: one after the other, for a backend that limits connections); the parts "
        "and their examples stay the same",
        _at_once,
        None,
        shown="`auto`",
    )
    scale = Setting(
        "chatstore_scale",
        "FACTOR",
        "sizes of the scale clauses (1,000 conversations, 20,000 messages, four 1 MB messages) times FACTOR; "
        "below 1 the clauses are reported as reduced",
        _number("a number"),
        1.0,
    )
    isolate = Setting(
        "chatstore_isolate",
        None,
        "run each clause in a forked child process: a crash, os._exit, a fatal signal or a leaked non-daemon "
        "thread fails the clause and the run goes on (POSIX only; on after a run of the same target crashed)",
        _flag,
        False,
    )
    profile = Setting(
        "chatstore_hypothesis",
        "PROFILE",
        "example budget: default, ci (derandomized) or thorough",
        _profile,
        _ci_profile,
        shown="`default` (`ci` when `CI` is set)",
    )
    redis_kind = Setting(
        "chatstore_redis",
        "KIND",
        "where the Redis server for targets taking redis_url comes from: auto (url, docker, binary, "
        "fakeredis), url, docker, binary or fakeredis",
        _redis_kind,
        "auto",
        choices=REDIS_KINDS,
    )
    redis_url: Setting[str | None] = Setting(
        "chatstore_redis_url",
        "URL",
        "your Redis server; the kit uses one empty database of it (default index 15)",
        _redis_url,
        None,
    )
    require_real_redis = Setting(
        "chatstore_require_real_redis",
        None,
        "fail instead of falling back to fakeredis",
        _flag,
        False,
    )
    level = Setting(
        "chatstore_level",
        "LEVEL",
        "conformance level whose clauses fail the run: core, must or full; failures of other clauses "
        "are reported as advisory",
        _level,
        "full",
        choices=tuple(LEVELS),
    )
    strict_time = Setting(
        "chatstore_strict_time",
        None,
        "an inconclusive real-time TTL clause fails the run at every level (by default only at level full)",
        _flag,
        False,
    )
    clauses = Setting(
        "chatstore_clauses",
        "PATTERNS",
        "run a subset: IDs, globs ('KEY-*'), groups ('ttl') or 'slow', comma-separated; '-PATTERN' leaves "
        "clauses out ('-FID-004,-CON-*'); repeatable",
        _clauses,
        (),
        many=True,
        shown="all",
    )
    spec: Setting[str | None] = Setting(
        "chatstore_spec",
        "VERSION",
        "pin the spec version the run gates on; clauses newer than it only warn",
        _spec,
        None,
    )
    capabilities: Setting[tuple[dict[str, bool], str] | None] = Setting(
        "chatstore_capabilities",
        "DECLARATIONS",
        "declare capabilities for every target: 'name' present, '-name' absent (e.g. -threads); repeatable",
        _capabilities,
        None,
        many=True,
    )
    config: Setting[tuple[Path, str] | None] = Setting(
        "chatstore_config",
        "FILE",
        "TOML file with the capabilities and expected-failures tables",
        _config,
        None,
        shown="`[tool.chatstore]` in `pyproject.toml`",
    )
    reports = Setting(
        "chatstore_report",
        "PATH",
        "write the conformance report: PATH.json (machine-readable, see the schema) or PATH.md; repeatable",
        _reports,
        (),
        many=True,
    )
    """Where to write reports: ``.json`` and ``.md`` paths."""
    repro_dir: Setting[Path | None] = Setting(
        "chatstore_repro_dir",
        "DIR",
        "where failures write reproduction files",
        _directory,
        None,
        shown="`.pytest_cache/d/chatstore-repro`",
    )
    """Where failures write their reproductions (None: pytest's cache directory)."""
    reproduce = Setting(
        "chatstore_reproduce",
        "CLAUSE:BLOB",
        "replay exactly the failing example a reproduction file names (its Hypothesis blob); repeatable",
        _reproduce,
        {},
        many=True,
    )
    """Clause ID -> a Hypothesis reproduce blob to replay instead of searching."""

    def __init__(self, values: Mapping[str, Any], rootpath: Path) -> None:
        """``values``: every row's parsed value by its name; ``rootpath`` holds the ``pyproject.toml`` whose
        ``[tool.chatstore]`` tables make up :attr:`policy` (unless ``chatstore-config`` names a file)."""
        self.values: Mapping[str, Any] = dict(values)
        self.redis = RedisConfig(self.redis_kind, self.redis_url, self.require_real_redis)
        self.policy = _policy(self, rootpath)


SETTINGS: tuple[Setting[Any], ...] = tuple(row for row in vars(Settings).values() if isinstance(row, Setting))
"""Every setting of the kit, in the order of :class:`Settings`: its options, ini keys and reference table."""


GetOption = Callable[[str], object]
GetIni = Callable[[str], object]


def _pick(option: object, env_name: str, ini: object, environ: Mapping[str, str]) -> tuple[object, str] | None:
    if option not in (None, [], False):
        return option, "command line"
    if environ.get(env_name):
        return environ[env_name], f"environment {env_name}"
    if ini not in (None, "", [], False):
        return ini, "ini"
    return None


def resolve(
    get_option: GetOption,
    get_ini: GetIni,
    environ: Mapping[str, str] = os.environ,
    search_dir: Path | None = None,
    rootpath: Path | None = None,
) -> Settings:
    """Read every setting of :data:`SETTINGS`; raise :class:`SettingError` on the first invalid one.

    ``search_dir`` is where target modules and relative paths are looked for (see
    :func:`parse_target`); ``rootpath`` holds the ``pyproject.toml`` whose
    ``[tool.chatstore]`` tables apply unless ``chatstore-config`` names a file.
    """
    ctx = Context(search_dir or Path.cwd(), search_dir, environ)
    values: dict[str, Any] = {}
    reports = _report_paths(get_option, get_ini, environ, ctx)
    try:
        for setting in SETTINGS:
            picked = _pick(get_option(setting.name), setting.env, get_ini(setting.name), environ)
            if picked is None:
                values[setting.name] = setting.default_value(environ)
                continue
            try:
                values[setting.name] = setting.parse(picked[0], picked[1], ctx)
            except Invalid as exc:
                raise SettingError(f"{setting.label} from {picked[1]}: {exc}") from None
        return Settings(values, rootpath or ctx.base)
    except (gate.GateError, capabilities.CapabilityError) as exc:
        raise SettingError(str(exc), reports) from None
    except SettingError as exc:  # an invalid value, a target that cannot be imported or built
        exc.reports = reports
        raise


def _report_paths(get_option: GetOption, get_ini: GetIni, environ: Mapping[str, str], ctx: Context) -> tuple[Path, ...]:
    """The report paths alone, read before the rest (which may be invalid); none when they are invalid too."""
    setting = Settings.reports
    picked = _pick(get_option(setting.name), setting.env, get_ini(setting.name), environ)
    if picked is None:
        return ()
    try:
        return setting.parse(picked[0], picked[1], ctx)
    except Invalid:
        return ()


def _policy(settings: Settings, rootpath: Path) -> gate.Policy:
    tables, where = load_tables(rootpath, *(settings.config or (None, "")))
    declared = capabilities.check(tables.get("capabilities", {}), f"{where} capabilities")
    source = f"{where} capabilities" if declared else ""
    if settings.capabilities is not None:
        tokens, given_by = settings.capabilities
        declared = {**declared, **tokens}
        source = given_by if source == "" else f"{source} and {given_by}"
    return gate.Policy(
        level=settings.level,
        spec=settings.spec,
        clauses=settings.clauses,
        capabilities=declared,
        capability_source=source,
        expected=parse_expected_failures(tables.get("expected-failures", {}), where),
        strict_time=settings.strict_time,
    )


# -- the [tool.chatstore] tables ----------------------------------------------------------

_TABLE_KEYS = {"capabilities", "expected-failures"}
_ENTRY_KEYS = {"reason", "link", "targets"}


def load_tables(rootpath: Path, config_file: Path | None, shown: str = "") -> tuple[dict[str, Any], str]:
    """The ``[tool.chatstore]`` table (or ``config_file``'s top level) and a name for where it came from."""
    if config_file is not None:
        where = shown or str(config_file)
        try:
            data = tomllib.loads(config_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise gate.GateError(f"chatstore-config: {where} does not exist") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise gate.GateError(f"chatstore-config: {where} is not valid TOML: {exc}") from None
        table: object = data
    else:
        pyproject = rootpath / "pyproject.toml"
        where = f"{pyproject.name} [tool.chatstore]"
        if not pyproject.is_file():
            return {}, where
        try:
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError):
            return {}, where  # pytest itself reports a broken pyproject.toml
        table = data.get("tool", {}).get("chatstore", {})
    if not isinstance(table, dict):
        raise gate.GateError(f"{where} must be a table")
    unknown = set(table) - _TABLE_KEYS
    if unknown:
        raise gate.GateError(
            f"{where}: unknown key(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(_TABLE_KEYS))}"
        )
    return table, where


def parse_expected_failures(table: object, where: str) -> tuple[gate.ExpectedFailure, ...]:
    """Entries ``"PATTERN" = "reason"`` or ``"PATTERN" = {reason, link, targets}``."""
    source = f"{where} expected-failures"
    if not isinstance(table, dict):
        raise gate.GateError(f"{source} must be a table of clause patterns")
    entries: list[gate.ExpectedFailure] = []
    for pattern, value in table.items():
        gate.check_clause_patterns([pattern], source, what="expected failure")
        spec = {"reason": value} if isinstance(value, str) else value
        if not isinstance(spec, dict) or not isinstance(spec.get("reason"), str) or not spec["reason"].strip():
            raise gate.GateError(f"{source}: {pattern!r} needs a reason (a string, or a table with `reason`)")
        unknown = set(spec) - _ENTRY_KEYS
        if unknown:
            raise gate.GateError(f"{source}: {pattern!r} has unknown key(s) {', '.join(sorted(unknown))}")
        targets = spec.get("targets", [])
        if isinstance(targets, str):
            targets = [targets]
        if not isinstance(targets, list) or not all(isinstance(t, str) for t in targets):
            raise gate.GateError(f"{source}: {pattern!r}: targets must be a list of target-name patterns")
        link = spec.get("link")
        if link is not None and not isinstance(link, str):
            raise gate.GateError(f"{source}: {pattern!r}: link must be a string")
        entries.append(gate.ExpectedFailure(pattern, spec["reason"].strip(), link, tuple(targets), where))
    return tuple(entries)


def add_options(parser: Any) -> None:
    """Each setting's command-line option and ini key, on pytest's ``parser``."""
    group = parser.getgroup("chatstore", "chat-store conformance (pytest-chatstore)")
    for s in SETTINGS:
        shown = f"{s.help}. Env {s.env}, ini {s.name}."
        if s.metavar is None:
            group.addoption(s.flag, action="store_true", default=False, help=shown)
        else:
            many = {"action": "append", "default": []} if s.many else {"action": "store", "default": None}
            group.addoption(s.flag, metavar=s.metavar, choices=s.choices, help=shown, **many)
        default: Any = False if s.ini_type == "bool" else [] if s.many else ""
        parser.addini(s.name, s.help, type=s.ini_type, default=default)


def header_lines(settings: Settings, isolation: str | None) -> list[str]:
    """What pytest's header says of the kit: the targets and limits, and why clauses run isolated (if they do)."""
    if not settings.targets:
        return []
    names = ", ".join(f"{t.spec} ({t.source})" for t in settings.targets)
    lines = [
        f"chatstore: {names}; hypothesis profile {settings.profile}; per-operation limit {settings.timeout:g} s; "
        f"budget {settings.budget:g} s per target"
    ]
    if isolation:
        lines.append(f"chatstore: each clause runs in a forked child process ({isolation})")
    return lines


# -- the reference table --------------------------------------------------------------------


def render_options() -> str:
    """The options table of ``docs/reference.md``, generated from :data:`SETTINGS`."""
    lines = [
        "| option | ini key | environment | default | meaning |",
        "| --- | --- | --- | --- | --- |",
    ]
    for s in SETTINGS:
        option = s.flag if s.metavar is None else f"{s.flag}={s.metavar}"
        ini = f"`{s.name}`" + ("" if s.ini_type == "string" else f" ({s.ini_type})")
        lines.append(f"| `{option}` | {ini} | `{s.env}` | {s.shown_default} | {s.help} |")
    return "\n".join(lines) + "\n"
