"""Model-based testing: a Hypothesis state machine drives the store and the model in lockstep.

Two keys (drawn per run, tricky ones likely), every operation the store
has, sync and async calls mixed, and after every step the full state is
compared. Only MUST-level behaviour is enforced here: a negative-index delete
may answer ``None`` (DEL-003), and a conversation emptied by deletes may stay
listed (KEY-002 is a SHOULD with its own test).
"""

from __future__ import annotations

import contextlib
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from pytest_chatstore.engine import strategies as cst
from pytest_chatstore.engine.attribution import ANSWER_RULES
from pytest_chatstore.harness.store import StoreUnderTest
from pytest_chatstore.spec.contract import ChatMessage
from pytest_chatstore.spec.model import ChatModel
from pytest_chatstore.suite import clause, exhaust, number_op, run_op

which = st.sampled_from([0, 0, 0, 1])
"""Which of the two keys a step uses: mostly the first, so one conversation sees long histories."""
modes = st.booleans()


class ChatStoreMachine(RuleBasedStateMachine):
    """Store and model side by side; see the module docstring."""

    sut: StoreUnderTest  # set on a subclass per target, see the test below

    def __init__(self) -> None:
        super().__init__()
        self.exits = contextlib.ExitStack()
        self.model = self.make_model()
        self.store = self.exits.enter_context(self.sut.fresh(**self.store_kwargs()))
        self.caps = self.sut.capabilities  # detected, with the declarations applied
        self.keys: list[str] = []
        self.ever_written: set[str] = set()
        self.step = 0

    def make_model(self) -> ChatModel:
        return ChatModel()

    def store_kwargs(self) -> dict[str, Any]:
        return {}

    def teardown(self) -> None:
        self.exits.close()

    def resolve(self, keys: list[str]) -> None:
        """Where the model cannot tell whether a key expired (the store's delete policy), look."""
        for key in keys:
            if self.model.liveness(key) == "unknown":
                self.model.learn_delete_policy(key, alive=bool(self.store.get_messages(key)))

    def _do(self, op: tuple[Any, ...], use_async: bool) -> None:
        self.step += 1
        self.resolve(self.keys if op[0] == "keys" else [op[1]])
        op = number_op(op, self.step)
        if op[0] in ("set", "add"):
            self.ever_written.add(op[1])
        run_op(self.store, self.model, op, use_async=use_async and "async" in self.caps, python_negatives=False)

    @initialize(keys=cst.distinct_keys(2))
    def choose_keys(self, keys: list[str]) -> None:
        self.keys = keys

    @rule(k=which, messages=st.lists(cst.simple_messages, max_size=4), use_async=modes)
    def set_messages(self, k: int, messages: list[ChatMessage], use_async: bool) -> None:
        self._do(("set", self.keys[k], messages), use_async)

    @rule(k=which, message=cst.simple_messages, use_async=modes)
    def append(self, k: int, message: ChatMessage, use_async: bool) -> None:
        self._do(("add", self.keys[k], message, None), use_async)

    @precondition(lambda self: "insert" in self.caps)
    @rule(k=which, message=cst.simple_messages, idx=cst.indices(), use_async=modes)
    def insert(self, k: int, message: ChatMessage, idx: int, use_async: bool) -> None:
        self._do(("add", self.keys[k], message, idx), use_async)

    @precondition(lambda self: "async" in self.caps)
    @rule(k=which)
    def async_get(self, k: int) -> None:
        # Sync reads are the invariant's job, after every step.
        self._do(("get", self.keys[k]), use_async=True)

    @precondition(lambda self: "delete_message" in self.caps)
    @rule(k=which, idx=cst.indices(), use_async=modes)
    def delete(self, k: int, idx: int, use_async: bool) -> None:
        self._do(("delete", self.keys[k], idx), use_async)

    @precondition(lambda self: "delete_last" in self.caps)
    @rule(k=which, use_async=modes)
    def delete_last(self, k: int, use_async: bool) -> None:
        self._do(("delete_last", self.keys[k]), use_async)

    @precondition(lambda self: "delete_all" in self.caps)
    @rule(k=which, use_async=modes)
    def delete_all(self, k: int, use_async: bool) -> None:
        self._do(("delete_all", self.keys[k]), use_async)

    @precondition(lambda self: "keys" in self.caps)
    @rule(use_async=modes)
    def get_keys(self, use_async: bool) -> None:
        if {"KEY-001", "KEY-002"} & self.store.known_broken:
            return  # listing's own rules are known broken: the machine goes on without it
        self.resolve(self.keys)
        listed = self.store.get_keys(use_async=use_async and "async" in self.caps)
        self._check_listing(listed)

    def _check_listing(self, listed: list[str]) -> None:
        if len(listed) != len(set(listed)):
            self.store.violation(f"get_keys listed a key more than once: {listed!r}", rule=ANSWER_RULES["keys"])
        expected = self.model.get_keys()
        missing = set(expected) - set(listed)
        foreign = set(listed) - self.ever_written
        if missing or foreign:  # compared, so that keys a store cannot keep are told apart (KEY-003)
            shown = sorted(k for k in listed if k in expected or k in foreign)
            self.store.expect(
                f"get_keys (sorted, emptied conversations aside): missing {sorted(missing)!r}, never written "
                f"{sorted(foreign)!r}",
                expected,
                shown,
                rule=ANSWER_RULES["keys"],
            )

    @invariant()
    def state_agrees(self) -> None:
        self.resolve(self.keys)
        for key in self.keys:
            got = self.store.get_messages(key)
            # The state is the order the operations produced: once ORD-001 is known broken, this waits for it.
            self.store.expect(f"full state: messages at {key!r}", self.model.get_messages(key), got, rule="ORD-001")


_A, _B, _C, _D = (ChatMessage("user", text) for text in ("a", "b", "c", "d"))
EDGE_HISTORIES: list[list[tuple[Any, ...]]] = [
    [("set", "k", [_A, _B, _C]), ("delete", "k", first), ("add", "k", _D, then)]
    for first in (0, 1, -1)
    for then in (0, 1, -1)
] + [
    [("set", "k", [_A, _B, _C]), ("delete", "k", 0), ("delete", "k", 0), ("add", "k", _D, 0)],
    [("set", "k", [_A, _B]), ("delete", "k", 0), ("add", "k", _C, None), ("add", "k", _D, 1)],
]
"""Interleavings at the ends of a list, checked every run before the random search: bookkeeping bugs
(a lazily dropped head, an offset an insert forgets) show here whatever the search happens to draw."""


@clause
def test_MDL_001_store_agrees_with_model(chatstore: StoreUnderTest) -> None:
    exhaust(chatstore)  # every mixed history of the small scope, before the edge histories and the machine
    if {"insert", "delete_message"} <= chatstore.capabilities:
        for history in EDGE_HISTORIES:
            model = ChatModel()
            with chatstore.fresh() as store:
                for op in history:
                    run_op(store, model, op, python_negatives=False)
                    store.expect(
                        f"messages after {op[0]}", model.get_messages("k"), store.get_messages("k"), rule="ORD-001"
                    )
    machine = type("ChatStoreMachine", (ChatStoreMachine,), {"sut": chatstore})
    chatstore.run_machine(machine)
