"""The kit's settings, written once in :data:`SETTINGS` and resolved one way.

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
from typing import TYPE_CHECKING, Any

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


Parser = Callable[[Any, str, Context], Any]
"""(raw value, where it came from, context) -> the parsed value; raises :class:`SettingError`."""


@dataclass(frozen=True)
class Setting:
    """One setting: an option, its ini twin and its environment variable."""

    name: str
    """The ini key and the option's dest (``chatstore_timeout``)."""
    metavar: str | None
    """The value's placeholder; ``None`` for an on/off flag (``--chatstore-only``)."""
    help: str
    shown_default: str
    """The default, as the reference shows it."""
    parse: Parser
    default: Any = None
    """The value when nothing is set; a callable is given the environment."""
    many: bool = False
    """Repeatable on the command line, one per line in ini, comma or space separated in the environment."""
    choices: tuple[str, ...] | None = None
    field: str = ""
    """The :class:`Settings` attribute the value lands on; empty for the rows that make up ``redis`` and ``policy``."""

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

    def default_value(self, environ: Mapping[str, str]) -> Any:
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


def _number(what: str) -> Parser:
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


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "chatstore",
        "MODULE:ATTR",
        "store class or factory to check; repeatable (environment: comma or space separated)",
        "none",
        _targets,
        default=(),
        many=True,
        field="targets",
    ),
    Setting(
        "chatstore_only",
        None,
        "collect only the conformance suite, not (or even import) the project's own tests",
        "false",
        _flag,
        default=False,
        field="only",
    ),
    Setting(
        "chatstore_timeout",
        "SECONDS",
        "per-operation time limit: a store call taking longer fails its clause",
        "10",
        _seconds,
        default=10.0,
        field="timeout",
    ),
    Setting(
        "chatstore_budget",
        "SECONDS",
        "time budget per target: the kit measures the store's cost per call and cuts each clause's work to fit, "
        "never below its floor of evidence; where the floors do not fit, the summary says so at the end; past the "
        "budget and its slack (a quarter of it, 30 s at least) the run stops, INCOMPLETE",
        f"{DEFAULT_BUDGET:g}",
        _seconds,
        default=DEFAULT_BUDGET,
        field="budget",
    ),
    Setting(
        "chatstore_scale",
        "FACTOR",
        "sizes of the scale clauses (1,000 conversations, 20,000 messages, four 1 MB messages) times FACTOR; "
        "below 1 the clauses are reported as reduced",
        "1",
        _number("a number"),
        default=1.0,
        field="scale",
    ),
    Setting(
        "chatstore_isolate",
        None,
        "run each clause in a forked child process: a crash, os._exit, a fatal signal or a leaked non-daemon "
        "thread fails the clause and the run goes on (POSIX only; on after a run of the same target crashed)",
        "false",
        _flag,
        default=False,
        field="isolate",
    ),
    Setting(
        "chatstore_hypothesis",
        "PROFILE",
        "example budget: default, ci (derandomized) or thorough",
        "`default` (`ci` when `CI` is set)",
        _profile,
        default=_ci_profile,
        field="profile",
    ),
    Setting(
        "chatstore_redis",
        "KIND",
        "where the Redis server for targets taking redis_url comes from: auto (url, docker, binary, "
        "fakeredis), url, docker, binary or fakeredis",
        "`auto`",
        _redis_kind,
        default="auto",
        choices=REDIS_KINDS,
    ),
    Setting(
        "chatstore_redis_url",
        "URL",
        "your Redis server; the kit uses one empty database of it (default index 15)",
        "none",
        _redis_url,
    ),
    Setting(
        "chatstore_require_real_redis",
        None,
        "fail instead of falling back to fakeredis",
        "false",
        _flag,
        default=False,
    ),
    Setting(
        "chatstore_level",
        "LEVEL",
        "conformance level whose clauses fail the run: core, must or full; failures of other clauses "
        "are reported as advisory",
        "`full`",
        _level,
        default="full",
        choices=tuple(LEVELS),
    ),
    Setting(
        "chatstore_strict_time",
        None,
        "an inconclusive real-time TTL clause fails the run at every level (by default only at level full)",
        "false",
        _flag,
        default=False,
    ),
    Setting(
        "chatstore_clauses",
        "PATTERNS",
        "run a subset: IDs, globs ('KEY-*'), groups ('ttl') or 'slow', comma-separated; '-PATTERN' leaves "
        "clauses out ('-FID-004,-CON-*'); repeatable",
        "all",
        _clauses,
        default=(),
        many=True,
    ),
    Setting(
        "chatstore_spec",
        "VERSION",
        "pin the spec version the run gates on; clauses newer than it only warn",
        "none",
        _spec,
    ),
    Setting(
        "chatstore_capabilities",
        "DECLARATIONS",
        "declare capabilities for every target: 'name' present, '-name' absent (e.g. -threads); repeatable",
        "none",
        _capabilities,
        many=True,
    ),
    Setting(
        "chatstore_config",
        "FILE",
        "TOML file with the capabilities and expected-failures tables",
        "`[tool.chatstore]` in `pyproject.toml`",
        _config,
    ),
    Setting(
        "chatstore_report",
        "PATH",
        "write the conformance report: PATH.json (machine-readable, see the schema) or PATH.md; repeatable",
        "none",
        _reports,
        default=(),
        many=True,
        field="reports",
    ),
    Setting(
        "chatstore_repro_dir",
        "DIR",
        "where failures write reproduction files",
        "`.pytest_cache/d/chatstore-repro`",
        _directory,
        field="repro_dir",
    ),
    Setting(
        "chatstore_reproduce",
        "CLAUSE:BLOB",
        "replay exactly the failing example a reproduction file names (its Hypothesis blob); repeatable",
        "none",
        _reproduce,
        default={},
        many=True,
        field="reproduce",
    ),
)
"""Every setting of the kit: the one place an option is written."""


@dataclass(frozen=True)
class Settings:
    """The run's settings, resolved: one attribute per row of :data:`SETTINGS` that names one (its ``field``), and
    ``redis`` and ``policy``, each made of several rows. Defaults live in the rows only."""

    targets: tuple[Target, ...]
    only: bool
    timeout: float
    profile: str
    budget: float
    scale: float
    isolate: bool
    reports: tuple[Path, ...]
    """Where to write reports: ``.json`` and ``.md`` paths."""
    repro_dir: Path | None
    """Where failures write their reproductions (None: pytest's cache directory)."""
    reproduce: Mapping[str, str]
    """Clause ID -> a Hypothesis reproduce blob to replay instead of searching."""
    redis: RedisConfig
    policy: gate.Policy


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
        policy = _policy(values, rootpath or ctx.base)
    except (gate.GateError, capabilities.CapabilityError) as exc:
        raise SettingError(str(exc), reports) from None
    except SettingError as exc:  # an invalid value, a target that cannot be imported or built
        exc.reports = reports
        raise
    redis = RedisConfig(
        values["chatstore_redis"], values["chatstore_redis_url"], values["chatstore_require_real_redis"]
    )
    return Settings(**{s.field: values[s.name] for s in SETTINGS if s.field}, redis=redis, policy=policy)


def _report_paths(get_option: GetOption, get_ini: GetIni, environ: Mapping[str, str], ctx: Context) -> tuple[Path, ...]:
    """The report paths alone, read before the rest (which may be invalid); none when they are invalid too."""
    setting = next(s for s in SETTINGS if s.field == "reports")
    picked = _pick(get_option(setting.name), setting.env, get_ini(setting.name), environ)
    if picked is None:
        return ()
    try:
        paths: tuple[Path, ...] = setting.parse(picked[0], picked[1], ctx)
    except Invalid:
        return ()
    return paths


def _policy(values: Mapping[str, Any], rootpath: Path) -> gate.Policy:
    config = values["chatstore_config"]
    tables, where = load_tables(rootpath, *(config or (None, "")))
    declared = capabilities.check(tables.get("capabilities", {}), f"{where} capabilities")
    source = f"{where} capabilities" if declared else ""
    if values["chatstore_capabilities"] is not None:
        tokens, given_by = values["chatstore_capabilities"]
        declared = {**declared, **tokens}
        source = given_by if source == "" else f"{source} and {given_by}"
    return gate.Policy(
        level=values["chatstore_level"],
        spec=values["chatstore_spec"],
        clauses=values["chatstore_clauses"],
        capabilities=declared,
        capability_source=source,
        expected=parse_expected_failures(tables.get("expected-failures", {}), where),
        strict_time=values["chatstore_strict_time"],
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
