"""InMemoryChatStore beyond the suite: clear errors for bad input, expiry on an injected clock."""

from __future__ import annotations

import pytest

from pytest_chatstore.spec.contract import ChatMessage
from reference_impls.memory import InMemoryChatStore

M = ChatMessage("user", "hi", {"tool_calls": [{"id": "1"}]})


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda s: s.add_message(1, M), TypeError, "key must be str, not int"),
        (lambda s: s.add_message("", M), ValueError, "key must not be empty"),
        (lambda s: s.add_message("k", M, idx=1.0), TypeError, "idx must be int, not float"),
        (lambda s: s.delete_message("k", True), TypeError, "idx must be int, not bool"),
        (lambda s: s.add_message("k", {"role": "user"}), TypeError, "expected a chat message, not dict"),
        (lambda s: s.set_messages("k", "hello"), TypeError, "messages must be a list of chat messages, not str"),
        (
            lambda s: s.add_message("k", ChatMessage("user", "x", {"when": object()})),
            TypeError,
            r"additional_kwargs\['when'\]: object is not JSON-native",
        ),
        (
            lambda s: s.add_message("k", ChatMessage("user", "x", {"n": float("nan")})),
            ValueError,
            "is not valid JSON",
        ),
        (lambda s: s.add_message("k", ChatMessage("user", "x", {"d": {1: "a"}})), TypeError, "dict keys must be str"),
    ],
)
def test_bad_input_is_refused_with_a_clear_error(call: object, error: type[Exception], message: str) -> None:
    store = InMemoryChatStore()
    store.set_messages("k", [M])
    with pytest.raises(error, match=message):
        call(store)  # type: ignore[operator]
    assert store.get_messages("k") == [M]


@pytest.mark.parametrize("ttl", [0, -1, "10", True])
def test_bad_ttl_is_refused(ttl: object) -> None:
    with pytest.raises(ValueError, match="ttl must be a positive number"):
        InMemoryChatStore(ttl=ttl)  # type: ignore[arg-type]


def test_expiry_follows_the_injected_clock() -> None:
    clock = FakeClock()
    store = InMemoryChatStore(ttl=10, clock=clock)
    store.add_message("k", M)
    clock.now = 9.5
    assert store.get_messages("k") == [M]  # a read does not extend life
    store.add_message("k", M)  # a write restarts the window
    clock.now = 19
    assert store.get_keys() == ["k"]
    clock.now = 19.5
    assert store.get_keys() == []
    assert store.delete_last_message("k") is None


def test_the_tail_read_refuses_a_limit_that_is_not_a_count() -> None:
    store = InMemoryChatStore()
    store.set_messages("k", [ChatMessage("user", "a"), ChatMessage("user", "b")])
    assert store.get_last_messages("k", 1) == [ChatMessage("user", "b")]
    assert store.get_last_messages("k", 0) == []
    with pytest.raises(ValueError, match="limit must be 0 or more"):
        store.get_last_messages("k", -1)
    for bad in ("1", 1.0, True, None):
        with pytest.raises(TypeError):
            store.get_last_messages("k", bad)  # type: ignore[arg-type]
    assert store.get_messages("k") == [ChatMessage("user", "a"), ChatMessage("user", "b")]
