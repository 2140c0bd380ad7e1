"""The reference model (:mod:`pytest_chatstore.spec.model`): Python-list semantics and expiry."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_chatstore.spec.contract import ChatMessage
from pytest_chatstore.spec.model import ChatModel

A, B, C = (ChatMessage("user", x) for x in "abc")


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


def test_the_one_conversation_model_of_the_linearizability_checks() -> None:
    from pytest_chatstore.spec.model import step

    state: tuple[str, ...] = ("a", "b")
    assert step(state, "add", "c") == (("a", "b", "c"), None)
    assert step(state, "add", "c", None) == (("a", "b", "c"), None)
    assert step(state, "add", "x", -1) == (("a", "x", "b"), None)  # list.insert
    assert step(state, "add", "x", 9) == (("a", "b", "x"), None)
    assert step(state, "delete", 0) == (("b",), "a")
    assert step(state, "delete", 2) == (state, None)  # out of range: nothing changes
    assert step(state, "delete_last") == (("a",), "b")
    assert step((), "delete_last") == ((), None)
    assert step(state, "get") == (state, state)
