"""Keys, fidelity of what is stored, ownership of objects crossing the API, and bad input."""

from __future__ import annotations

import contextlib
import functools
import itertools
from collections.abc import Sequence
from typing import Any

from hypothesis import strategies as st

from pytest_chatstore.adapters.base import plain_kwargs
from pytest_chatstore.engine import scope
from pytest_chatstore.engine import strategies as cst
from pytest_chatstore.engine.attribution import ANSWER_RULES, state_rule
from pytest_chatstore.engine.driver import StoreDriver
from pytest_chatstore.engine.failures import ClauseFailure
from pytest_chatstore.harness.store import CapabilityMissing, StoreUnderTest
from pytest_chatstore.spec.contract import ChatMessage
from pytest_chatstore.spec.model import ChatModel
from pytest_chatstore.suite import (
    Op,
    clause,
    exhaust,
    numbered_ops,
    on_fresh_store,
    on_packed_store,
    op_strategy,
    run_op,
)

KEY = "conversation"
SAMPLE = ChatMessage("user", "hello", {"trace": {"id": 1}})

# -- keys ----------------------------------------------------------------------


@clause
def test_KEY_001_get_keys_lists_exactly_the_written_keys(chatstore: StoreUnderTest) -> None:
    exhaust(chatstore)

    @chatstore.given(names=cst.distinct_keys(3), data=st.data())
    def check(sut: StoreUnderTest, names: list[str], data: st.DataObject) -> None:
        writes = st.tuples(st.just("add"), st.sampled_from(names), cst.simple_messages, st.none())
        ops = data.draw(st.lists(writes, min_size=1, max_size=8), label="ops")
        model = ChatModel()
        with sut.fresh() as store:
            for op in ops:
                run_op(store, model, op)
            listed = store.get_keys()
            if len(listed) != len(set(listed)):
                store.violation(f"get_keys listed a key more than once: {listed!r}")
            store.expect("keys listed (sorted)", model.get_keys(), sorted(listed), rule="KEY-001")

    check()


@clause
def test_KEY_002_emptied_conversations_are_not_listed(chatstore: StoreUnderTest) -> None:
    exhaust(chatstore)
    ops = op_strategy(["a", "b"], with_index=True, capabilities=chatstore.capabilities)

    @chatstore.given(ops=st.lists(ops, max_size=12))
    def check(sut: StoreUnderTest, ops: list[tuple[Any, ...]]) -> None:
        model = ChatModel()
        with sut.fresh() as store:
            for op in numbered_ops(ops):
                run_op(store, model, op)
            listed = sorted(store.get_keys())
            store.expect("keys listed (sorted) after writes and deletes", model.get_keys(), listed, rule="KEY-002")

    check()


@clause
def test_KEY_003_any_string_is_a_key(chatstore: StoreUnderTest) -> None:
    def round_trip(key: str, messages: list[ChatMessage], sut: StoreUnderTest = chatstore) -> None:
        with sut.fresh() as store:
            store.set_messages(key, messages[:1])
            store.add_message(key, messages[1])
            store.expect(f"messages at key {key!r}", messages[:2], store.get_messages(key))
            if "keys" in store.capabilities:
                store.expect("keys listed", [key], store.get_keys())
            if "delete_last" in store.capabilities and ANSWER_RULES["delete_last"] not in store.known_broken:
                got = store.delete_last_message(key)
                store.expect(f"delete_last_message({key!r})", messages[1], got, rule=ANSWER_RULES["delete_last"])

    two = [ChatMessage("user", "first"), ChatMessage("assistant", "second")]
    for key in cst.TRICKY_KEYS:
        round_trip(key, two)

    @chatstore.given(key=cst.keys, messages=cst.distinct_lists(min_size=2, max_size=2))
    def check(sut: StoreUnderTest, key: str, messages: list[ChatMessage]) -> None:
        round_trip(key, messages, sut)

    check()


FOREIGN_KEYS = ["foreign", "foreign:list", "chatstore", "llama_index/chat_store/user-1", "message_store:session"]


@clause
def test_KEY_005_keys_of_others_are_never_listed(chatstore: StoreUnderTest) -> None:
    with chatstore.fresh() as store:
        store.unreplayable = "the kit writes keys directly into the database, not through the store"
        db = store.backdoor
        for name in FOREIGN_KEYS:
            db.rpush(name, '{"role": "user", "content": "not yours", "additional_kwargs": {}}')
        db.set("foreign:string", "not a conversation")
        store.log.append(f"(the kit wrote {[*FOREIGN_KEYS, 'foreign:string']!r} directly into the database)")
        store.add_message("mine", SAMPLE)
        store.expect("keys listed with foreign keys in the same database", ["mine"], sorted(store.get_keys()))


@clause
def test_KEY_004_different_strings_are_different_conversations(chatstore: StoreUnderTest) -> None:
    def distinct(names: Sequence[str], sut: StoreUnderTest = chatstore) -> None:
        with sut.fresh() as store:
            for i, name in enumerate(names):
                store.add_message(name, ChatMessage("user", f"message for key #{i}"))
            for i, name in enumerate(names):
                store.expect(
                    f"messages at {name!r}", [ChatMessage("user", f"message for key #{i}")], store.get_messages(name)
                )

    # Every family, written in both orders, on every run before the random search (enumerated, not drawn); then
    # every member of each family beside its look-alikes, holding a message each, meets each kind of write.
    chatstore.each(
        [f for family in scope.LOOKALIKE_KEYS for f in (family, family[::-1])], lambda sut, f: distinct(f, sut)
    )
    # Then every member runs every history of up to two such writes, its look-alikes running others at once.
    needs = scope.Needs.of(chatstore.capabilities)
    chosen, rounds, calls = scope.among_lookalikes(needs), scope.lookalike_rounds(needs), chatstore.calls
    with chatstore.failures_only():
        chatstore.each(
            chosen,
            lambda sut, case: on_fresh_store(
                sut, case[0], False, functools.partial(_beside_lookalikes, family=case[0], op=case[1])
            ),
        )
        chatstore.each(rounds, lambda sut, placed: on_packed_store(sut, placed, placed, False, rule="KEY-004"))
    chatstore.exhaustive = scope.Covered(
        len(chosen) + len(rounds),
        chatstore.calls - calls,
        2,
        what="each member of each family of look-alike keys, all holding a message, meeting each kind of write; "
        "then every member running every history of up to two writes beside its look-alikes running others",
    )

    @chatstore.given(names=cst.distinct_keys(3))
    def check(sut: StoreUnderTest, names: list[str]) -> None:
        distinct(names, sut)

    check()


def _beside_lookalikes(store: StoreDriver, family: tuple[str, ...], op: Op) -> None:
    """Each member of ``family`` holds a message; ``op`` writes to one of them: the others must not change (KEY-004),
    and the one written must change as ``op`` says (its own rule)."""
    __tracebackhide__ = True
    model = ChatModel()
    for i, name in enumerate(family):
        run_op(store, model, ("add", name, ChatMessage("user", f"message for key #{i}"), None))
    rule = state_rule(op, model)
    run_op(store, model, op)
    for name in sorted(family, key=lambda k: k == op[1]):  # the look-alikes first: a write that landed elsewhere
        store.expect(
            f"messages at {name!r} after {op[0]} on {op[1]!r}",
            model.get_messages(name),
            store.get_messages(name),
            rule=rule if name == op[1] else "KEY-004",
        )


@clause
def test_KEY_006_commas_and_lengths_make_different_conversations(chatstore: StoreUnderTest) -> None:
    families = [["a,b", "a", "b"], ["a,b", "b,a"], ["x" * 64, "x" * 65], ["y" * 255, "y" * 256], ["z" * 300, "z" * 301]]

    def check(names: tuple[str, ...]) -> None:
        with chatstore.fresh() as store:
            for i, name in enumerate(names):
                store.add_message(name, ChatMessage("user", f"message for key #{i}"))
            for i, name in enumerate(names):
                shown = name if len(name) < 20 else f"{name[:3]}... ({len(name)} characters)"
                store.expect(
                    f"messages at {shown!r}", [ChatMessage("user", f"message for key #{i}")], store.get_messages(name)
                )

    # The space is finite (14 orders in all): every one, on every run, none drawn.
    for family in families:
        for names in itertools.permutations(family):
            check(names)


# -- fidelity ------------------------------------------------------------------

flat_kwargs = st.dictionaries(cst.texts, cst.json_scalars, max_size=4)


EDGE_KWARGS: dict[str, Any] = {
    "null": None,
    "true": True,
    "false": False,
    "zero": 0,
    "negative": -1,
    "largest exact integer": 2**53,
    "a tenth": 0.1,
    "smallest float": 5e-324,
    "largest float": 1.7976931348623157e308,
    "whole float": 2.0,
    "empty string": "",
    "unicode": "é🙂\u2028",
    "empty list": [],
    "empty dict": {},
    "": "an empty key",
}
"""One of every JSON scalar that serialisers change (floats rounded or made ints, nulls dropped, empty
containers and empty keys left out): checked with every role on every run, before the random search."""


@clause
def test_FID_001_messages_round_trip(chatstore: StoreUnderTest) -> None:
    edge = [ChatMessage(role, f"as {role}", dict(EDGE_KWARGS)) for role in cst.ROLES]
    with chatstore.fresh() as store:
        store.set_messages(KEY, edge[:1])
        for m in edge[1:]:
            store.add_message(KEY, m)
        store.expect("one message per role, each with every edge value in additional_kwargs", edge,
                     store.get_messages(KEY))  # fmt: skip

    message = st.builds(ChatMessage, role=st.sampled_from(cst.ROLES), content=cst.texts, additional_kwargs=flat_kwargs)
    if chatstore.own_messages is not None:  # e.g. LangChain's: tool calls, ids, metadata, multimodal content
        message = message | chatstore.own_messages

    @chatstore.given(messages=st.lists(message, min_size=1, max_size=5))
    def check(sut: StoreUnderTest, messages: list[ChatMessage]) -> None:
        with sut.fresh() as store:
            store.set_messages(KEY, messages[:1])
            for m in messages[1:]:
                store.add_message(KEY, m)
            store.expect("messages read back", messages, store.get_messages(KEY))

    check()


@clause
def test_FID_002_content_is_kept_exactly(chatstore: StoreUnderTest) -> None:
    megabyte = cst.MEGABYTE
    contents = ["", " ", "\n\t  \r\n", "  padded  ", "é🙂\u200b\u2028文字", megabyte, "ü" * (1 << 19) + "🙂" * 1000]
    with chatstore.fresh() as store:
        for i, content in enumerate(contents):  # a key each: fidelity must not lean on set_messages replacing
            message = ChatMessage("assistant", content)
            store.set_messages(f"{KEY} {i}", [message])
            got = store.get_messages(f"{KEY} {i}")
            store.expect(f"content of {len(content)} characters read back", [message], got)

    @chatstore.given(content=st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=200))
    def check(sut: StoreUnderTest, content: str) -> None:
        with sut.fresh() as store:
            store.add_message(KEY, ChatMessage("user", content))
            store.expect("content read back", [ChatMessage("user", content)], store.get_messages(KEY))

    check()


@clause
def test_FID_003_nested_additional_kwargs(chatstore: StoreUnderTest) -> None:
    nested = st.dictionaries(cst.texts, cst.json_values, min_size=1, max_size=4)

    @chatstore.given(kwargs=nested)
    def check(sut: StoreUnderTest, kwargs: dict[str, Any]) -> None:
        message = ChatMessage("assistant", "with kwargs", kwargs)
        with sut.fresh() as store:
            store.add_message(KEY, message)
            store.expect("additional_kwargs read back", [message], store.get_messages(KEY))

    check()
    tool_call = {
        "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"x": [1, 2.5, null]}'}}
        ]
    }
    with chatstore.fresh() as store:
        message = ChatMessage("assistant", "", tool_call)
        store.add_message(KEY, message)
        store.expect("a tool call read back", [message], store.get_messages(KEY))


@clause
def test_FID_004_long_conversations_lose_nothing(chatstore: StoreUnderTest) -> None:
    # The long state is built with one set_messages, then appended to past 2,000: a store that caps
    # appends, or reads back only a page, shows it; thousands of appends would only cost time.
    built = [ChatMessage("user", f"message {i}") for i in range(1990)]
    appended = [ChatMessage("user", f"appended {i}") for i in range(10)]
    replaced = [ChatMessage("assistant", f"set {i}", {"i": i}) for i in range(5000)]
    with chatstore.fresh() as store:
        store.set_messages(KEY, built)
        for m in appended:
            store.add_message(KEY, m)
        got = store.get_messages(KEY)
        if got != built + appended:
            store.log[:] = [
                f"(set_messages with 1990 messages 'message 0' .. 'message 1989', then 10 add_message calls "
                f"'appended 0' .. 'appended 9'; {len(got)} came back)"
            ]
            store.expect("2000 messages read back", built + appended, got)
        store.set_messages(f"{KEY} set", replaced)  # another key: this is about length, not replacement
        got = store.get_messages(f"{KEY} set")
        store.expect("5000 messages given to set_messages read back", replaced, got)


# -- ownership -----------------------------------------------------------------


def _kwargs_of(message: Any, adapter: object) -> dict[str, Any]:
    """The ``additional_kwargs`` of a store's message: what the adapter's ``kwargs_of`` says (an Agents SDK item's
    key, an ADK event's ``custom_metadata``), else the message's attribute."""
    found: dict[str, Any] = getattr(adapter, "kwargs_of", plain_kwargs)(message)
    return found


MUTATES = "the check changes objects it handed to the store, or got from it, between calls"
"""Why the OWN-* checks' calls alone do not reproduce them (a reproduction reruns the clause instead)."""


def _tamper(message: Any, adapter: object) -> None:
    """Change a message the way careless caller code would."""
    _kwargs_of(message, adapter)["tampered"] = True
    if isinstance(message, dict):
        message["content"] = "tampered"
        return
    with contextlib.suppress(Exception):  # some message types are immutable; the dict change suffices
        message.content = "tampered"


@clause
def test_OWN_001_returned_lists_are_copies(chatstore: StoreUnderTest) -> None:
    @chatstore.given(messages=st.lists(cst.messages, min_size=1, max_size=4))
    def check(sut: StoreUnderTest, messages: list[ChatMessage]) -> None:
        with sut.fresh() as store:
            store.unreplayable = MUTATES
            store.set_messages(KEY, messages)
            returned = store.call("get", KEY)
            returned.append(returned[0])
            returned.reverse()
            store.expect("messages after changing a list get_messages returned", messages, store.get_messages(KEY))

    check()


@clause
def test_OWN_002_given_lists_are_copied(chatstore: StoreUnderTest) -> None:
    @chatstore.given(messages=st.lists(cst.messages, min_size=1, max_size=4))
    def check(sut: StoreUnderTest, messages: list[ChatMessage]) -> None:
        with sut.fresh() as store:
            store.unreplayable = MUTATES
            given_list = [store.adapter.to_store(m) for m in messages]
            store.call("set", KEY, given_list)
            given_list.append(given_list[0])
            given_list.reverse()
            store.expect("messages after changing the list given to set_messages", messages, store.get_messages(KEY))

    check()


@clause
def test_OWN_003_message_objects_are_copied(chatstore: StoreUnderTest) -> None:
    @chatstore.given(message=cst.messages, way=st.sampled_from(["add_message", "set_messages", "get_messages"]))
    def check(sut: StoreUnderTest, message: ChatMessage, way: str) -> None:
        with sut.fresh() as store:
            store.unreplayable = MUTATES
            if way == "add_message":
                given = store.adapter.to_store(message)
                store.call("add", KEY, given)
            elif way == "set_messages":
                given = store.adapter.to_store(message)
                store.call("set", KEY, [given])
            else:
                store.set_messages(KEY, [message])
                given = store.call("get", KEY)[0]
            _tamper(given, store.adapter)
            store.expect(f"messages after changing a message object {way} handled", [message], store.get_messages(KEY))

    check()


def _nested_message() -> ChatMessage:
    return ChatMessage(
        "assistant",
        "",
        {
            "tool_calls": [
                {"id": "call_1", "function": {"name": "weather", "args": {"city": "Paris", "days": [1, 2]}}}
            ],
            "meta": {"tags": ["a", "b"], "trace": {"spans": [{"id": 1}]}},
        },
    )


def _tamper_nested(message: Any, adapter: object) -> None:
    """Change data several levels down in ``additional_kwargs``, leaving its top level alone."""
    kwargs = _kwargs_of(message, adapter)
    kwargs["tool_calls"][0]["function"]["args"]["city"] = "tampered"
    kwargs["tool_calls"][0]["function"]["args"]["days"].append(99)
    kwargs["meta"]["tags"].clear()
    kwargs["meta"]["trace"]["spans"][0]["id"] = -1


@clause
def test_OWN_004_nested_data_is_copied(chatstore: StoreUnderTest) -> None:
    for way in ("add_message", "set_messages", "get_messages"):
        message = _nested_message()
        with chatstore.fresh() as store:
            store.unreplayable = MUTATES
            if way == "add_message":
                given = store.adapter.to_store(_nested_message())
                store.call("add", KEY, given)
            elif way == "set_messages":
                given = store.adapter.to_store(_nested_message())
                store.call("set", KEY, [given])
            else:
                store.set_messages(KEY, [message])
                given = store.call("get", KEY)[0]
            _tamper_nested(given, store.adapter)
            got = store.get_messages(KEY)
            if got != [message]:
                # A store that keeps the very objects it is given breaks OWN-003 first: its rule, then.
                _kwargs_of(given, store.adapter)["top level"] = True
                kept = "top level" in store.get_messages(KEY)[0].additional_kwargs if got else False
                store.expect(
                    f"messages after changing nested data of a message {way} handled",
                    [message],
                    got,
                    rule="OWN-003" if kept else None,
                )


def _inexact_integers(expected: Any, actual: Any, path: str = "additional_kwargs") -> list[str]:
    """Where an integer of ``expected`` came back as anything but the same integer."""
    if isinstance(expected, bool):
        return []
    if isinstance(expected, int):
        return [] if type(actual) is int and actual == expected else [f"{path}: {expected} came back as {actual!r}"]
    if isinstance(expected, dict) and isinstance(actual, dict):
        return [p for k in expected for p in _inexact_integers(expected[k], actual.get(k), f"{path}[{k!r}]")]
    if isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        return [
            p
            for i, (e, a) in enumerate(zip(expected, actual, strict=True))
            for p in _inexact_integers(e, a, f"{path}[{i}]")
        ]
    return []


BIG_INTEGERS = {
    "id": 2**63 - 1,
    "snowflake": 1_234_567_890_123_456_789,
    "negative": -(2**63),
    "just past 2**53": 2**53 + 1,
    "small": 7,
    "nested": {"ids": [2**53 + 3, -(2**55) - 1], "price": 0.1},
}


@clause
def test_FID_005_integers_stay_exact_integers(chatstore: StoreUnderTest) -> None:
    message = ChatMessage("assistant", "ids", BIG_INTEGERS)
    with chatstore.fresh() as store:
        store.add_message(KEY, message)
        got = store.get_messages(KEY)
        store.expect("messages read back (numbers compared as JSON doubles)", [message], got, rule="FID-003")
        wrong = _inexact_integers(message.additional_kwargs, got[0].additional_kwargs)
        if wrong:
            store.violation("integers did not come back exact: " + "; ".join(wrong))


# -- bad input -----------------------------------------------------------------

BAD_KEYS: list[Any] = [1, None, b"key", 1.5, ("a",), ["a"]]
BAD_INDICES: list[Any] = ["1", 1.0, 0.5, b"0", [0]]
"""Not indices. (``None`` is one for ``delete_message`` only: for ``add_message`` it means append.)"""
NOT_MESSAGES: list[Any] = ["hello", {"role": "user", "content": "hi"}, None, 42, b"{}", ["user", "hi"]]


def _refused(store: StoreDriver, what: str, op: str, *args: Any, **kwargs: Any) -> None:
    """Call ``op`` expecting TypeError or ValueError; fail the clause on success or any other error."""
    __tracebackhide__ = True
    try:
        store.call(op, *args, raw=True, **kwargs)
    except ClauseFailure:
        raise  # the kit's verdict on the call (an alarm it left armed), not the store's answer to bad input
    except (TypeError, ValueError):
        return
    except Exception as exc:  # noqa: BLE001 - reported as the violation it is
        said = f"{what} raised {type(exc).__name__}, not TypeError or ValueError"
        store.raised_before(exc, said, op)  # the method raises it whatever it is given: another clause's root cause
        store.violation(said)
    store.accepted(what)


def _unchanged(store: StoreDriver, before: list[ChatMessage]) -> None:
    __tracebackhide__ = True
    store.expect("the existing conversation after refused input", before, store.get_messages(KEY))
    if "keys" in store.capabilities:
        store.expect("keys listed after refused input", [KEY], store.get_keys())


@clause
def test_BAD_001_non_string_keys_are_refused(chatstore: StoreUnderTest) -> None:
    for bad in BAD_KEYS:
        with chatstore.fresh() as store:
            if not getattr(store.store, "keys_reach_backend", True):
                raise CapabilityMissing(
                    f"BAD-001: no key reaches the backend of {chatstore.target.name} (it takes no key: each key "
                    "is the adapter's name for an object of its own), so there is no check of a key to test"
                )
            store.set_messages(KEY, [SAMPLE])
            message = store.adapter.to_store(SAMPLE)
            _refused(store, f"set_messages({bad!r}, [m])", "set", bad, [message])
            _refused(store, f"add_message({bad!r}, m)", "add", bad, message)
            _refused(store, f"get_messages({bad!r})", "get", bad)
            _unchanged(store, [SAMPLE])
            store.expect(f"messages at str({bad!r})", [], store.get_messages(str(bad)))


@clause
def test_BAD_002_non_int_indices_are_refused(chatstore: StoreUnderTest) -> None:
    for bad in BAD_INDICES:
        with chatstore.fresh() as store:
            store.set_messages(KEY, [SAMPLE])
            _refused(store, f"add_message(key, m, idx={bad!r})", "add", KEY, store.adapter.to_store(SAMPLE), idx=bad)
            if "delete_message" in store.capabilities:
                for not_index in (bad, None):
                    _refused(store, f"delete_message(key, {not_index!r})", "delete", KEY, not_index)
            _unchanged(store, [SAMPLE])


@clause
def test_BAD_003_non_messages_are_refused(chatstore: StoreUnderTest) -> None:
    for bad in NOT_MESSAGES:
        with chatstore.fresh() as store:
            store.set_messages(KEY, [SAMPLE])
            good = store.adapter.to_store(ChatMessage("user", "good"))
            _refused(store, f"add_message(key, {bad!r})", "add", KEY, bad)
            _refused(store, f"set_messages(key, [good, {bad!r}])", "set", KEY, [good, bad])
            _refused(store, f"set_messages(key, [{bad!r}, good])", "set", KEY, [bad, good])
            _unchanged(store, [SAMPLE])
