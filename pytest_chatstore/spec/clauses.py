"""The clause registry: the spec, written once.

Every clause has a stable ID, a level (MUST or SHOULD), the group it belongs
to, one normative sentence, a troubleshooting hint, and the capabilities a
store needs for the clause to apply. Each clause is checked by exactly one
test in :mod:`pytest_chatstore.suite`; ``docs/spec.md`` is generated from this
module (``python -m pytest_chatstore spec > docs/spec.md``) and a test keeps
it fresh.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pytest_chatstore.spec.profiles import PROFILES

SPEC_VERSIONS: tuple[str, ...] = ("0.1", "0.2", "0.3", "0.4", "0.5")
"""Every released spec version, oldest first. A CI may pin any of them (``--chatstore-spec``)."""

SPEC_VERSION = SPEC_VERSIONS[-1]
"""The version this suite implements."""

Level = Literal["MUST", "SHOULD"]

CALLS_PER_SEQUENCE = 7.3
"""Store calls per sequence of a bounded-exhaustive phase (building the store, its writes, the reads after each):
measured on the in-memory reference store (the mean over every phase, ``evidence.exhaustive`` of a JSON report)."""


CALLS_PER_PACKED = 4.3
"""Store calls per sequence run packed: three writes, one read, and a share of the batch's store and key listing
(measured as :data:`CALLS_PER_SEQUENCE` is)."""


Unit = Literal["property", "machine", "steps", "rounds", "fixed"]
"""What scales: Hypothesis examples of a property or a state machine, steps per writer of a burst,
rounds of a concurrency clause, or nothing (a fixed scenario)."""


@dataclass(frozen=True)
class Work:
    """A clause's work: calls per unit, how many units the full work has, and its floor of evidence."""

    per_unit: float
    """Store calls per unit (measured on the in-memory reference store: ``benchmarks/clause_work.py``)."""
    unit: Unit = "property"
    full: int = 1
    """Units of the full work, for the units no Hypothesis profile sets (steps, rounds, fixed)."""
    floor: int = 10
    """The fewest units the clause ever runs."""
    exhaustive: tuple[int, int] = (0, 0)
    """Sequences of the clause's bounded-exhaustive phase (:mod:`pytest_chatstore.engine.scope`) in full and at depth 1,
    its cut for a clause the budget reduces; ``tests/test_same_verdict.py`` keeps them equal to the scope's."""
    packed: int = 0
    """Of the full phase's, besides :attr:`exhaustive`: the sequences of three writes run packed (none at depth 1)."""

    def full_units(self, profile: str) -> int:
        if self.unit in ("property", "machine"):
            count: int = PROFILES[profile][self.unit]["max_examples"]
            return count
        return self.full

    def calls(self, profile: str) -> float:
        """The calls of the full work: the random phase's, and the bounded-exhaustive phase's in full."""
        return sum(self.phases(profile))

    def reduced_calls(self, profile: str, fraction: float) -> float:
        """The calls of a reduced clause: ``fraction`` of the random phase, the exhaustive phase at depth 1."""
        return sum(self.phases(profile, fraction))

    def phases(self, profile: str, fraction: float | None = None, *, deep: bool | None = None) -> tuple[float, float]:
        """(the random phase's calls, the bounded-exhaustive phase's): in full, or for a clause reduced to
        ``fraction`` of its random phase, its exhaustive phase in full if ``deep`` (by default only in full)
        else at depth 1."""
        random = self.per_unit * self.full_units(profile) * (1.0 if fraction is None else fraction)
        if fraction is None if deep is None else deep:
            return random, self.exhaustive[0] * CALLS_PER_SEQUENCE + self.packed * CALLS_PER_PACKED
        return random, self.exhaustive[1] * CALLS_PER_SEQUENCE

    def floor_fraction(self, profile: str) -> float:
        return 1.0 if self.unit == "fixed" else min(1.0, self.floor / self.full_units(profile))


@dataclass(frozen=True)
class Clause:
    """One promise of the spec."""

    id: str
    level: Level
    group: str
    rule: str
    hint: str
    requires: tuple[str, ...] = ()
    since: str = "0.1"
    """The spec version that added the clause. It gates every run, unless the run pins an older spec
    (``--chatstore-spec``): then it is reported, failing or not, but does not fail the run (see
    :func:`is_newer_than_pin`)."""
    history: tuple[tuple[str, str], ...] = ()
    """Later changes: (spec version, what changed). Rendered into ``docs/changelog.md``."""
    work: Work = Work(0, "fixed")
    """What the clause does, for the time budget (:mod:`pytest_chatstore.engine.budget`): calls per unit, measured by
    ``benchmarks/clause_work.py``, its unit, its floor of evidence, its bounded-exhaustive phase."""
    slow: bool = False
    """Its work grows most with a store's cost per call: the pattern ``slow`` of ``--chatstore-clauses`` and the
    pytest marker ``chatstore_slow`` select it."""
    focused: bool = False
    """Its rule governs an operation's answer: it runs first, so that composite checks know it."""
    why: str = ""
    """Why the rule is what it is, where published stores assume otherwise (rendered into ``docs/spec.md``; the
    stores' own tests, ported, are ``tests/test_peers.py``)."""
    answers: tuple[str, ...] = ()
    """Operations whose answer its rule makes a message, a list of them or str keys (``get`` for FID-001): an
    answer of another shape (raw bytes, JSON text) breaks it
    (:data:`pytest_chatstore.engine.attribution.ANSWER_RULES`)."""
    answer_of: tuple[str, ...] = ()
    """Calls whose answer's value its rule governs, as ``NAME`` or ``NAME/CASE`` (an operation of
    :data:`~pytest_chatstore.spec.operations.OPERATIONS` and one of its cases): a wrong answer to such a call in
    another clause's check is charged to this one (:func:`governing`)."""
    effect_of: tuple[str, ...] = ()
    """Writes whose resulting state its rule governs (same form): a wrong state after one is charged to it."""
    exercised_by: tuple[str, ...] = ()
    """Calls that exercise its rule besides those of :attr:`answer_of` (same form): while the clause is known
    broken, composite checks leave them out (:func:`exercised`)."""
    ttl_scenario: str = ""
    """The name of its scenario in :mod:`pytest_chatstore.harness.ttl.scenarios`, for a TTL clause that has one."""


CAPABILITIES: dict[str, str] = {
    "insert": "`add_message` accepts `idx` (insert at an index)",
    "delete_message": "the store has `delete_message(key, idx)`",
    "delete_last": "the store has `delete_last_message(key)`",
    "delete_all": "the store has `delete_messages(key)`",
    "keys": "the store has `get_keys()`",
    "async": "the store has the async twins (`aget_messages`, `async_add_message`, ...)",
    "async_insert": "`async_add_message` accepts `idx` (LlamaIndex's base class does not; the kit then "
    "inserts through the sync method)",
    "ttl": "the factory accepts `ttl` (seconds)",
    "redis": "the factory accepts `redis_url`: the kit manages the Redis server the store uses",
    "clock": "the factory accepts `clock` (a zero-argument callable returning seconds)",
    "threads": "the store may be called from several threads at once (thread safety); assumed unless "
    "declared absent, since no probe can show it",
    "tail": "the store has `get_last_messages(key, limit)`, the most recent `limit` messages (the Agents SDK's "
    "`get_items(limit)`)",
    "batch": "the store has `add_messages(key, messages)`, appending a batch in one call (LangChain histories)",
    "shared": "two stores the factory builds with the same `redis_url` or `namespace` share their data (the "
    "kit then checks several instances on one backend); detected when the factory accepts either",
    "faults": "the kit can put its fault proxy between the store and its server: the factory accepts `redis_url` "
    "(the kit's server, proxied) or `proxied` (a callable mapping the server's host and port to the proxy's "
    "loopback address: `host, port = proxied(host, port)`)",
    "processes": "stores built in different processes with the same `redis_url` or `namespace` share their "
    "data, and the target is `MODULE:ATTR` (importable in a child process); assumed with `shared` unless declared "
    "absent",
}
"""Capability name -> what having it means. Clauses needing an absent one are skipped, naming it."""

_OWN_NARROWED = (
    "Narrowed to the list itself; message objects moved to OWN-003 (a SHOULD): an in-memory store that "
    "keeps the caller's message objects is a reasonable design (LangChain's and LlamaIndex's in-memory "
    "stores do), but one that hands out or keeps its own list is not."
)

_CLAUSES = (
    Clause(
        "FRE-001",
        "MUST",
        "core",
        "A store built by the factory starts empty: no keys, no messages.",
        "The factory hands out shared state. Build a new store (or clear a dedicated "
        "namespace) on every call, or yield the store and clean up after it.",
        work=Work(11),
    ),
    Clause(
        "ORD-001",
        "MUST",
        "core",
        "`get_messages` returns the messages in the order the operations produced.",
        "Check that appends go to the end and that reads do not sort, reverse or "
        "deduplicate. Stores built on sets or unordered tables need an explicit position column.",
        work=Work(17, exhaustive=(46, 46), packed=106),
    ),
    Clause(
        "ORD-002",
        "MUST",
        "core",
        "`get_messages` on an unknown key returns `[]`.",
        "Return an empty list, not `None`, and do not raise `KeyError`.",
        work=Work(3),
        focused=True,
        exercised_by=("get/empty",),
    ),
    Clause(
        "SET-001",
        "MUST",
        "core",
        "`set_messages` replaces the whole conversation with the given messages.",
        "Delete the old messages before writing the new ones, in one transaction; "
        "appending instead of replacing is the usual cause.",
        work=Work(9, exhaustive=(85, 49), packed=243),
        focused=True,
        effect_of=("set/some",),
        exercised_by=("set/some",),
    ),
    Clause(
        "SET-002",
        "MUST",
        "core",
        "After `set_messages(key, [])` the key holds no messages.",
        "An empty list must clear the conversation; some stores skip the write "
        "when the list is empty and keep the old messages.",
        work=Work(9, exhaustive=(15, 8), packed=41),
        focused=True,
        effect_of=("set/empty",),
        exercised_by=("set/empty",),
    ),
    Clause(
        "INS-001",
        "MUST",
        "core",
        "`add_message(key, m)` appends `m` at the end of the conversation.",
        "Use the backend's append (RPUSH, INSERT with the next position); LPUSH reverses the order.",
        work=Work(10, exhaustive=(27, 15), packed=81),
        focused=True,
        effect_of=("add/append",),
        exercised_by=("add/append", "add_batch"),
    ),
    Clause(
        "INS-002",
        "MUST",
        "core",
        "`add_message(key, m, idx=i)` behaves exactly like `list.insert(i, m)`, "
        "negative and out-of-range indices included.",
        "`list.insert` clamps: `i >= len` appends, `i <= -len` prepends, and `-1` "
        "inserts before the last message (not after it).",
        ("insert",),
        work=Work(9, exhaustive=(201, 113), packed=2071),
        focused=True,
        effect_of=("add/insert",),
        exercised_by=("add/insert",),
    ),
    Clause(
        "DEL-001",
        "MUST",
        "core",
        "`delete_message(key, i)` for `0 <= i < len` removes and returns the message "
        "at `i`, equal to what was stored, and the other messages keep their order.",
        "Return the decoded message (not raw bytes or JSON text) and keep the order "
        "of the rest; re-writing the list in reverse is a common slip.",
        ("delete_message",),
        work=Work(9, exhaustive=(18, 17), packed=70),
        focused=True,
        answers=("delete",),
        why=(
            "A caller deletes a message to undo a turn, and needs the turn back, not one backend's encoding of "
            "it: LlamaIndex's Redis store returns the stored JSON text (`bytes` or `str`, as its client decodes),"
            " which no other store does. The index is a list index, as in `add_message`: LlamaIndex's SQLite "
            "store takes a 1-based row number instead (see [what the peers assume](peers.md))."
        ),
        answer_of=("delete/in range",),
        effect_of=("delete/in range",),
    ),
    Clause(
        "DEL-002",
        "MUST",
        "core",
        "`delete_message(key, i)` with `i >= len`, or on an unknown key, returns `None` and changes nothing.",
        "Check the bounds before deleting; do not raise `IndexError` or `KeyError`, and do not create the key.",
        ("delete_message",),
        work=Work(11, exhaustive=(38, 16), packed=130),
        focused=True,
        why=(
            "`None` for an index past the end, as `dict.get` answers a missing key: `list.pop`'s `IndexError` "
            "would make every caller wrap a delete that races another in `try`. Published stores agree, but for "
            "LlamaIndex's SQLite store, whose `idx` is a row number."
        ),
        answer_of=("delete/past the end",),
        effect_of=("delete/past the end",),
    ),
    Clause(
        "DEL-003",
        "MUST",
        "core",
        "`delete_message(key, i)` with a negative `i` never raises and never removes "
        "any message other than the one `list.pop(i)` would.",
        "Either support negative indices like a Python list or return `None` for "
        "them; LRANGE/LSET-based deletes often remove the wrong message for `i < 0`.",
        ("delete_message",),
        work=Work(9, exhaustive=(35, 25), packed=140),
        focused=True,
        effect_of=("delete/negative",),
        exercised_by=("delete/negative",),
    ),
    Clause(
        "DEL-004",
        "SHOULD",
        "core",
        "`delete_message(key, i)` with `-len <= i < 0` removes and returns that message "
        "as `list.pop(i)` would; below `-len` it returns `None`.",
        "Normalise `i += len` when `i < 0` before deleting.",
        ("delete_message",),
        work=Work(9, exhaustive=(35, 25), packed=140),
        focused=True,
        why=(
            "Python's own meaning of a negative index; a SHOULD, because LlamaIndex's Redis store removes nothing"
            " for one (DEL-003, the MUST, only forbids removing any other message)."
        ),
        answer_of=("delete/negative",),
    ),
    Clause(
        "DLL-001",
        "MUST",
        "core",
        "`delete_last_message(key)` removes and returns the last message.",
        "Remove from the tail (RPOP), not the head, and return the decoded message.",
        ("delete_last",),
        work=Work(9, exhaustive=(8, 7), packed=38),
        focused=True,
        answers=("delete_last",),
        answer_of=("delete_last/some",),
        effect_of=("delete_last",),
    ),
    Clause(
        "DLL-002",
        "MUST",
        "core",
        "`delete_last_message(key)` returns `None` for an unknown or emptied conversation.",
        "Do not raise `IndexError` on an empty list.",
        ("delete_last",),
        work=Work(11, exhaustive=(9, 1), packed=8),
        focused=True,
        answer_of=("delete_last/empty",),
    ),
    Clause(
        "DLA-001",
        "MUST",
        "core",
        "`delete_messages(key)` removes every message of the conversation.",
        "Delete the whole conversation, not only the first or last message.",
        ("delete_all",),
        work=Work(9, exhaustive=(17, 8), packed=52),
        focused=True,
        effect_of=("delete_all",),
        exercised_by=("delete_all",),
    ),
    Clause(
        "DLA-002",
        "MUST",
        "core",
        "`delete_messages(key)` returns `None` or exactly the removed messages, in order.",
        "Return `None`, or the list that was removed; not a count, not raw bytes.",
        ("delete_all",),
        work=Work(8, exhaustive=(17, 8), packed=52),
        focused=True,
        answers=("delete_all",),
        why=(
            "Published stores disagree (LlamaIndex's Mongo and DynamoDB stores return the removed messages, "
            "`SimpleChatStore` and its Redis store return `None`), so both are allowed; anything else (a count, "
            "the raw text) is not."
        ),
        answer_of=("delete_all",),
    ),
    Clause(
        "KEY-001",
        "MUST",
        "keys",
        "`get_keys` lists every key that holds at least one message, each once, and nothing the store did not write.",
        "Scope listing to the store's own namespace, strip the namespace prefix, "
        "decode bytes to `str`, and deduplicate.",
        ("keys",),
        work=Work(11, exhaustive=(112, 64), packed=324),
        focused=True,
        answers=("keys",),
        why=(
            "In any order: Redis's `SCAN` and a SQL table without `ORDER BY` have none, so a caller must not rely"
            " on one (LlamaIndex's `SimpleChatStore` test expects writing order; the ported test sorts)."
        ),
        exercised_by=("keys",),
    ),
    Clause(
        "KEY-002",
        "SHOULD",
        "keys",
        "`get_keys` does not list a conversation emptied by deletes or by `set_messages(key, [])`.",
        "Drop the key (or its row) when its last message goes.",
        ("keys",),
        work=Work(13, exhaustive=(64, 23), packed=132),
        why=(
            "`get_keys` answers which conversations exist, and an emptied one does not; a SHOULD, because "
            "backends that keep a row per conversation (LlamaIndex's DynamoDB store) list it with an empty "
            "history."
        ),
        answer_of=("keys",),
    ),
    Clause(
        "KEY-003",
        "MUST",
        "keys",
        "Any non-empty string is a key: Unicode, whitespace, `:` `*` `?` `[` `]` `/` `\\`, "
        "any case, long keys; it round-trips through every operation.",
        "Do not interpret the key: escape glob characters when scanning, encode it "
        "as UTF-8, and do not strip or lower-case it.",
        history=(("0.3", "Keys no longer contain NUL (U+0000), which PostgreSQL text cannot hold."),),
        work=Work(17),
        why=(
            'The empty string is outside the spec: the kit never writes `""` as a key; the reference stores '
            "refuse it with `ValueError`, and a store that accepts it conforms too."
        ),
    ),
    Clause(
        "KEY-005",
        "MUST",
        "keys",
        "Keys in the same database that the store did not write (written there directly by the kit) "
        "never appear in `get_keys`.",
        "List only your own namespace: SCAN with your prefix (glob characters escaped) and your key "
        "type, never `KEYS *` or an unscoped SCAN.",
        ("keys", "redis"),
        work=Work(2, "fixed"),
    ),
    Clause(
        "KEY-004",
        "MUST",
        "keys",
        "Different strings are different conversations.",
        "Keys differing in case, whitespace or a prefix must not share storage; "
        "check key normalisation and prefix matching (`a` vs `a:b`).",
        work=Work(12, exhaustive=(539, 539)),  # scope.among_lookalikes and lookalike_rounds, never cut
    ),
    Clause(
        "KEY-006",
        "MUST",
        "keys",
        "Keys that differ only by a comma-separated part (`a,b` vs `a`) or by their length past 64 or 255 "
        "characters are different conversations.",
        "Do not split keys on commas or truncate them to a column width; store the whole key, or a "
        "collision-free encoding of it.",
        since="0.3",
        work=Work(158, "fixed"),  # every order of every family, enumerated
    ),
    Clause(
        "FID-001",
        "MUST",
        "fidelity",
        "Role, content and `additional_kwargs` of every message come back equal to what was stored.",
        "Serialise all three fields; a store that keeps only role and content drops tool calls.",
        work=Work(10),
        focused=True,
        answers=("get",),
    ),
    Clause(
        "FID-002",
        "MUST",
        "fidelity",
        "Content comes back unchanged: Unicode, empty, whitespace-only, and large (at least 1 MB).",
        "Do not strip content, do not truncate to a column size, and encode as UTF-8.",
        history=(("0.3", "Content no longer contains NUL (U+0000), which PostgreSQL text and JSONB cannot hold."),),
        work=Work(9),
    ),
    Clause(
        "FID-003",
        "MUST",
        "fidelity",
        "Nested JSON-compatible `additional_kwargs` come back equal: nested dicts and "
        "lists, Unicode keys, numbers, booleans and nulls.",
        "Store `additional_kwargs` as JSON, not `str(dict)`; keep ints as ints.",
        history=(
            (
                "0.3",
                "Numbers compare as JSON numbers: an int and a float with the same value as a double are equal "
                "(PostgreSQL's JSONB gives 5.4e16 back as 54000000000000000).",
            ),
        ),
        work=Work(8),
    ),
    Clause(
        "FID-004",
        "MUST",
        "fidelity",
        "Long conversations (thousands of messages) lose nothing.",
        "Read the whole list (LRANGE 0 -1, no LIMIT), and do not cap the conversation silently.",
        work=Work(22, "fixed"),
    ),
    Clause(
        "FID-005",
        "SHOULD",
        "fidelity",
        "Integers in `additional_kwargs` come back as integers with the same value, including ones beyond 2**53 "
        "(provider and snowflake IDs).",
        "Do not decode JSON numbers as doubles (JavaScript-style parsers, some document databases do); keep "
        "integers as integers end to end.",
        since="0.4",
        work=Work(7, "fixed"),
    ),
    Clause(
        "OWN-001",
        "MUST",
        "ownership",
        "Appending to, removing from or reordering a list returned by `get_messages` changes nothing in the store.",
        "Return a new list, not the one the store keeps: code that appends to what it read must not "
        "rewrite the conversation.",
        history=(("0.3", _OWN_NARROWED),),
        work=Work(9),
    ),
    Clause(
        "OWN-002",
        "MUST",
        "ownership",
        "Appending to, removing from or reordering a list after giving it to `set_messages` changes nothing "
        "in the store.",
        "Store a copy of the list, not the caller's list object.",
        history=(("0.3", _OWN_NARROWED),),
        work=Work(8),
    ),
    Clause(
        "OWN-003",
        "SHOULD",
        "ownership",
        "Changing a message object after the store took it (`add_message`, `set_messages`) or returned it "
        "(`get_messages`) changes nothing in the store.",
        "Copy messages (including `additional_kwargs`) on the way in and out; a store that serializes gets this "
        "for free.",
        history=(
            (
                "0.3",
                "Now a SHOULD, and covers messages given to `set_messages` and returned by `get_messages` too "
                "(formerly part of OWN-001 and OWN-002).",
            ),
        ),
        work=Work(8),
    ),
    Clause(
        "OWN-004",
        "MUST",
        "ownership",
        "Changing nested data inside `additional_kwargs` (dicts and lists several levels down, such as "
        '`tool_calls[0]["args"]`) after the store took the message or returned it changes nothing in the store.',
        "Copy `additional_kwargs` deeply (`copy.deepcopy`, or serialize); `dict(kwargs)` copies only the top level.",
        since="0.4",
        work=Work(25, "fixed"),
    ),
    Clause(
        "PAR-001",
        "MUST",
        "async",
        "Each async method answers exactly as its sync twin would.",
        "Make the async twins run the same logic as the sync ones (same scripts, same decoding).",
        ("async",),
        work=Work(24),
    ),
    Clause(
        "PAR-002",
        "MUST",
        "async",
        "Sync and async calls see one and the same store.",
        "The async client must point at the same database and namespace as the sync one.",
        ("async",),
        work=Work(15),
    ),
    Clause(
        "CON-001",
        "MUST",
        "concurrency",
        "Threads appending to one key at once lose no message and keep each writer's own order.",
        "Guard read-modify-write sequences with a lock or do them atomically in the "
        "backend (a transaction, a Lua script); get-then-set loses messages.",
        ("threads",),
        history=(("0.2", "Requires the new `threads` capability: a store declared not thread-safe skips it."),),
        work=Work(4, "steps", full=50, floor=10),  # 4 writers append one message per step
    ),
    Clause(
        "CON-002",
        "MUST",
        "concurrency",
        "Threads deleting from one key at once remove each message once: every removed "
        "message is returned to exactly one caller.",
        "Make read-then-delete atomic; two callers must not both get the same last message.",
        ("delete_last", "threads"),
        history=(("0.2", "Requires the new `threads` capability: a store declared not thread-safe skips it."),),
        work=Work(1, "steps", full=120, floor=40),  # one delete_last per message, 4 threads
    ),
    Clause(
        "CON-003",
        "MUST",
        "concurrency",
        "asyncio tasks appending to one key at once lose no message and keep each task's own order.",
        "Do not read-modify-write across an `await`; make the append one atomic backend call.",
        ("async",),
        work=Work(8, "steps", full=50, floor=10),  # 8 tasks append one message per step
    ),
    Clause(
        "CON-004",
        "MUST",
        "concurrency",
        "Concurrent histories of append, insert, delete and read from several threads "
        "are linearizable against the model.",
        "Every operation must take effect atomically at one instant between its call "
        "and its return; look for multi-step operations without a lock or transaction.",
        ("insert", "delete_message", "threads"),
        history=(("0.2", "Requires the new `threads` capability: a store declared not thread-safe skips it."),),
        work=Work(20, "rounds", full=25, floor=5),  # 3 threads x 5 calls, plus set and checks
    ),
    Clause(
        "BAT-001",
        "SHOULD",
        "concurrency",
        "A batch appended with one `add_messages(key, messages)` call stays contiguous and in order while "
        "other threads append to the same key.",
        "Append the batch in one backend operation (one RPUSH with all values, one INSERT of all rows in a "
        "transaction), not message by message.",
        ("batch", "threads"),
        since="0.3",
        work=Work(1, "steps", full=50, floor=10),  # 4 writers append a batch of 5 every 5 steps
    ),
    Clause(
        "SHR-001",
        "MUST",
        "sharing",
        "A write through one store is seen at once by another store on the same backend (read-your-writes across "
        "instances: no per-instance cache goes stale).",
        "Do not cache conversations in the instance, or invalidate on every read; several workers each build "
        "their own store.",
        ("shared",),
        since="0.4",
        work=Work(30, exhaustive=(102, 102)),  # scope.through_two_instances, never cut
    ),
    Clause(
        "SHR-002",
        "MUST",
        "sharing",
        "Concurrent writers through different stores on one backend (threads, and asyncio tasks, each with its own "
        "instance) lose nothing, duplicate nothing, and their histories are linearizable against the model.",
        "A `threading.Lock` or `asyncio.Lock` guards one instance only: make read-modify-writes atomic in the "
        "backend (a transaction, a script, WATCH/MULTI).",
        ("shared", "threads"),
        since="0.4",
        # 4 inserts per step, and linearizable rounds until 1,000 calls overlapped (about 80 on the Redis reference)
        work=Work(54, "steps", full=25, floor=5),
    ),
    Clause(
        "SHR-003",
        "MUST",
        "sharing",
        "A store built later on the same backend sees everything written before (reopening loses nothing and "
        "resets nothing).",
        "Do not clear, migrate destructively or buffer writes in the instance; a worker restart must find the "
        "conversations where they were.",
        ("shared",),
        since="0.4",
        work=Work(20),
    ),
    Clause(
        "PRC-001",
        "MUST",
        "sharing",
        "Worker processes (at least four), each with its own store on one backend, appending, inserting and "
        "deleting on shared conversations at once, lose nothing, duplicate nothing, and leave a final state "
        "that some linearization of their calls explains.",
        "Locks in the process do not reach other processes: make every read-modify-write atomic in the backend.",
        ("shared", "processes"),
        since="0.4",
        work=Work(8, "steps", full=10, floor=4),  # 4 processes, an operation and an insert per step
        slow=True,
    ),
    Clause(
        "SCL-001",
        "MUST",
        "scale",
        "`get_keys` lists every conversation exactly once with 1,000 or more of them.",
        "Follow the cursor to the end (a `SCAN` loop, every page of a paginated query); the first page is not "
        "the listing.",
        ("keys",),
        since="0.4",
        work=Work(1002, "fixed"),
        slow=True,
    ),
    Clause(
        "SCL-002",
        "MUST",
        "scale",
        "A conversation of 20,000 or more messages comes back whole and in order, and `delete_last_message` and "
        "`delete_message` at both ends act on the right messages.",
        "Read the whole list (no LIMIT, no default page size such as 10,000); index from the right end too.",
        ("delete_message", "delete_last"),
        since="0.4",
        work=Work(8, "fixed"),
        slow=True,
    ),
    Clause(
        "SCL-003",
        "MUST",
        "scale",
        "A conversation of four 1 MB messages, and a message whose `additional_kwargs` nest 100 levels deep, "
        "come back exactly.",
        "Do not cap a conversation's total size (one document or item: DynamoDB's 400 KB, Azure Tables' 1 MB, "
        "Cosmos DB's 2 MB) or the depth of its JSON.",
        since="0.4",
        work=Work(6, "fixed"),
        slow=True,
    ),
    Clause(
        "BAD-001",
        "SHOULD",
        "input",
        "A key that is not a `str` is refused with `TypeError` or `ValueError`, and the store is unchanged.",
        "Validate the key type before touching the backend; `str(key)` silently merges `1` and `'1'`.",
        work=Work(80, "fixed"),
    ),
    Clause(
        "BAD-002",
        "SHOULD",
        "input",
        "An `idx` that is not an `int` is refused with `TypeError` or `ValueError`, and the store is unchanged.",
        "Check `isinstance(idx, int)` before using it; floats and strings must not be truncated or parsed.",
        ("insert",),
        work=Work(62, "fixed"),
    ),
    Clause(
        "BAD-003",
        "SHOULD",
        "input",
        "An object that is not a message is refused with `TypeError` or `ValueError`, and the "
        "store is unchanged; a `set_messages` with one bad element writes nothing.",
        "Validate every message before writing any of them.",
        work=Work(74, "fixed"),
    ),
    Clause(
        "TTL-001",
        "MUST",
        "ttl",
        "A conversation with no write for `ttl` seconds is gone: `get_messages` gives `[]`, `get_keys` "
        "does not list it, and the deletes give `None` (`delete_messages` may give `[]`).",
        "Check expiry on every read path, listing included; a sweeper that runs later is not enough "
        "unless reads filter expired conversations too.",
        ("ttl",),
        work=Work(15, "fixed"),
        ttl_scenario="expiry",
    ),
    Clause(
        "TTL-002",
        "MUST",
        "ttl",
        "Nothing expires before `ttl` seconds have passed since the conversation's last write.",
        "Pass the TTL in the unit the backend expects (seconds vs milliseconds) and measure it from the write.",
        ("ttl",),
        work=Work(11, "fixed"),
        ttl_scenario="no_premature_expiry",
    ),
    Clause(
        "TTL-003",
        "MUST",
        "ttl",
        "Every `add_message` (with or without `idx`) and every non-empty `set_messages` gives the "
        "conversation a full `ttl` from that moment.",
        "Refresh the expiry in the same atomic step as the write (EXPIRE inside the transaction or script), "
        "not only when the key is created.",
        ("ttl",),
        work=Work(17, "fixed"),
        ttl_scenario="writes_restart_the_window",
    ),
    Clause(
        "TTL-004",
        "MUST",
        "ttl",
        "No operation leaves a conversation that never expires: after a delete that leaves messages, "
        "it expires no later than `ttl` after that delete.",
        "Rewriting a list (DEL then RPUSH) drops its expiry; set it again in the same transaction.",
        ("ttl",),
        work=Work(16, "fixed"),
        ttl_scenario="deletes_do_not_immortalise",
    ),
    Clause(
        "TTL-005",
        "SHOULD",
        "ttl",
        "Reads (`get_messages`, `get_keys`) do not extend a conversation's life.",
        "Refresh the expiry on writes only; a sliding expiry on reads keeps idle conversations alive for ever.",
        ("ttl",),
        work=Work(13, "fixed"),
        ttl_scenario="reads_do_not_extend",
    ),
    Clause(
        "TTL-006",
        "MUST",
        "ttl",
        "After a conversation expired, writing to its key starts a new conversation holding only the new messages.",
        "Expired data must be gone, not hidden: an append must not resurrect the old messages.",
        ("ttl",),
        work=Work(14, "fixed"),
        ttl_scenario="recreated_conversations_are_new",
    ),
    Clause(
        "TTL-007",
        "MUST",
        "ttl",
        "A store built with `ttl=None` never expires anything.",
        "Treat `None` as no expiry (no EXPIRE at all), not as a default lifetime.",
        ("ttl",),
        work=Work(10, "fixed"),
        ttl_scenario="none_never_expires",
    ),
    Clause(
        "TAL-001",
        "MUST",
        "tail",
        "`get_last_messages(key, n)` with `n` of 1 or more returns the last `n` messages, oldest first, or all of "
        "them when there are fewer.",
        "Take the newest `n` and put them back in order (`ORDER BY id DESC LIMIT n`, then reverse); `ORDER BY id "
        "ASC LIMIT n` is the oldest `n`.",
        ("tail",),
        since="0.5",
        work=Work(84, "fixed"),
        focused=True,
    ),
    Clause(
        "TAL-002",
        "SHOULD",
        "tail",
        "`get_last_messages(key, 0)` returns `[]`, and a negative `limit` is refused with `ValueError` or "
        "`TypeError`, or returns `[]`: never the whole conversation.",
        "Check the limit before the query: SQL's `LIMIT -1` means no limit, so a negative limit passed through "
        "reads everything.",
        ("tail",),
        since="0.5",
        work=Work(20, "fixed"),
    ),
    Clause(
        "FLT-001",
        "MUST",
        "faults",
        "A write whose reply is lost (the request reached the server, the connection dropped before the answer) "
        "is applied at most once: nothing the store's client does next applies it again.",
        "A client that retries on a connection error or a timeout sends again a write the server may have applied "
        "already (redis-py's `Redis(host=..., port=...)` retries 10 times by default; `retry_on_timeout` once): "
        "build clients that do not retry writes (`retry=Retry(NoBackoff(), 0)`), or make each write idempotent (a "
        "message ID the server checks).",
        ("faults",),
        since="0.5",
        work=Work(154, "fixed"),  # calls on the Redis reference store (the in-memory store has no server to fault)
    ),
    Clause(
        "FLT-002",
        "MUST",
        "faults",
        "A write that returns normally was applied, even when one of its requests or replies was lost: a "
        "connection error is raised to the caller, never swallowed into a normal return.",
        "Do not catch connection errors in a write and return as if it happened: raise them (the caller "
        "decides whether to try again), or retry only what is safe to retry, until it is applied.",
        ("faults",),
        since="0.5",
        work=Work(202, "fixed"),
    ),
    Clause(
        "FLT-003",
        "MUST",
        "faults",
        "A write interrupted at any of its requests (the request or its reply lost) leaves the conversation as "
        "it was before or as the write makes it: never a mix, never emptied.",
        "A write of several round trips (read the list, delete it, write it back) must be one transaction or "
        "one script: `MULTI`/`EXEC`, a Lua script, a SQL transaction.",
        ("faults",),
        since="0.5",
        work=Work(202, "fixed"),
    ),
    Clause(
        "FLT-004",
        "MUST",
        "faults",
        "A read that cannot get its answer from the server (a request or a reply lost, the server out of reach) "
        "raises, or answers what the server holds: never an empty conversation, `None` or a partial listing.",
        "Do not turn a connection error into `[]`: to the caller an empty answer means an empty conversation, "
        "and an agent that gets one starts over and overwrites the history.",
        ("faults",),
        since="0.5",
        work=Work(46, "fixed"),
    ),
    Clause(
        "FLT-005",
        "MUST",
        "faults",
        "After a fault clears (a reply lost, the server out of reach for a while), the same store instance works "
        "again within three calls without being rebuilt, and what was written before the fault is intact.",
        "Let the client reconnect: a pool must drop a dead connection and open a new one (redis-py's and most "
        "drivers' pools do); never keep a 'broken' flag in the instance, nor a connection that died.",
        ("faults",),
        since="0.5",
        work=Work(52, "fixed"),
    ),
    Clause(
        "TTL-008",
        "MUST",
        "ttl",
        "Under any interleaving of operations and the passing of time, on a kit-controlled clock, "
        "every answer and the full state agree with the model.",
        "Read the printed steps: `advance` steps move the clock; look for the operation that "
        "treats an expired conversation as live (or the reverse).",
        ("ttl", "clock"),
        work=Work(51, "machine", floor=25),
        slow=True,
    ),
    Clause(
        "MDL-001",
        "MUST",
        "model",
        "Under any interleaving of operations on several keys, sync and async mixed, every "
        "return value and the full state agree with the reference model.",
        "Read the printed step sequence: replay it against your store and compare with "
        "Python lists; the first differing step names the operation at fault.",
        work=Work(142, "machine", floor=25, exhaustive=(206, 0), packed=4576),
        slow=True,
    ),
)

CLAUSES: dict[str, Clause] = {c.id: c for c in _CLAUSES}
"""Clause ID -> clause, in spec order."""

GROUPS: tuple[str, ...] = tuple(dict.fromkeys(c.group for c in _CLAUSES))

SLOW: tuple[str, ...] = tuple(c.id for c in _CLAUSES if c.slow)
"""The clauses whose work grows most with a store's cost per call: the pattern ``slow`` of
``--chatstore-clauses`` and the pytest marker ``chatstore_slow`` (``-m "not chatstore_slow"``) select them."""


def _patterns(field: str) -> dict[str, tuple[str, ...]]:
    found: dict[str, tuple[str, ...]] = {}
    for c in _CLAUSES:
        for pattern in getattr(c, field):
            found[pattern] = (*found.get(pattern, ()), c.id)
    return found


_ANSWER_OF = _patterns("answer_of")
_EFFECT_OF = _patterns("effect_of")
_EXERCISED_BY = _patterns("exercised_by")


def _matching(table: dict[str, tuple[str, ...]], name: str, case: str) -> tuple[str, ...]:
    return table.get(name, ()) + (table.get(f"{name}/{case}", ()) if case else ())


def governing(name: str, case: str, *, effect: bool = False) -> str | None:
    """The clause whose rule governs the answer (or, with ``effect``, the state left) of a call of operation
    ``name`` in ``case``; ``None`` when no clause's does (a read's answer is the running check's own business)."""
    found = _matching(_EFFECT_OF if effect else _ANSWER_OF, name, case)
    return found[0] if found else None


def exercised(name: str, case: str) -> frozenset[str]:
    """Every clause whose rule a call of operation ``name`` in ``case`` exercises, its answer's included."""
    return frozenset(_matching(_EXERCISED_BY, name, case) + _matching(_ANSWER_OF, name, case))


# Clauses with a part of their own in the kit's machinery, named once here.
MODEL = "MDL-001"
"""The composite check: it owns what no focused clause owns, and a store built outside a clause is its."""
FRESH = "FRE-001"
"""A store starts empty: the clause of the checks the harness makes of a store it built."""
ORDER = "ORD-001"
"""Order: the state left by a write no clause's rule governs, and the order of what a delete leaves."""
LISTED, UNLISTED = "KEY-001", "KEY-002"
"""A key that holds messages is listed; an emptied key is not."""
KEYS_KEPT = "KEY-003"
"""Keys are kept as given: a wrong key in a listing is its failure before any other clause's."""
FIDELITY = "FID-001"
"""Messages come back as written: an altered message is its failure before any other clause's."""
NEGATIVE = "DEL-004"
"""Negative indices count from the end: only its own check holds a store to Python's semantics."""
PARITY = "PAR-001"
"""Async parity: an async twin that raises where its sync method does not is its failure."""
PROCESSES = "PRC-001"
"""Stores in several processes: the clause whose worker processes build stores."""
SHARED = "SHR-001"
"""Two instances on one backend: its bounded-exhaustive phase sends each write through either."""
LOOKALIKES = "KEY-004"
"""Look-alike keys: its bounded-exhaustive phase places each family's members side by side."""


_CORE_GROUPS = ("core", "keys", "fidelity", "ownership", "model")


def _and(words: list[str]) -> str:
    return f"{', '.join(words[:-1])} and {words[-1]}"


LEVELS: dict[str, str] = {
    "core": f"MUST clauses of the data contract: groups {_and(list(_CORE_GROUPS))}",
    "must": f"every MUST clause (adds {_and([g for g in GROUPS if g not in _CORE_GROUPS])})",
    "full": "every clause, SHOULD included",
}
"""Conformance levels, weakest first. ``--chatstore-level`` picks the one whose clauses fail the run."""


def in_level(clause: Clause, level: str) -> bool:
    """Whether ``clause`` belongs to conformance level ``level`` (a key of :data:`LEVELS`)."""
    if level == "full":
        return True
    if clause.level != "MUST":
        return False
    return level == "must" or clause.group in _CORE_GROUPS


def version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def is_newer_than_pin(clause: Clause, pinned: str | None) -> bool:
    """Whether ``clause`` is newer than the pinned spec (never, when none is pinned: every clause gates)."""
    return pinned is not None and version_key(clause.since) > version_key(pinned)


def render_spec() -> str:
    """Return ``docs/spec.md``: the clause registry as Markdown."""
    lines = [
        "# The spec",
        "",
        "<!-- Generated by `python -m pytest_chatstore spec > docs/spec.md`; do not edit. -->",
        "",
        f"Spec version **{SPEC_VERSION}**, {len(CLAUSES)} clauses. Semantics are Python-list "
        "semantics: a store behaves like a `dict[str, list[ChatMessage]]`. "
        "MUST clauses are required; SHOULD clauses are strongly recommended. "
        "A clause whose capability a store lacks is skipped with a reason naming it. "
        "How each clause changed from version to version: [the changelog](changelog.md).",
        "",
        "## Conformance levels",
        "",
        "`--chatstore-level` chooses which failures fail the run; the others are reported as advisory.",
        "",
        "| level | clauses that fail the run |",
        "| --- | --- |",
        *(f"| `{name}` | {meaning} |" for name, meaning in LEVELS.items()),
        "",
        "## Capabilities",
        "",
        "| capability | meaning |",
        "| --- | --- |",
    ]
    lines += [f"| `{name}` | {meaning} |" for name, meaning in CAPABILITIES.items()]
    for group in GROUPS:
        lines += ["", f"## {group}", ""]
        for c in _CLAUSES:
            if c.group != group:
                continue
            needs = ", ".join(f"`{r}`" for r in c.requires) or "none"
            levels = ", ".join(f"`{name}`" for name in LEVELS if in_level(c, name))
            changed = "".join(f"; changed in {version}" for version, _ in c.history)
            lines += [
                f"### {c.id} ({c.level})",
                "",
                c.rule,
                "",
                f"- Requires: {needs}",
                f"- Gates at levels: {levels}",
                f"- Since: {c.since}{changed}",
                f"- Troubleshooting: {c.hint}",
                *([f"- Why: {c.why}"] if c.why else []),
                "",
            ]
    return "\n".join(lines).rstrip() + "\n"


VERSION_NOTES: dict[str, tuple[str, ...]] = {
    "0.5": (
        "The tail read (TAL-001, TAL-002; capability `tail`): `get_last_messages(key, limit)`, the Agents SDK's "
        "`get_items(limit)`, which its sessions use to send a model only the newest turns. TAL-001 is a MUST: the "
        "oldest `n` instead of the newest is a silent, wrong context for every call. TAL-002 is a SHOULD: the "
        "SDK's documentation says only 'maximum number of items', and is silent on 0 and negative limits; the "
        "spec assumes 0 means none (as SQL's `LIMIT 0` does; Python's `items[-0:]` is every item, a slip the "
        "clause catches) and that a negative limit is a caller's bug to refuse, or to answer with nothing, never "
        "with the whole history (SQL's `LIMIT -1`, which SQLite reads as no limit, would send all of it). "
        "`pop_item` on an empty session is DLL-002, through the adapter's mapping of `pop_item` to "
        "`delete_last_message`.",
        "Faults (FLT-001..005): the store reaches its server through the kit's fault proxy, which loses one "
        "request, or one reply, at each request of each write in turn, holds one reply back for 2 s (a client "
        "that times out and retries sends the write again), and takes the server out of reach for a while "
        "(and restarts a server the kit started, its data kept). They need the new capability `faults`: a "
        "factory taking `redis_url` has it (the kit hands it the proxy's URL), and any TCP backend's factory can "
        "opt in by taking `proxied` (a callable mapping the server's host and port to the proxy's). Each is a "
        "fixed enumeration, the same on every run.",
        "All five are MUST. A duplicated message (FLT-001) is a turn the model sees twice, and the conversation "
        "stays wrong for ever; a write that returns normally but was lost (FLT-002) is a message the user sent "
        "that is silently gone; a mix (FLT-003), or an empty answer to a read that failed (FLT-004), makes an "
        "agent start over and overwrite the history; a store that must be rebuilt after a dropped connection "
        "(FLT-005) is an outage until the worker restarts. A store that raises on every fault passes them all: "
        "raising is always allowed, the caller decides.",
        "What the spec assumes where a store cannot know: after a lost reply the write may or may not have "
        "happened, so a raised error with the write applied once, or not at all, both pass; a store may raise "
        "on its first two calls after a fault clears (a client learns only then that its connection died), the "
        "third must work.",
        "Same store, same verdict, a deeper scope (no rule changed): the sequence clauses' bounded-exhaustive "
        "phase also checks every sequence of three writes on one conversation (7,450), fifty to a store, each on "
        "its own conversation with their writes interleaved; a failing one is then run alone and reported as "
        "such. KEY-004 also runs every history of up to two writes on every member of every look-alike family, "
        "beside look-alikes running others (392 rounds): a lazily deleted head shared by `'a'` and `'a '` fails "
        "it now and passed before.",
        "Google ADK session services (no rule changed, no clause added): what they add maps onto clauses the "
        "spec has. `list_sessions` is key listing (KEY-*), `delete_session` is delete-all, "
        "`GetSessionConfig(num_recent_events=n)` is the tail read (TAL-001, TAL-002; ADK documents 0 as no "
        "events and refuses a negative `n`, both of which TAL-002 allows). Its `after_timestamp` filter is left "
        "out: it selects by the clock of the writer, which no clause of the spec can hold a store to. A service "
        "has no delete-last and no index operations, so those clauses are skipped, never emulated.",
    ),
    "0.4": (
        "Production shapes: several stores on one backend (SHR-001..003), worker processes (PRC-001), many and "
        "long conversations (SCL-001..003), nested ownership (OWN-004) and big integers (FID-005). They need the "
        "new capabilities `shared` and `processes`: a factory taking `redis_url` or `namespace` has them.",
        "SCL-001..003 are MUST: a store that lists only the first page of its keys, or reads only the first "
        "10,000 messages, loses data silently in production, which is what MUST clauses are for. Their sizes "
        "are the spec's; `--chatstore-scale` makes them larger (or smaller, reported as reduced).",
        "FID-005 is a SHOULD, not a MUST: JSON itself does not bound integers, but many JSON stacks (JavaScript, "
        "some document databases, `float`-based parsers) decode every number as a double, and a store on one of "
        "them is otherwise correct. IDs beyond 2**53 do occur (snowflake and provider IDs), so a store should "
        "keep them; floats keep the 0.3 rule (JSON numbers compare as doubles, so 5.4e16 may come back as "
        "54000000000000000).",
        "Not rule changes, but checks made sturdier: ORD-001 checks every kind of write from a fixed list "
        "before its random search; PAR-002 charges a wrong sync read to ORD-001; FID-004 builds its long "
        "conversation with one `set_messages` and appends past 2,000 (the same rule, at a fraction of the calls).",
        "Also checks made sturdier, found by running every clause's broken store in random runs "
        "(`benchmarks/luck_sweep.py`): PAR-001 checks each operation once, INS-002 every index into a list of "
        "three, and TTL-008 every operation on a just-expired conversation, before their random searches. "
        "Each had let its broken store pass 1 random run in 10.",
        "Same store, same verdict (no rule changed): the sequence clauses (ORD-001, SET-*, INS-*, DEL-*, DLL-*, "
        "DLA-*, KEY-001, KEY-002, MDL-001) first check every write sequence of a small scope (two conversations, "
        "two writes deep, every index from `-len-1` to `len+1`, every state of up to three messages), then "
        "search at random; KEY-004 and KEY-006 enumerate their key families (KEY-004 also meets each kind of "
        "write beside each family: a delete by glob pattern fails it) and FID-001 every role with every "
        "edge JSON value. A three-call KEY-002 bug that passed 2 default runs in 20 now fails 20 in 20. An "
        "unpinned run now gates on every clause of the installed spec (new clauses no longer only warn); a pin "
        "keeps newer clauses reported but not gating, and the verdict line names those that fail. A listed "
        "expected failure whose check is a search and that passes is `not-reproduced` (a warning), not a "
        "strict unexpected pass.",
        "Containment (no rule changed, but the gate can fail where it passed): a store that ends the process after "
        "a call returned (an alarm it armed, `os._exit` from a timer thread) fails the clause in which it did so, "
        "isolated or not, so a retried CI job can no longer be certified by the automatic isolation; on a Redis "
        "server, a store that changes any database but the kit's (`FLUSHALL`, a client that ignores the URL's "
        "database index) fails the run (`GUARD:` in the summary, `guard` in the JSON report), whatever the "
        "clauses said.",
    ),
}
"""Per spec version, what the changelog says besides the clauses added and changed: why, and what else."""


def render_changelog() -> str:
    """Return ``docs/changelog.md``: what each spec version added or changed, clause by clause."""
    lines = [
        "# Spec changelog",
        "",
        "<!-- Generated by `python -m pytest_chatstore changelog > docs/changelog.md`; do not edit. -->",
        "",
        "Every clause of the installed spec gates a run that pins no spec. A CI that wants stability across "
        "kit upgrades pins a version (`--chatstore-spec=0.3`): clauses newer than the pin still run and are "
        "reported, failing ones named in the verdict line, but they do not fail the run. (Until 0.4, a clause "
        "new in the installed release only warned in an unpinned run, so a first run could print CONFORMS "
        "while a MUST clause failed; since 0.4's kit release, unpinned means the whole installed spec.)",
    ]
    for version in reversed(SPEC_VERSIONS):
        added = [c for c in _CLAUSES if c.since == version]
        changed = [(c, note) for c in _CLAUSES for v, note in c.history if v == version]
        lines += ["", f"## {version}", ""]
        if version == SPEC_VERSIONS[0]:
            lines.append(f"The first spec: {len(added)} clauses, {', '.join(c.id for c in added)}.")
            continue
        lines += [f"{note}\n" for note in VERSION_NOTES.get(version, ())]
        lines += [f"- **{c.id}** added ({c.level}, {c.group}): {c.rule}" for c in added]
        lines += [f"- **{c.id}** changed: {note}" for c, note in changed]
    return "\n".join(lines).rstrip() + "\n"
