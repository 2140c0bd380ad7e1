"""The contract (:mod:`pytest_chatstore.spec.contract`): the message type, and every clause named in the protocols."""

from __future__ import annotations

import inspect
import re

import pytest

from pytest_chatstore.spec import contract
from pytest_chatstore.spec.clauses import CLAUSES


def test_messages_compare_numbers_as_json_does() -> None:
    from pytest_chatstore.spec.contract import ChatMessage, json_equal

    assert json_equal(5.416887924781619e16, 54168879247816190)  # JSONB's rendering of that double
    assert not json_equal(1, 1.5)
    assert not json_equal(True, 1)
    assert not json_equal(None, 0)
    assert json_equal({"a": [1, {"b": None}]}, {"a": [1.0, {"b": None}]})
    assert not json_equal({"a": 1}, {"a": 1, "b": 2})
    assert ChatMessage("user", "x", {"n": 2}) == ChatMessage("user", "x", {"n": 2.0})
    assert ChatMessage("user", "x", {"n": 2}) != ChatMessage("user", "y", {"n": 2})


SOURCE = inspect.getsource(contract)
CITED = {c for group in re.findall(r"\[([A-Z0-9, \n-]+)\]", SOURCE) for c in re.findall(r"[A-Z]{3}-\d{3}", group)}
"""Clause IDs cited in brackets, as a docstring sentence cites the clause that checks it: ``[DEL-001]``."""


@pytest.mark.parametrize("clause_id", list(CLAUSES))
def test_the_contract_states_every_clause(clause_id: str) -> None:
    assert clause_id in CITED, f"{clause_id} is in the registry but pytest_chatstore/spec/contract.py does not state it"


def test_the_contract_cites_only_registered_clauses() -> None:
    assert set(CLAUSES) >= CITED, sorted(CITED - set(CLAUSES))
