"""The operations registry (:mod:`pytest_chatstore.spec.operations`): one record per operation, true to its readers."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from pytest_chatstore.engine.attribution import exercises, rule_of, state_rule
from pytest_chatstore.spec.clauses import CAPABILITIES, CLAUSES
from pytest_chatstore.spec.contract import AsyncChatStore, BatchChatStore, ChatMessage, ChatStore, TailChatStore
from pytest_chatstore.spec.model import ChatModel
from pytest_chatstore.spec.operations import OPERATIONS, Operation, expected_answer, method_name
from reference_impls.memory import InMemoryChatStore

A = ChatMessage("user", "a")


@pytest.mark.parametrize("op", OPERATIONS.values(), ids=list(OPERATIONS))
def test_each_operation_is_in_the_contract_the_model_and_the_reference_store(op: Operation[Any]) -> None:
    protocols = (ChatStore, AsyncChatStore, BatchChatStore, TailChatStore)
    assert any(hasattr(p, op.sync) for p in protocols), f"{op.sync} is not in the contract"
    assert hasattr(AsyncChatStore, op.async_) or op.name == "add_batch"
    assert callable(getattr(ChatModel, op.model))
    assert op.capability is None or op.capability in CAPABILITIES
    assert inspect.iscoroutinefunction(getattr(InMemoryChatStore, op.async_))
    assert callable(getattr(InMemoryChatStore, op.sync))


def test_method_names_follow_llamaindex() -> None:
    assert method_name("add") == "add_message"
    assert method_name("add", use_async=True) == "async_add_message"
    assert method_name("delete_all", use_async=True) == "adelete_messages"


def test_the_model_answers_every_operation() -> None:
    model = ChatModel()
    assert expected_answer(model, ("set", "k", [A])) is None
    assert expected_answer(model, ("add_batch", "k", [A, A])) is None
    assert expected_answer(model, ("add", "k", A, 0)) is None
    assert expected_answer(model, ("get", "k")) == [A, A, A, A]
    assert expected_answer(model, ("delete", "k", -1)) == A
    assert expected_answer(model, ("delete_last", "k")) == A
    assert expected_answer(model, ("keys",)) == ["k"]
    assert expected_answer(model, ("delete_all", "k")) == [A, A]
    assert expected_answer(model, ("delete_last", "k")) is None
    assert expected_answer(model, ("add", "k", A, None)) is None
    assert expected_answer(model, ("tail", "k", 5)) == [A]
    assert expected_answer(model, ("tail", "k", 0)) == []


def test_each_clause_pattern_names_an_operation_and_one_of_its_cases() -> None:
    for c in CLAUSES.values():
        for pattern in (*c.answer_of, *c.effect_of, *c.exercised_by):
            name, _, case = pattern.partition("/")
            assert name in OPERATIONS, f"{c.id}: {pattern!r} names no operation"
            assert not case or case in OPERATIONS[name].case_names, f"{c.id}: {pattern!r} names no case of {name}"


B = ChatMessage("assistant", "b")
CALLS: list[tuple[Any, ...]] = [
    ("set", "k", [A]),
    ("set", "k", []),
    ("add", "k", A, None),
    ("add", "k", A),
    ("add", "k", A, 0),
    ("add_batch", "k", [A]),
    ("get", "k"),
    ("get", "empty"),
    ("delete", "k", 0),
    ("delete", "k", 2),
    ("delete", "k", -1),
    ("delete_last", "k"),
    ("delete_last", "empty"),
    ("delete_all", "k"),
    ("keys",),
    ("tail", "k", 1),
]
RULES = {  # call -> (its answer's rule, its state's rule, the rules it exercises), written out by hand
    0: (None, "SET-001", {"SET-001"}),
    1: (None, "SET-002", {"SET-002"}),
    2: (None, "INS-001", {"INS-001"}),
    3: (None, "INS-001", {"INS-001"}),
    4: (None, "INS-002", {"INS-002"}),
    5: (None, "ORD-001", {"INS-001"}),
    6: (None, "ORD-001", set()),
    7: (None, "ORD-001", {"ORD-002"}),
    8: ("DEL-001", "DEL-001", {"DEL-001"}),
    9: ("DEL-002", "DEL-002", {"DEL-002"}),
    10: ("DEL-004", "DEL-003", {"DEL-003", "DEL-004"}),
    11: ("DLL-001", "DLL-001", {"DLL-001"}),
    12: ("DLL-002", "DLL-001", {"DLL-002"}),
    13: ("DLA-002", "DLA-001", {"DLA-001", "DLA-002"}),
    14: ("KEY-002", "ORD-001", {"KEY-001", "KEY-002"}),
    15: (None, "ORD-001", set()),
}


@pytest.mark.parametrize("n", range(len(CALLS)), ids=[repr(c) for c in CALLS])
def test_the_clause_records_say_whose_rule_each_call_meets(n: int) -> None:
    model = ChatModel()
    model.set_messages("k", [A, B])
    answer, state, exercised = RULES[n]
    assert rule_of(CALLS[n], model) == answer
    assert state_rule(CALLS[n], model) == state
    assert exercises(CALLS[n], model) == exercised
