"""The linearizability checker (:mod:`pytest_chatstore.engine.linearizability`)."""

from __future__ import annotations

from typing import Any

from pytest_chatstore.engine.linearizability import Event, check_linearizable

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
