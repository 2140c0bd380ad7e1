"""The operations registry (:mod:`pytest_chatstore.operations`): one record per operation, true to what reads it."""

from __future__ import annotations

import inspect

import pytest

from pytest_chatstore.clauses import CAPABILITIES
from pytest_chatstore.contract import AsyncChatStore, BatchChatStore, ChatMessage, ChatStore, TailChatStore
from pytest_chatstore.model import ChatModel
from pytest_chatstore.operations import OPERATIONS, Operation, expected_answer, method_name
from reference_impls.memory import InMemoryChatStore

A = ChatMessage("user", "a")


@pytest.mark.parametrize("op", OPERATIONS.values(), ids=list(OPERATIONS))
def test_each_operation_is_in_the_contract_the_model_and_the_reference_store(op: Operation) -> None:
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
