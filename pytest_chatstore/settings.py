"""The kit's settings, resolved one way: command line, then environment, then ini, then default.

An invalid value raises :class:`SettingError` naming where it came from.
This module reads values through two small callables so it can be tested
without pytest.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pytest_chatstore import gate
from pytest_chatstore.clauses import CLAUSES
from pytest_chatstore.harness import PROFILES
from pytest_chatstore.targets import Target, TargetError, parse_target


class SettingError(Exception):
    """A setting has an invalid value; the message names the setting and its source."""


REDIS_KINDS = ("auto", "url", "docker", "binary", "fakeredis")


@dataclass(frozen=True)
class Settings:
    targets: tuple[Target, ...]
    only: bool
    timeout: float
    profile: str
    redis: str = "auto"
    redis_url: str | None = None
    require_real_redis: bool = False
    policy: gate.Policy = field(default_factory=gate.Policy)
    reports: tuple[Path, ...] = ()
    """Where to write reports: ``.json`` and ``.md`` paths."""
    repro_dir: Path | None = None
    """Where failures write their reproductions (None: pytest's cache directory)."""
    reproduce: Mapping[str, str] = field(default_factory=dict)
    """Clause ID -> a Hypothesis reproduce blob to replay instead of searching."""


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


def _words(value: object) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [w for item in items for w in re.split(r"[\s,]+", str(item)) if w]


def resolve(
    get_option: GetOption,
    get_ini: GetIni,
    environ: Mapping[str, str] = os.environ,
    search_dir: Path | None = None,
    rootpath: Path | None = None,
) -> Settings:
    """Read every setting; raise :class:`SettingError` on the first invalid one.

    ``search_dir`` is where target modules and relative paths are looked for (see
    :func:`parse_target`); ``rootpath`` holds the ``pyproject.toml`` whose
    ``[tool.chatstore]`` tables apply unless ``chatstore-config`` names a file.
    """
    try:
        return _resolve(get_option, get_ini, environ, search_dir, rootpath)
    except gate.GateError as exc:
        raise SettingError(str(exc)) from None


def _resolve(
    get_option: GetOption,
    get_ini: GetIni,
    environ: Mapping[str, str],
    search_dir: Path | None,
    rootpath: Path | None,
) -> Settings:
    base = search_dir or Path.cwd()

    def pick(name: str) -> tuple[object, str] | None:
        """Option ``name`` (dest form), else env ``NAME``, else ini ``name``."""
        return _pick(get_option(name), name.upper(), get_ini(name), environ)

    targets: list[Target] = []
    picked = pick("chatstore")
    if picked is not None:
        value, source = picked
        specs = value if isinstance(value, list) else re.split(r"[\s,]+", str(value))
        label = {"command line": "--chatstore", "ini": "ini chatstore"}.get(source, source)
        for spec in (s for s in specs if s.strip()):
            try:
                targets.append(parse_target(spec, label, search_dir))
            except TargetError as exc:
                raise SettingError(str(exc)) from None

    only = pick("chatstore_only")
    only_value = False if only is None else _as_bool(*only, name="chatstore-only")

    timeout_picked = pick("chatstore_timeout")
    timeout = 10.0
    if timeout_picked is not None:
        raw, source = timeout_picked
        try:
            timeout = float(str(raw))
        except ValueError:
            raise SettingError(f"chatstore-timeout from {source}: {raw!r} is not a number of seconds") from None
        if not timeout > 0:
            raise SettingError(f"chatstore-timeout from {source}: must be positive, got {raw!r}")

    profile_picked = pick("chatstore_hypothesis")
    profile = "ci" if environ.get("CI") else "default"
    if profile_picked is not None:
        profile, source = str(profile_picked[0]), profile_picked[1]
        if profile not in PROFILES:
            raise SettingError(
                f"chatstore-hypothesis from {source}: unknown profile {profile!r}; choose from {', '.join(PROFILES)}"
            )
    redis_picked = pick("chatstore_redis")
    redis_kind = "auto" if redis_picked is None else str(redis_picked[0])
    if redis_kind not in REDIS_KINDS:
        assert redis_picked is not None
        raise SettingError(
            f"chatstore-redis from {redis_picked[1]}: {redis_kind!r} is not one of {', '.join(REDIS_KINDS)}"
        )
    url_picked = pick("chatstore_redis_url")
    redis_url = None if url_picked is None else str(url_picked[0])
    if redis_url is not None and not redis_url.startswith(("redis://", "rediss://", "unix://")):
        assert url_picked is not None
        raise SettingError(f"chatstore-redis-url from {url_picked[1]}: {redis_url!r} is not a redis:// URL")
    real = pick("chatstore_require_real_redis")
    require_real = False if real is None else _as_bool(*real, name="chatstore-require-real-redis")
    return Settings(
        tuple(targets),
        only_value,
        timeout,
        profile,
        redis_kind,
        redis_url,
        require_real,
        policy=_policy(pick, base, rootpath or base),
        reports=_reports(pick("chatstore_report"), base),
        repro_dir=None if (d := pick("chatstore_repro_dir")) is None else base / str(d[0]),
        reproduce=_reproduce(pick("chatstore_reproduce")),
    )


def _policy(pick: Callable[[str], tuple[object, str] | None], base: Path, rootpath: Path) -> gate.Policy:
    level = pick("chatstore_level")
    spec = pick("chatstore_spec")
    selection = pick("chatstore_clauses")
    config = pick("chatstore_config")
    config_file = None if config is None else base / str(config[0])
    tables, where = gate.load_tables(rootpath, config_file, "" if config is None else str(config[0]))
    capabilities = gate.check_capabilities(tables.get("capabilities", {}), f"{where} capabilities")
    capability_source = f"{where} capabilities" if capabilities else ""
    declared = pick("chatstore_capabilities")
    if declared is not None:
        capabilities = {**capabilities, **gate.parse_capability_tokens(_words(declared[0]), declared[1])}
        capability_source = declared[1] if capability_source == "" else f"{capability_source} and {declared[1]}"
    return gate.Policy(
        level=gate.check_level(str(level[0]), level[1]) if level else "full",
        spec=gate.check_spec(str(spec[0]), spec[1]) if spec else None,
        clauses=gate.check_clause_patterns(_words(selection[0]), selection[1]) if selection else (),
        capabilities=capabilities,
        capability_source=capability_source,
        expected=gate.parse_expected_failures(tables.get("expected-failures", {}), where),
    )


def _reports(picked: tuple[object, str] | None, base: Path) -> tuple[Path, ...]:
    if picked is None:
        return ()
    paths = tuple(base / w for w in _words(picked[0]))
    for path in paths:
        if path.suffix not in (".json", ".md"):
            raise SettingError(f"chatstore-report from {picked[1]}: {str(path)!r} must end in .json or .md")
    return paths


def _reproduce(picked: tuple[object, str] | None) -> dict[str, str]:
    """``CLAUSE:BLOB`` pairs, as a reproduction file prints them."""
    if picked is None:
        return {}
    pairs: dict[str, str] = {}
    for word in _words(picked[0]):
        clause_id, _, blob = word.partition(":")
        if clause_id not in CLAUSES or not blob:
            raise SettingError(f"chatstore-reproduce from {picked[1]}: {word!r} is not CLAUSE-ID:BLOB")
        pairs[clause_id] = blob
    return pairs


def _as_bool(value: object, source: str, *, name: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise SettingError(f"{name} from {source}: {value!r} is not a boolean")
