"""The plain modules, tested without pytest's machinery: model, checker, settings, targets."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_chatstore.clauses import CLAUSES, render_changelog, render_spec
from pytest_chatstore.contract import ChatMessage
from pytest_chatstore.linearizability import Event, check_linearizable
from pytest_chatstore.model import ChatModel
from pytest_chatstore.settings import SettingError, resolve
from pytest_chatstore.targets import accepted_parameters, parse_target

A, B, C = (ChatMessage("user", x) for x in "abc")

# -- the model -----------------------------------------------------------------


@given(
    st.lists(
        st.one_of(
            st.tuples(st.just("insert"), st.integers(-5, 5), st.sampled_from([A, B, C])),
            st.tuples(st.just("pop"), st.integers(-5, 5)),
        ),
        max_size=20,
    )
)
def test_model_has_python_list_semantics(ops: list[tuple[Any, ...]]) -> None:
    model, plain = ChatModel(), list[ChatMessage]()
    for op in ops:
        if op[0] == "insert":
            model.add_message("k", op[2], op[1])
            plain.insert(op[1], op[2])
        else:
            expected = plain.pop(op[1]) if -len(plain) <= op[1] < len(plain) else None
            assert model.delete_message("k", op[1]) == expected
        assert model.get_messages("k") == plain
        assert model.get_keys() == (["k"] if plain else [])


def test_model_copies_what_it_is_given_and_returns() -> None:
    model = ChatModel()
    given_message = ChatMessage("user", "x", {"n": [1]})
    model.set_messages("k", [given_message])
    given_message.additional_kwargs["n"].append(2)
    model.get_messages("k")[0].additional_kwargs["n"].append(3)
    assert model.get_messages("k") == [ChatMessage("user", "x", {"n": [1]})]


def test_model_expiry_is_exact_at_the_deadline() -> None:
    model = ChatModel(ttl=10)
    model.add_message("k", A)
    model.advance(9.999)
    assert model.get_messages("k") == [A]
    model.advance(0.001)
    assert model.liveness("k") == "gone"
    assert model.get_messages("k") == []


def test_model_keeps_both_delete_policies_until_it_learns() -> None:
    model = ChatModel(ttl=10)
    model.set_messages("k", [A, B])
    model.advance(5)
    model.delete_last_message("k")  # deadline is 10 (keep) or 15 (restart)
    model.advance(6)
    assert model.liveness("k") == "unknown"
    with pytest.raises(LookupError):
        model.get_messages("k")
    model.learn_delete_policy("k", alive=True)
    assert model.delete_policy == "restart"
    assert model.get_messages("k") == [A]
    model.advance(4)
    assert model.liveness("k") == "gone"


def test_model_without_ttl_never_expires() -> None:
    model = ChatModel()
    model.add_message("k", A)
    model.advance(1e9)
    assert model.get_messages("k") == [A]


# -- the linearizability checker -------------------------------------------------

State = tuple[str, ...]
EMPTY: State = ()


def step(state: State, op: tuple[Any, ...]) -> tuple[State, Any]:
    if op[0] == "append":
        return (*state, op[1]), None
    return state, state


def test_sequential_history_is_linearizable() -> None:
    history = [Event(0, 0, 1, ("append", "x"), None), Event(1, 2, 3, ("get",), ("x",))]
    assert check_linearizable(history, EMPTY, step).ok


def test_overlapping_calls_may_take_effect_in_either_order() -> None:
    history = [
        Event(0, 0, 10, ("append", "x"), None),
        Event(1, 1, 9, ("append", "y"), None),
        Event(2, 11, 12, ("get",), ("y", "x")),
    ]
    assert check_linearizable(history, EMPTY, step).ok


def test_lost_update_is_not_linearizable() -> None:
    history = [
        Event(0, 0, 10, ("append", "x"), None),
        Event(1, 1, 9, ("append", "y"), None),
        Event(2, 11, 12, ("get",), ("y",)),  # x was lost
    ]
    verdict = check_linearizable(history, EMPTY, step)
    assert not verdict.ok
    assert len(verdict.order) == 2


def test_real_time_order_is_respected() -> None:
    history = [Event(0, 0, 1, ("get",), ("x",)), Event(1, 2, 3, ("append", "x"), None)]
    assert not check_linearizable(history, EMPTY, step).ok


# -- settings ------------------------------------------------------------------


def _resolve(options: dict[str, Any], ini: dict[str, Any], env: dict[str, str]) -> Any:
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


# -- targets -------------------------------------------------------------------


def test_only_named_injectable_parameters_are_accepted() -> None:
    def factory(ttl: float | None = None, clock: Any = None, other: int = 0, **kwargs: Any) -> None: ...

    def keyword_only(*, redis_url: str) -> None: ...

    assert accepted_parameters(factory) == {"ttl", "clock"}
    assert accepted_parameters(keyword_only) == {"redis_url"}
    assert accepted_parameters(lambda **kw: None) == frozenset()


def test_dotted_attribute_paths_resolve() -> None:
    target = parse_target("pytest_chatstore.contract:ChatMessage.copy", "test")
    assert target.name == "copy"


# -- the spec ------------------------------------------------------------------


def test_clause_ids_are_stable_and_well_formed() -> None:
    for clause_id, clause in CLAUSES.items():
        assert clause.id == clause_id
        assert re.fullmatch(r"[A-Z]{3}-\d{3}", clause_id)
        assert clause.rule.endswith(".")
        assert clause.hint


def test_docs_spec_is_generated_from_the_registry(request: pytest.FixtureRequest) -> None:
    spec = request.config.rootpath / "docs" / "spec.md"
    assert spec.read_text() == render_spec(), "regenerate: python -m pytest_chatstore spec > docs/spec.md"


def test_docs_changelog_is_generated_from_the_registry(request: pytest.FixtureRequest) -> None:
    changelog = request.config.rootpath / "docs" / "changelog.md"
    assert changelog.read_text() == render_changelog(), (
        "regenerate: python -m pytest_chatstore changelog > docs/changelog.md"
    )


def test_messages_compare_numbers_as_json_does() -> None:
    from pytest_chatstore.contract import ChatMessage, json_equal

    assert json_equal(5.416887924781619e16, 54168879247816190)  # JSONB's rendering of that double
    assert not json_equal(1, 1.5)
    assert not json_equal(True, 1)
    assert not json_equal(None, 0)
    assert json_equal({"a": [1, {"b": None}]}, {"a": [1.0, {"b": None}]})
    assert not json_equal({"a": 1}, {"a": 1, "b": 2})
    assert ChatMessage("user", "x", {"n": 2}) == ChatMessage("user", "x", {"n": 2.0})
    assert ChatMessage("user", "x", {"n": 2}) != ChatMessage("user", "y", {"n": 2})
