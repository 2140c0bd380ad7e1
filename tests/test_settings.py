"""Settings (:mod:`pytest_chatstore.run.settings`): resolution order, defaults, errors naming their source."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_chatstore.run.settings import SettingError, Settings, resolve


def _resolve(options: dict[str, Any], ini: dict[str, Any], env: dict[str, str]) -> Settings:
    return resolve(lambda n: options.get(n), lambda n: ini.get(n, ""), env)


def test_settings_command_line_then_environment_then_ini() -> None:
    ref = "reference_impls.memory:InMemoryChatStore"
    ini = {"chatstore": ["tests.broken_stores:Prepends"], "chatstore_timeout": "3"}
    env = {"CHATSTORE": f"{ref}, tests.broken_stores:StripsContent", "CHATSTORE_TIMEOUT": "4"}
    assert [t.source for t in _resolve({}, ini, {}).targets] == ["ini chatstore"]
    from_env = _resolve({}, ini, env)
    assert [t.name for t in from_env.targets] == ["InMemoryChatStore", "StripsContent"]
    assert from_env.timeout == 4.0
    from_cli = _resolve({"chatstore": [ref], "chatstore_timeout": "5"}, ini, env)
    assert [t.source for t in from_cli.targets] == ["--chatstore"]
    assert from_cli.timeout == 5.0


def test_settings_profile_defaults_to_ci_under_ci() -> None:
    assert _resolve({}, {}, {}).profile == "default"
    assert _resolve({}, {}, {"CI": "true"}).profile == "ci"
    assert _resolve({"chatstore_hypothesis": "thorough"}, {}, {"CI": "true"}).profile == "thorough"


def test_settings_errors_name_their_source() -> None:
    with pytest.raises(SettingError, match="chatstore-only from environment CHATSTORE_ONLY: 'maybe'"):
        _resolve({}, {}, {"CHATSTORE_ONLY": "maybe"})
    with pytest.raises(SettingError, match="chatstore-timeout from ini: 'x'"):
        _resolve({}, {"chatstore_timeout": "x"}, {})


def test_each_setting_is_one_row_read_as_its_resolved_value() -> None:
    from pytest_chatstore.run.settings import SETTINGS, Settings

    assert len({s.name for s in SETTINGS}) == len(SETTINGS)
    assert Settings.timeout in SETTINGS  # read on the class: the row
    settings = _resolve({}, {"chatstore_timeout": "3"}, {})
    assert settings.timeout == 3.0  # read on the resolved settings: the value, parsed
    assert settings.budget == Settings.budget.default  # unset: the row's default
    assert settings.redis.kind == settings.redis_kind == "auto"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"chatstore_scale": "0"}, "chatstore-scale from ini: must be positive, got '0'"),
        ({"chatstore_overlap": "0"}, "chatstore-overlap from ini: must be 1 or more, got '0'"),
        ({"chatstore_overlap": "many"}, "chatstore-overlap from ini: 'many' is neither auto nor a whole number"),
        ({"chatstore_hypothesis": "fast"}, "chatstore-hypothesis from ini: unknown profile 'fast'"),
        ({"chatstore_report": "out.txt"}, "chatstore-report from ini: '.*out.txt' must end in .json or .md"),
        ({"chatstore_reproduce": "nonsense"}, "chatstore-reproduce from ini: 'nonsense' is not CLAUSE-ID:BLOB"),
    ],
)
def test_a_parser_says_what_is_wrong_and_the_setting_says_where(values: dict[str, Any], message: str) -> None:
    with pytest.raises(SettingError, match=message):
        _resolve({}, values, {})
