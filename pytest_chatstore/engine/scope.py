"""The small scope: every operation sequence up to a bound, enumerated, never sampled.

Most bugs of a chat store show on small inputs (the small-scope hypothesis that Alloy,
SmallCheck and TLC rest on): a conversation emptied by one delete, an insert one past
the end, a negative index one below ``-len``. So before any random search, the
sequence-based clauses check *every* sequence of the scope, in order of length, so
that a bug within it is found on every run, whatever the seed, and the first failing
sequence is a shortest one.

The scope (documented in ``docs/explanation.md``):

- two conversations, ``"a"`` and ``"b"``; two contents, ``x`` and ``y``;
- every sequence of up to :data:`DEPTH` writes from the empty state, each write one of:
  append ``x`` or ``y``; insert at every index from ``-len-1`` to ``len+1``; delete at every
  index in the same range; delete the last message; delete all; ``set_messages`` with
  ``[]``, one message or two;
- every state of up to three messages reached directly with one ``set_messages``,
  followed by each write above (a write's answer and effect depend on the state only);
- every sequence of :data:`PACKED_DEPTH` writes on one conversation, run *packed*
  (:func:`packed`): :data:`PACK` of them to a fresh store, each on its own conversation, their
  writes interleaved step by step, so that each conversation's history runs beside its
  neighbours' and a conversation's messages are read once, at the end of the batch;
- symmetry: keys and contents are interchangeable, so only sequences that use ``"a"``
  before ``"b"`` and ``x`` before ``y`` are listed; duplicates are dropped.

A sequence belongs to the clauses whose rules its last write exercises, to ORD-001 when it
ends in a delete that leaves two messages or more, and to KEY-001 or KEY-002 for the key listing (see
:func:`owners`): each clause checks the sequences that end in its operation, and after
every step of them the whole state (answers, messages of both keys, the key listing).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import product
from typing import Any

from pytest_chatstore.engine.attribution import exercises
from pytest_chatstore.spec.clauses import LISTED, LOOKALIKES, MODEL, ORDER, SHARED, UNLISTED
from pytest_chatstore.spec.contract import ChatMessage
from pytest_chatstore.spec.model import ChatModel
from pytest_chatstore.spec.operations import expected_answer

Op = tuple[Any, ...]

DEPTH = 2
"""The longest history enumerated from the empty state on two conversations, each sequence on a store of its own."""
PACKED_DEPTH = 3
"""The longest history enumerated on one conversation: run packed (:func:`packed`)."""
PACK = 50
"""Sequences per packed batch: one fresh store, one conversation per sequence (:func:`packed_key`)."""
KEYS = ("a", "b")
CONTENTS = (ChatMessage("user", "x"), ChatMessage("assistant", "y"))
LONGEST_SET = 3
"""The longest conversation reached directly with ``set_messages``."""

EMPTYING = ("delete", "delete_last", "delete_all", "set")
"""Writes that can leave a conversation empty: their sequences are KEY-002's."""


@dataclass(frozen=True)
class Covered:
    """What a clause's bounded-exhaustive phase checked: the report's evidence of it."""

    sequences: int
    calls: int
    depth: int
    reduced: bool = False
    """The budget cut the depth (a slow store): said in the report, never silent."""
    what: str = ""
    """The scope in words, where it is not the sequence clauses' (SHR-001's two instances)."""
    of: int = 0
    """The sequences of the scope at this depth, when the budget's time ran out before all of them ran."""
    packed: int = 0
    """Of :attr:`sequences`, those of :data:`PACKED_DEPTH` writes on one conversation, run packed."""

    def describe(self) -> str:
        if self.what:
            return f"{self.what}: {self.sequences} sequences"
        if self.of > self.sequences:
            return (
                f"exhaustive to depth {self.depth} over {len(KEYS)} conversations, cut by the budget's time after "
                f"{self.sequences} of {self.of} sequences"
            )
        cut = f" (depth {PACKED_DEPTH} cut by the budget)" if self.reduced else ""
        deep = (
            f" and to depth {PACKED_DEPTH} on one ({self.packed} of them, {PACK} to a store)"
            if self.depth == PACKED_DEPTH
            else ""
        )
        shown = min(self.depth, DEPTH)
        return f"exhaustive to depth {shown} over {len(KEYS)} conversations{deep}{cut}: {self.sequences} sequences"


@dataclass(frozen=True)
class Needs:
    """What a store must have for a write to be in its scope."""

    insert: bool
    delete_message: bool
    delete_last: bool
    delete_all: bool

    @classmethod
    def of(cls, capabilities: frozenset[str]) -> Needs:
        return cls(*(name in capabilities for name in ("insert", "delete_message", "delete_last", "delete_all")))


def writes(model: ChatModel, needs: Needs, keys: tuple[str, ...], contents: tuple[ChatMessage, ...]) -> Iterator[Op]:
    """Every write of the scope on ``keys`` with ``contents``, in the model's state."""
    for key in keys:
        n = len(model.get_messages(key))
        for c in contents:
            yield ("add", key, c, None)
        if needs.insert:
            for i in range(-n - 1, n + 2):
                for c in contents:
                    yield ("add", key, c, i)
        if needs.delete_message:
            for i in range(-n - 1, n + 2):
                yield ("delete", key, i)
        if needs.delete_last:
            yield ("delete_last", key)
        if needs.delete_all:
            yield ("delete_all", key)
        yield ("set", key, [])
        for size in (1, 2):
            for chosen in product(contents, repeat=size):
                yield ("set", key, list(chosen))


def _canonical(ops: list[Op]) -> bool:
    """Whether ``ops`` uses ``"a"`` before ``"b"`` and ``x`` before ``y`` (one representative per symmetry class)."""
    keys_seen: list[str] = []
    contents_seen: list[str] = []
    for op in ops:
        if op[1] not in keys_seen:
            keys_seen.append(op[1])
        for m in op[2] if op[0] == "set" else [op[2]] if op[0] == "add" else []:
            if m.content not in contents_seen:
                contents_seen.append(m.content)
    first_contents = [c.content for c in CONTENTS]
    return keys_seen == list(KEYS[: len(keys_seen)]) and contents_seen == first_contents[: len(contents_seen)]


def _replayed(ops: list[Op]) -> ChatModel:
    model = ChatModel()
    for op in ops:
        expected_answer(model, op)
    return model


def histories(needs: Needs, depth: int = DEPTH, keys: tuple[str, ...] = KEYS) -> Iterator[list[Op]]:
    """Every canonical sequence of 1..``depth`` writes on ``keys`` from the empty state, shortest first."""
    level: list[list[Op]] = [[]]
    for _ in range(depth):
        following: list[list[Op]] = []
        for prefix in level:
            model = _replayed(prefix)
            following += [[*prefix, op] for op in writes(model, needs, keys, CONTENTS) if _canonical([*prefix, op])]
        yield from following
        level = following


def from_states(needs: Needs) -> Iterator[list[Op]]:
    """Each state of 1..:data:`LONGEST_SET` messages set directly on ``"a"``, alone and then with each write
    on ``"a"``."""
    for size in range(1, LONGEST_SET + 1):
        for chosen in product(CONTENTS, repeat=size):
            start: Op = ("set", "a", list(chosen))
            if not _canonical([start]):
                continue
            yield [start]  # three messages set at once: SET-001's, and the prefix of what follows
            model = _replayed([start])
            for op in writes(model, needs, ("a",), CONTENTS):
                yield [start, op]


def kind(op: Op) -> str:
    """The kind of a write: ``append`` and ``insert`` are told apart, the rest is the operation's name."""
    if op[0] == "add":
        return "append" if op[3] is None else "insert"
    return str(op[0])


BASIC = frozenset({"append", "set"})
"""The writes every store has: a focused clause's sequences build their history with these and its own write."""


def owners(ops: list[Op]) -> frozenset[str]:
    """The clauses a sequence belongs to.

    Its last write belongs to the clauses whose rules it exercises, to ORD-001 when it is a delete that
    leaves two messages or more, and to KEY-001 (a write that leaves messages) or KEY-002 (a write that
    may empty a conversation) for the key listing. A clause owns the sequence when every earlier write is
    basic (:data:`BASIC`) or exercises that clause's rule too (DEL-002's sequences delete past the end
    twice): a failure in it is then the clause's own, and a store that raises, or crashes, in another
    operation never fails it. A sequence no clause owns mixes operations (a delete, then an insert) and
    belongs to MDL-001, the composite check, which runs after the focused ones.
    """
    model = ChatModel()  # after the loop: the state the last write left
    exercised = []
    for op in ops:
        exercised.append(exercises(op, model))
        expected_answer(model, op)
    *prefix, last = ops
    owned = set(exercised[-1])
    extras = set()
    if last[0] in ("delete", "delete_last") and len(model.get_messages(last[1])) >= 2:
        extras.add(ORDER)  # the order of what a delete leaves
    if last[0] in EMPTYING and not model.get_messages(last[1]):
        extras.add(UNLISTED)
    elif kind(last) in BASIC:
        extras.add(LISTED)  # an insert lists its key as an append does: INS-002's sequences are not KEY-001's
    basic = [kind(op) in BASIC for op in prefix]
    kept = {c for c in owned if all(b or c in rules for b, rules in zip(basic, exercised, strict=False))}
    kept |= extras if all(basic) else set()
    return frozenset(kept or {MODEL})


def packed(clause_id: str, needs: Needs) -> list[list[Op]]:
    """The sequences of :data:`PACKED_DEPTH` writes on ``"a"`` that belong to ``clause_id`` (:func:`owners`).

    They run :data:`PACK` to a fresh store, the ``n``-th on conversation :func:`packed_key` ``(n)``: every
    conversation's first write, then every second write, and so on, the answers compared as they come and each
    conversation's messages read at the end. A store whose conversations are independent gives each the answers
    it would give alone; one that is not fails the batch, and the sequence is then run alone to tell which.
    Sequences of three writes over *two* conversations are not enumerated (15,564 more): writes on different
    conversations commute in the model, and the interleaved batch puts every history beside others instead."""
    return list(_packed_by_owner(needs).get(clause_id, ()))


def packed_key(n: int) -> str:
    """The conversation of a packed batch's ``n``-th sequence: all of one length, so none is another's prefix."""
    return f"p{n:02d}"


def renamed(op: Op, key: str) -> Op:
    """``op`` on conversation ``key``."""
    return (op[0], key, *op[2:])


@functools.cache
def _packed_by_owner(needs: Needs) -> dict[str, tuple[list[Op], ...]]:
    return _filed(ops for ops in histories(needs, PACKED_DEPTH, keys=KEYS[:1]) if len(ops) == PACKED_DEPTH)


def sequences(clause_id: str, needs: Needs, depth: int = DEPTH) -> list[list[Op]]:
    """The sequences of the scope that belong to ``clause_id``, shortest first, without duplicates. At depth 1
    (the budget's cut for a slow store) the states set directly still come first, each with every write."""
    return list(_by_owner(needs, depth).get(clause_id, ()))


@functools.cache
def _by_owner(needs: Needs, depth: int) -> dict[str, tuple[list[Op], ...]]:
    """Every sequence of the scope, once, filed under each clause that owns it (enumerated once per run, not
    once per clause)."""
    return _filed([*histories(needs, depth), *from_states(needs)])


def _filed(candidates: Iterable[list[Op]]) -> dict[str, tuple[list[Op], ...]]:
    """Each of ``candidates``, once, under each clause that owns it (:func:`owners`), shortest first."""
    seen: set[str] = set()
    filed: dict[str, list[list[Op]]] = {}
    for ops in candidates:
        shown = repr(ops)
        if shown in seen:
            continue
        seen.add(shown)
        for clause_id in owners(ops):
            filed.setdefault(clause_id, []).append(ops)
    return {clause_id: tuple(sorted(chosen, key=len)) for clause_id, chosen in filed.items()}


LOOKALIKE_KEYS: tuple[tuple[str, ...], ...] = (
    ("a", "A"),
    ("a", " a", "a "),
    ("a", "a:b", "a:*"),
    ("*", "?", "[ab]", "a"),
    ("a/b", "a\\b"),
    ("\u00e9", "e\u0301"),
    ("a", "a:messages", "a:meta", "a:0", "a_messages"),
)
"""Families of keys that naive backends merge: case, surrounding spaces, prefixes and glob characters, path
separators, Unicode normal forms, and names a store's own storage keys are often built from (KEY-004's)."""


def lookalike_writes(needs: Needs, key: str) -> list[Op]:
    """One write of each kind on ``key`` holding one message: the writes a backend may aim at the wrong row (an
    append, an insert, a delete by index, delete-last, delete-all, ``set_messages`` emptying and filling)."""
    x = CONTENTS[0]
    chosen: list[Op] = [("add", key, x, None)]
    if needs.insert:
        chosen.append(("add", key, x, 0))
    if needs.delete_message:
        chosen.append(("delete", key, 0))
    if needs.delete_last:
        chosen.append(("delete_last", key))
    if needs.delete_all:
        chosen.append(("delete_all", key))
    chosen += [("set", key, []), ("set", key, [x, x])]
    return chosen


def among_lookalikes(needs: Needs) -> list[tuple[tuple[str, ...], Op]]:
    """KEY-004's scope: for each family of :data:`LOOKALIKE_KEYS` and each of its keys, every member holding a
    message of its own, then each write of :func:`lookalike_writes` on that key (the family, the write)."""
    return [(family, op) for family in LOOKALIKE_KEYS for key in family for op in lookalike_writes(needs, key)]


def lookalike_histories(needs: Needs) -> list[list[Op]]:
    """The histories a member of a family runs beside its look-alikes (on ``"a"``): each write of
    :func:`lookalike_writes`, and each two of them in a row (56 on a store with every operation)."""
    one = lookalike_writes(needs, KEYS[0])
    return [[w] for w in one] + [[w, v] for w in one for v in one]


def lookalike_rounds(needs: Needs) -> list[list[list[Op]]]:
    """KEY-004's scope of histories: for each family of :data:`LOOKALIKE_KEYS`, one round per history of
    :func:`lookalike_histories`. In round ``r`` every member first gets a message of its own, then the ``i``-th
    member runs history ``(r + i) mod n``, all at once on one store, interleaved: every member runs every history of
    up to two writes, each time beside look-alikes that hold messages and run others (392 rounds on a store with
    every operation)."""
    chosen = lookalike_histories(needs)
    return [
        [
            [("add", key, ChatMessage("user", f"message for key #{i}"), None)]
            + [renamed(op, key) for op in chosen[(r + i) % len(chosen)]]
            for i, key in enumerate(family)
        ]
        for family in LOOKALIKE_KEYS
        for r in range(len(chosen))
    ]


def through_two_instances(needs: Needs) -> list[list[Op]]:
    """SHR-001's scope: each write from the empty state, and each state of up to two messages set directly then
    each write. The first write goes through one instance and the last through the other (symmetry: which
    instance is "first" does not matter)."""
    chosen = [[op] for op in writes(ChatModel(), needs, ("a",), CONTENTS[:1])]
    chosen += [ops for ops in from_states(needs) if len(ops) == 2 and len(ops[0][2]) <= 2]
    return chosen


def size(clause_id: str, needs: Needs, depth: int = DEPTH) -> int:
    """The sequences of ``clause_id``'s bounded-exhaustive phase at ``depth`` (the budget plans with it): the sequence
    clauses', SHR-001's two instances, KEY-004's look-alikes (the last two never cut)."""
    if clause_id == SHARED:
        return len(through_two_instances(needs))
    if clause_id == LOOKALIKES:
        return len(among_lookalikes(needs)) + len(lookalike_rounds(needs))
    return len(sequences(clause_id, needs, depth))
