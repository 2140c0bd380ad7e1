"""The driver: one uniform, logged, time-limited way to call any store.

A :class:`StoreDriver` wraps one store built for one test example. Every call
goes through the :class:`~pytest_chatstore.engine.runner.Runner` (so a hang becomes a
failure), converts messages with the store's adapter, checks the shape of what
comes back (a message, not raw bytes; a ``str`` key, not bytes) and is written
to :attr:`StoreDriver.log`, which failure reports print as the sequence that
led to the failure. What each operation takes and answers is read from
:data:`pytest_chatstore.spec.operations.OPERATIONS`.

Answers are never normalised in a way that could hide a wrong one: a list
answer may be a ``list`` or a ``tuple`` (read as a sequence), and every item of
it must be a message: ``None`` or raw bytes inside a list is a violation, not
dropped. A wrong answer is charged to the clause whose rule governs it (see
:mod:`pytest_chatstore.engine.attribution`); a store that raises is charged to the
check that was running, and one whose backend went away (a connection or
timeout error) gets no verdict at all: :class:`~pytest_chatstore.engine.failures.InfrastructureError`.
"""

from __future__ import annotations

import contextlib
import functools
import re
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Generic, NoReturn, TypeVar

from pytest_chatstore.adapters import Adapter, NotAMessage
from pytest_chatstore.engine.attribution import ANSWER_RULES, blocked, exercises
from pytest_chatstore.engine.failures import (
    NO_RESULT,
    ClauseFailure,
    InfrastructureError,
    ReplayRecord,
    Step,
    fail,
    format_failure,
    hung,
    is_infrastructure,
    message_of,
    short,
)
from pytest_chatstore.engine.runner import Abandoned, OperationTimeout, Runner, announce, answered, disarm, fatal_timers
from pytest_chatstore.spec.clauses import FIDELITY, KEYS_KEPT, LOOKALIKES, PARITY, exercised
from pytest_chatstore.spec.contract import ChatMessage
from pytest_chatstore.spec.operations import (
    ADD,
    ADD_BATCH,
    DELETE,
    DELETE_ALL,
    DELETE_LAST,
    GET,
    KEYS,
    OPERATIONS,
    SET,
    Operation,
    R,
    call_arguments,
    method_name,
)

V = TypeVar("V")


def altered(expected: Any = NO_RESULT, actual: Any = NO_RESULT) -> bool:
    """Whether ``actual`` is ``expected`` with messages changed in place: lists of messages of one length, or one
    message, that are not the same messages in another order (a store's serialisation altered some: a message
    whose role was lost may then equal another one that was expected). Messages in the wrong places, a missing
    or an extra one are not an alteration."""
    if isinstance(expected, ChatMessage) and isinstance(actual, ChatMessage):
        expected, actual = [expected], [actual]
    if not _message_lists(expected, actual) or len(expected) != len(actual) or not expected:
        return False
    return sorted(map(repr, expected)) != sorted(map(repr, actual))


def _message_lists(expected: Any, actual: Any) -> bool:
    """Whether a comparison is of two lists of messages (what :func:`altered` and :func:`lost_to` read)."""
    both = [expected, actual]
    return all(isinstance(x, list) for x in both) and all(isinstance(m, ChatMessage) for x in both for m in x)


def lost_to(
    steps: Sequence[Step],
    expected: Any = NO_RESULT,
    actual: Any = NO_RESULT,
    *,
    ttl: float | None = None,
    clock_start: float | None = None,
) -> frozenset[str]:
    """The rules of the writes that stored the messages a comparison found missing: when ``actual`` is
    ``expected`` with messages left out (the rest there, in order, nothing extra), each missing message is
    charged to the last call in ``steps`` that wrote it (append: INS-001; insert: INS-002; replace: SET-001).
    Empty when messages are anything but only missing, or a missing one was never written by a call logged, or a
    later call may rightly have removed it: a replace or a delete of its key, or a move of the kit's clock (expiry),
    unless the store was built with ``ttl`` and the clock moved less than that since the write (the clock read
    ``clock_start`` when the store was built)."""
    if not _message_lists(expected, actual) or len(actual) >= len(expected):
        return frozenset()
    rest = iter(expected)
    if not all(any(a == e for e in rest) for a in actual):
        return frozenset()  # not a subsequence: misplaced or altered, not only lost
    missing = _less(expected, actual)
    rules: set[str] = set()
    for message in missing:
        at = next((i for i in range(len(steps) - 1, -1, -1) if message in _written(steps[i])), None)
        if at is None:
            return frozenset()  # never written by a call logged
        if not _kept_since(steps, at, len(steps), ttl, clock_start):
            return frozenset()  # a later call may rightly have removed it
        writer = steps[at]
        rules |= exercises((writer.op, *writer.args, *writer.kwargs.values()), None)  # a write's rule needs no state
    return frozenset(rules)


def _less(items: Sequence[Any], taken: Sequence[Any]) -> list[Any]:
    """``items`` less ``taken``, as multisets (each of ``taken`` removes one equal item, if any), in order."""
    rest = list(items)
    for item in taken:
        if item in rest:
            rest.remove(item)
    return rest


def _kept_since(steps: Sequence[Step], at: int, end: int, ttl: float | None, clock_start: float | None) -> bool:
    """Whether nothing in ``steps[at + 1 : end]`` may rightly remove what ``steps[at]`` wrote to its key: a replace
    or a delete of that key, or a move of the clock (one shorter than ``ttl`` since the write cannot expire it; the
    clock read ``clock_start`` when the store was built, and each ``clock`` step's reading after)."""
    key = steps[at].args[0]
    written_at = next((s.args[0] for s in reversed(steps[:at]) if s.op == "clock"), clock_start)
    for step in steps[at + 1 : end]:
        if step.op == "clock":
            if ttl is None or written_at is None or step.args[0] - written_at >= ttl:
                return False
        elif step.op in _MAY_REMOVE and (not step.args or step.args[0] == key) and not _removed_nothing(step):
            return False
    return True


def _removed_nothing(step: Step) -> bool:
    """A delete of one message that answered ``None`` (an index out of range, an empty conversation): by the
    contract it removed nothing, so what was written before it is still owed."""
    return step.op in ("delete", "delete_last") and step.result is None and step.raised is None


def kept_nothing(
    steps: Sequence[Step],
    expected: Any = NO_RESULT,
    actual: Any = NO_RESULT,
    *,
    ttl: float | None = None,
    clock_start: float | None = None,
) -> bool:
    """Whether the last call of ``steps`` answered as an empty conversation (``[]`` for messages expected, ``None``
    for a message) on a key written to since anything may rightly have emptied it (see :func:`lost_to`)."""
    empty = (isinstance(expected, ChatMessage) and actual is None) or (
        _message_lists(expected, actual) and bool(expected) and actual == []
    )
    if not empty or not steps or not steps[-1].args:
        return False
    key = steps[-1].args[0]
    at = next((i for i in range(len(steps) - 2, -1, -1) if _written(steps[i]) and steps[i].args[0] == key), None)
    return at is not None and _kept_since(steps, at, len(steps) - 1, ttl, clock_start)


def crossed(
    steps: Sequence[Step],
    expected: Any = NO_RESULT,
    actual: Any = NO_RESULT,
    *,
    ttl: float | None = None,
    clock_start: float | None = None,
) -> bool:
    """Whether the last call of ``steps`` (on one key) answered with another conversation's messages: ``actual``
    holds a message beyond those expected that calls logged wrote only to other keys, or lacks messages that
    nothing on this key may rightly have removed (see :func:`lost_to`) while a call on another key that removes
    (a replace, a delete) came after their write. Two keys sharing storage: KEY-004's rule (different strings are
    different conversations), once that clause fails on its own."""
    if not _message_lists(expected, actual) or not steps or not steps[-1].args:
        return False
    key = steps[-1].args[0]
    extra, missing = _less(actual, expected), _less(expected, actual)
    writers = [(i, s) for i, s in enumerate(steps[:-1]) if _written(s)]
    for message in extra:
        keys = {s.args[0] for _, s in writers if message in _written(s)}
        if keys and key not in keys:
            return True
    if not missing or extra:
        return False
    for message in missing:
        at = next((i for i, s in reversed(writers) if s.args[0] == key and message in _written(s)), None)
        if at is None or not _kept_since(steps, at, len(steps) - 1, ttl, clock_start):
            return False
        if not any(
            s.op in _MAY_REMOVE and s.args and s.args[0] != key and not _removed_nothing(s) for s in steps[at + 1 : -1]
        ):
            return False
    return True


LISTING_RULES = exercised("keys", "")
"""The rules a comparison of ``get_keys`` with the model is checked under."""


def _unkept(writer: str | None, rule: str | None, expected: Any = NO_RESULT, actual: Any = NO_RESULT) -> bool:
    """Whether a comparison shows keys that keep nothing: a conversation written to (``writer``: the write's
    rule) that reads back empty, or a listing of keys (compared under ``rule``) that leaves some out and lists
    nothing else but changed forms of them (``' a'`` listed as ``'a'``, a long key cut short), or that leaves out
    only keys that are not plain and lists no more keys in their place.
    KEY-003's rule (any string is a key: a column too short for it, characters it cannot hold) when that clause
    fails on its own."""
    if writer is not None:
        return bool(actual == [])
    if not (
        rule in LISTING_RULES
        and isinstance(expected, list)
        and isinstance(actual, list)
        and all(isinstance(k, str) for k in [*expected, *actual])
    ):
        return False
    missing, extra = set(expected) - set(actual), set(actual) - set(expected)
    if not missing:
        return False
    # Each key listed in place of one written is a changed form of it; or only keys that are not plain went missing,
    # and no more keys were listed in their place (Google ADK lists a whitespace-only session id as a new UUID).
    changed = all(any(_changed_key(m, k) for m in missing) for k in extra)
    return changed or (len(extra) <= len(missing) and not any(plain_key(m) for m in missing))


def _changed_key(written: str, listed: str) -> bool:
    """Whether ``listed`` is ``written`` as a store that does not keep keys as given lists it: stripped, folded to
    one case or Unicode form, or cut short (a column too narrow)."""
    return _folded(written) == _folded(listed) or (bool(listed) and written.startswith(listed))


def _folded(key: str) -> str:
    return unicodedata.normalize("NFKC", key).strip().casefold()


_PLAIN = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def plain_key(key: str) -> bool:
    """Whether ``key`` is a plain one (ASCII letters, digits, ``_ . -``, at most 64 characters) that any backend
    holds: a store that raises on another key cannot hold it (KEY-003's rule: any non-empty string is a key)."""
    return _PLAIN.fullmatch(key) is not None


_MAY_REMOVE = frozenset({"set", "delete", "delete_last", "delete_all"})
"""Calls on a key after which a message written to it before may rightly be gone (replaced, deleted); a move of
the clock (expiry) is judged by :func:`_kept_since` itself."""


def _written(step: Step) -> list[Any]:
    if step.op == "add" and len(step.args) >= 2:
        return [step.args[1]]
    if step.op == "set" and len(step.args) >= 2 and isinstance(step.args[1], list):
        return list(step.args[1])
    return []


def first_of_kind(raising: dict[tuple[str, str], str], kind: str) -> str | None:
    """The clause that first met ``kind`` of exception or harm, in any store method (for calls not known one by
    one: a burst, a factory), or None."""
    return next((c for (_, k), c in raising.items() if k == kind), None)


UNREAD: Any = object()
"""What an answer read on the store's thread gives when it is not well formed (see ``Driver._read``)."""


def _reading(method: Any, read: Any) -> Any:
    """``method``, returning its answer, the answer's ``repr`` for the log, and ``read(answer)``."""

    def call(*args: Any, **kwargs: Any) -> tuple[Any, str, Any]:
        answer = method(*args, **kwargs)
        answered()
        return answer, short(answer), (UNREAD if read is None else read(answer))

    call.__name__ = getattr(method, "__name__", "call")  # a hang names the store's method
    return call


def _reading_async(method: Any, read: Any) -> Any:
    """:func:`_reading` for an async twin."""

    async def call(*args: Any, **kwargs: Any) -> tuple[Any, str, Any]:
        answer = await method(*args, **kwargs)
        answered()
        return answer, short(answer), (UNREAD if read is None else read(answer))

    call.__name__ = getattr(method, "__name__", "call")
    return call


class _Performed(Generic[R]):
    """A method of :class:`StoreDriver` made from an operation of the registry: ``driver.get_messages(key)`` is
    ``driver.perform("get", key)``, its answer typed as the operation's (``use_async=True`` calls the twin)."""

    def __init__(self, op: Operation[R]) -> None:
        self.op = op

    def __get__(self, driver: StoreDriver | None, owner: type) -> Callable[..., R]:
        assert driver is not None, "a method of a driver, not of its class"
        performed: Callable[..., R] = functools.partial(driver.perform, self.op.name)
        return performed


class StoreDriver:
    """Calls one store under test; see the module docstring."""

    def __init__(
        self,
        store: Any,
        adapter: Adapter,
        runner: Runner,
        capabilities: frozenset[str],
        clause: str,
        *,
        known_broken: frozenset[str] = frozenset(),
        unreadable: frozenset[str] = frozenset(),
        raising: dict[tuple[str, str], str] | None = None,
        server: Any = None,
        shared_with: dict[str, Any] | None = None,
        built_with: dict[str, Any] | None = None,
    ) -> None:
        self.store = store
        self.adapter = adapter
        self.runner = runner
        self.capabilities = capabilities
        self._clause = clause
        self.owner = clause
        """The clause of the check this driver was built for: a store that raises or hangs fails it."""
        self.known_broken = known_broken
        """Clauses known broken in this run (see :mod:`pytest_chatstore.engine.attribution`)."""
        self.unreadable = unreadable
        """Those of them broken only by an unreadable answer."""
        self.raising: dict[tuple[str, str], str] = raising if raising is not None else {}
        """(store method, exception type) -> the clause already failed because the store raised it there."""
        self.log: list[str] = []
        self.steps: list[Step] = []
        self.built_with: dict[str, Any] = built_with or {}
        """The factory arguments the kit chose (``ttl``, ``clock``), for a reproduction."""
        self._clock_seen: float | None = None
        self.unreplayable: str | None = None
        """Why a reproduction file cannot replay this store's calls (None: it can)."""
        self._failed_check: tuple[Any, Any] | None = None
        self._accepted = False
        self.server: Any = server
        """The kit's Redis server the store uses, if any."""
        self.backdoor: Any = server.client() if server is not None else None
        """A redis-py client on the database the store uses, when the kit manages it (KEY-005)."""
        self.shared_with: dict[str, Any] = shared_with or {}
        """The factory arguments that name the store's backend (``redis_url``, ``namespace``): a store built
        with them shares its data."""

    @property
    def clause(self) -> str:
        """The clause being checked: a store exception, a hang or a non-message answer fails it."""
        return self._clause

    @contextlib.contextmanager
    def checking(self, clause_id: str) -> Iterator[StoreDriver]:
        """Within the block, failures are ``clause_id``'s (``with driver.checking("FRE-001"):``)."""
        previous, self._clause = self._clause, clause_id
        try:
            yield self
        finally:
            self._clause = previous

    def expect(self, what: str, expected: object, actual: object, *, rule: str | None = None) -> None:
        """Fail :attr:`clause` unless ``actual == expected``; ``rule`` is the clause governing the answer."""
        __tracebackhide__ = True
        if actual != expected:
            self._failed_check = (expected, actual)
            self._fail(what, rule, expected=expected, actual=actual)

    def accepted(self, what: str) -> NoReturn:
        """The last call took bad input it should have refused with ``TypeError`` or ``ValueError`` (``what``: the
        call); its reproduction asserts the refusal."""
        __tracebackhide__ = True
        self._accepted = True
        self.violation(f"{what} was accepted")

    def violation(self, what: str, *, rule: str | None = None, shape: bool = False) -> NoReturn:
        """Fail :attr:`clause` with ``what`` and the operation log (``rule``: the clause the answer broke;
        ``shape``: the answer could not be read at all)."""
        __tracebackhide__ = True
        self._fail(what, rule, shape=shape)

    def _fail(self, what: str, rule: str | None, *, shape: bool = False, **details: Any) -> NoReturn:
        """Blocked by ``rule`` if it is another clause known broken; else :attr:`clause` fails, naming ``rule``.

        Messages that came back changed (none of them is one that was expected: not misplaced, altered) are the
        business of FID-001, the messages' fidelity, once it is known broken: a store that rounds floats or drops
        nulls is one root cause, not one per clause that reads a message back."""
        __tracebackhide__ = True
        if self.clause != FIDELITY and FIDELITY in self.known_broken and altered(**details):
            rule = FIDELITY
        timing = {"ttl": self.built_with.get("ttl"), "clock_start": self.built_with.get("clock_start")}
        lost = lost_to(self.steps, **details, **timing) - {self.clause}
        writer = next(iter(lost)) if len(lost) == 1 else None  # messages a write never stored: the write's clause
        # A key that keeps nothing written to it, where other keys do, does not round-trip: KEY-003's rule.
        unkept = self.clause != KEYS_KEPT and _unkept(writer, rule, **details)
        # Once KEY-003 is known broken, so does a conversation that answers as empty although written to since it
        # was last emptied (a read of nothing, or a delete that finds nothing).
        if KEYS_KEPT in self.known_broken and self.clause != KEYS_KEPT and not unkept:
            unkept = kept_nothing(self.steps, **details, **timing)
        # Another conversation's messages, or messages a call on another key removed: two keys share storage.
        shared = self.clause != LOOKALIKES and crossed(self.steps, **details, **timing)
        if shared and LOOKALIKES in self.known_broken:
            rule = LOOKALIKES
        elif writer in self.known_broken:
            rule = writer
        elif unkept and KEYS_KEPT in self.known_broken:
            rule = KEYS_KEPT
        if rule is not None and rule != self.clause and rule in self.known_broken:
            raise blocked(self.clause, rule, what, log=self.log, replay=self.replay_record(), **details)
        if rule is not None and rule != self.clause:
            what += (
                f" (this breaks {rule}'s rule too; {rule} is not known broken yet in this run: if it fails on its "
                "own, this clause is blocked by it at the end of the run)"
            )
        record = self.replay_record()
        record.unread = shape
        try:
            fail(self.clause, what, log=self.log, replay=record, shape=shape, **details)
        except ClauseFailure as failure:
            # Settled at the end of the run (a write that stored nothing may be broken for every key, or only for
            # this one: a key too long for a column), so the text names only the rule the answer itself broke.
            failure.met = (
                (LOOKALIKES if shared else None)
                or writer
                or (rule if rule != self.clause else None)
                or (KEYS_KEPT if unkept else None)
            )
            raise

    # -- raw calls -------------------------------------------------------------
    def call(
        self, op: str, *args: Any, use_async: bool = False, raw: bool = False, rule: str | None = None, **kwargs: Any
    ) -> Any:
        """Call the store's method for ``op`` with already-converted arguments; log and return the raw result.

        An exception from the store (or a hang) fails :attr:`clause`, unless
        ``raw`` is set, in which case it propagates (for bad-input checks).
        """
        __tracebackhide__ = True
        return self._invoke(op, *args, use_async=use_async, raw=raw, rule=rule, **kwargs)[0]

    def _invoke(
        self,
        op: str,
        *args: Any,
        use_async: bool = False,
        raw: bool = False,
        rule: str | None = None,
        read: Any = None,
        **kwargs: Any,
    ) -> tuple[Any, Any]:
        """:meth:`call`, and ``read(answer)`` computed within the call's time limit, on the store's thread
        (:data:`UNREAD` if it raised): reading a store's answer (attributes, ``repr``) runs its code too, and
        must not wait for ever either."""
        __tracebackhide__ = True
        name = method_name(op, use_async=use_async)
        shown = ", ".join([*(short(a) for a in args), *(f"{k}={short(v)}" for k, v in kwargs.items())])
        entry = f"{'await ' if use_async else ''}store.{name}({shown})"
        self.log.append(entry)
        announce(entry)
        self._record(op, args, kwargs, use_async)
        method = getattr(self.store, name)
        self._harm_check(None, f"the store's calls before {entry} (a burst of calls, its construction)")
        self.runner.check_deadline()

        def failed(exc: BaseException) -> NoReturn:
            """The call raised ``exc`` (or hung: ``exc`` is the timeout, and this runs in the pytest thread)."""
            __tracebackhide__ = True
            self.log[-1] = f"{entry}  raised {type(exc).__name__}: {short(message_of(exc))}"
            if self.steps:
                self.steps[-1].raised = type(exc).__name__
            self._harm_check(op, f"{entry} raised {type(exc).__name__}")  # harm first: it outlives the call
            if raw and isinstance(exc, Exception) and not isinstance(exc, OperationTimeout):
                raise exc  # a hang is never the caller's to handle: it stops the check
            self._store_raised(exc, op, entry, use_async=use_async, rule=rule)

        try:
            result, shown_result, answer = self.runner.invoke(
                _reading_async(method, read) if use_async else _reading(method, read),
                args,
                kwargs,
                is_async=use_async,
                on_hang=failed,
            )
        except (KeyboardInterrupt, Abandoned):
            raise  # the user's Ctrl-C, or a hung call's late return: never the store's verdict
        except BaseException as exc:  # noqa: BLE001 - SystemExit and friends from a store are its failure
            failed(exc)
        self.log[-1] = f"{entry} -> {shown_result}"
        self._harm_check(op, f"{entry} returned")  # after every call: the call that did it is named
        return result, answer

    def _harm_check(self, op: str | None, happened: str) -> None:
        """What the store did to the kit's process beyond its answer, undone and charged to ``op``'s call: a timer
        armed whose signal would end the process, a recursion limit changed (the runner set it back), a standard
        stream closed (the runner kept it open)."""
        __tracebackhide__ = True
        armed = fatal_timers()
        if armed:
            self.harmed(disarm(armed), armed[0].signal_name, op, happened)
        changed = self.runner.limit_changed()
        if changed is not None:
            self.recursion_limit_changed(*changed, op, happened)
        closed = self.runner.streams_closed()
        if closed:
            said = (
                f"the store closed {' and '.join(dict.fromkeys(closed))} (pytest's capture of it; the kit kept it open)"
            )
            self.harmed(said, "a closed standard stream", op, happened)

    def recursion_limit_changed(self, before: int, after: int, op: str | None, happened: str) -> NoReturn:
        """The store set the interpreter's recursion limit from ``before`` to ``after`` (the kit set it back): harm to
        the process, charged as :meth:`harmed` says."""
        __tracebackhide__ = True
        said = f"the store set the interpreter's recursion limit to {after} (it was {before}; the kit set it back)"
        self.harmed(said, "the recursion limit", op, happened)

    def raised_before(self, exc: BaseException, what: str, op: str | None = None) -> None:
        """Blocked by the clause that failed first because the store raised ``exc``'s type, in ``op``'s method (in
        any method for a call not known one by one: a thread's), when that clause is known broken; else nothing.
        For checks that read a store's exception themselves (bad input, bursts of threads): one exception from one
        method is one root cause."""
        __tracebackhide__ = True
        first = self._first_to_meet(type(exc).__name__, op)
        if first is not None and first != self.owner and first in self.known_broken:
            raise blocked(self.owner, first, what, log=self.log, replay=self.replay_record())

    def harmed(self, said: str, kind: str, op: str | None, happened: str) -> NoReturn:
        """A call of ``op`` (``happened``: what it did; None: some call before) did ``said`` to the process: the
        running check fails, or is blocked by the check that met the same ``kind`` of harm first in the same method
        (for calls not known one by one, in any method)."""
        __tracebackhide__ = True
        self.unreplayable = "what the store did to the process is in no answer of its calls"
        raised_in = (OPERATIONS[op].sync, kind) if op is not None else None
        self._charge(f"{happened}, but {said}", [self._first_to_meet(kind, op)], raised_in)

    def _first_to_meet(self, kind: str, op: str | None) -> str | None:
        """The clause that failed first on ``kind`` (an exception type, a harm) in ``op``'s method; for a call not
        known one by one (``op`` None), in any method."""
        if op is None:
            return first_of_kind(self.raising, kind)
        return self.raising.get((OPERATIONS[op].sync, kind))

    def side_by_side(self, what: str, conversations: int) -> NoReturn:
        """The check's last comparison (``what``) failed in a packed batch of ``conversations`` sequences, each of
        which passes alone on a fresh store: charged as :meth:`harmed` is, the first check that met it failing and
        later ones blocked by it (a store that holds only so many conversations fails every packed phase)."""
        __tracebackhide__ = True
        kind = "failing only beside other conversations"
        what += (
            f" (run alone on a fresh store, each sequence of this batch passes: the store fails only with "
            f"{conversations} conversations written side by side, every call listed below)"
        )
        compared: dict[str, Any] = {}
        if self._failed_check is not None:
            compared = {"expected": self._failed_check[0], "actual": self._failed_check[1]}
        self._charge(what, [first_of_kind(self.raising, kind)], ("", kind), **compared)

    def _charge(
        self,
        what: str,
        suspects: list[str | None],
        raised_in: tuple[str, str] | None,
        met: str | None = None,
        **details: Any,
    ) -> NoReturn:
        """Blocked by the first of ``suspects`` that is another clause known broken; else the running check fails,
        remembering where (``raised_in``: store method, kind of harm) so that later checks are blocked by it, and
        whose rule it met (``met``: settled at the end of the run, :meth:`Results.settle`)."""
        __tracebackhide__ = True
        blocker = next((s for s in suspects if s is not None and s != self.owner and s in self.known_broken), None)
        if blocker is not None:
            raise blocked(self.owner, blocker, what, log=self.log, replay=self.replay_record(), **details)
        try:
            fail(self.owner, what, log=self.log, replay=self.replay_record(), **details)
        except ClauseFailure as failure:
            failure.raised_in = raised_in
            failure.met = met if met != self.owner else None
            raise

    def _store_raised(self, exc: BaseException, op: str, entry: str, *, use_async: bool, rule: str | None) -> NoReturn:
        """The store raised during ``entry`` (operation ``op``): charged to the running check, or no verdict if the
        backend went away.

        A sync call whose operation's ``rule`` is already known broken (raising is breaking it too), or an
        async twin where async parity (PAR-001) is known broken, blocks the check instead.
        """
        __tracebackhide__ = True
        if isinstance(exc, OperationTimeout):
            record = self.replay_record()
            record.last_call = f"this call hangs: it did not return within {self.runner.timeout:g} s"
            # The check stops: a hang is never replayed to shrink it.
            raise hung(self.owner, f"the store hung: {exc} during {entry}", log=self.log, replay=record) from None
        what = f"the store raised {type(exc).__name__} during {entry}: {message_of(exc)}"
        if is_infrastructure(exc):
            text = format_failure(self.owner, what + " (its backend could not be reached: no verdict)", log=self.log)
            raise InfrastructureError(self.owner, "INFRASTRUCTURE ERROR " + text) from exc
        # An async twin that raises is async parity's business first (its sync twin may be fine), then the
        # operation's rule; a sync call's is the operation's rule. PAR-001's own check keeps what it finds.
        suspects = ([PARITY, rule] if self.owner != PARITY else []) if use_async else [rule]
        # One exception from one method is one root cause: the clause that failed on it first blocks the rest.
        # A write that raises breaks the rule of what it writes (SET-002 for set_messages(k, [])): a check that
        # meets it first fails having met that rule, and is settled as blocked by it at the end of the run if
        # that clause fails on its own; later checks meeting it are blocked by that rule (KnownBroken.add).
        raised_in = (OPERATIONS[op].sync, type(exc).__name__)  # an async twin counts as its sync method
        suspects.append(self.raising.get(raised_in))
        met = rule if OPERATIONS[op].answer == "none" else None
        # A call on a key that is not plain (whitespace, control characters, glob characters, Unicode, a long one)
        # that raises is a key the store cannot hold: KEY-003's rule, before the operation's.
        key = self.steps[-1].args[0] if self.steps and self.steps[-1].args else None
        if self.owner != KEYS_KEPT and isinstance(key, str) and not plain_key(key):
            suspects.append(KEYS_KEPT)
            met = KEYS_KEPT
        self._charge(what, suspects, raised_in, met=met)

    @property
    def clock(self) -> Any:
        """The kit's clock the store was built with, if any."""
        return self.built_with.get("clock")

    def _record(self, op: str, args: tuple[Any, ...], kwargs: dict[str, Any], use_async: bool) -> None:
        clock = self.clock
        if clock is not None and clock() != self._clock_seen:
            self._clock_seen = clock()
            self.steps.append(Step("clock", (clock(),)))
        try:
            kit_args = tuple(self._kit_value(a) for a in args)
        except NotAMessage:
            self.unreplayable = "the example passes the store objects the kit cannot write down"
            kit_args = args
        self.steps.append(Step(op, kit_args, dict(kwargs), use_async))

    def _kit_value(self, value: Any) -> Any:
        if isinstance(value, (str, int, type(None))):
            return value
        if isinstance(value, list):
            return [self._kit_value(v) for v in value]
        return self.adapter.from_store(value)

    def _answered(self, value: V) -> V:
        """Note ``value`` as the converted answer of the last call; return it."""
        if self.steps:
            self.steps[-1].result = value
        return value

    def replay_record(self) -> ReplayRecord:
        """The calls so far and the failed check, for :mod:`pytest_chatstore.report.repro`."""
        record = ReplayRecord(
            list(self.steps), dict(self.built_with), blocked=self.unreplayable, refusal=self._accepted
        )
        if self._failed_check is not None:
            record.expected, record.actual = self._failed_check
        return record

    # -- converted calls ---------------------------------------------------------
    def perform(
        self,
        name: str,
        *args: Any,
        use_async: bool = False,
        read: bool = True,
        rule: str | None = None,
        raw: bool = False,
    ) -> Any:
        """Apply operation ``name`` with arguments in the kit's terms; return the answer in the kit's terms.

        Arguments and answers are converted as :data:`~pytest_chatstore.spec.operations.OPERATIONS` says:
        messages through the adapter, an ``idx`` of ``None`` left out, a listing checked to be ``str`` keys.
        ``raw``: an exception the store raises propagates (as :meth:`call`'s), for checks that expect one.
        """
        __tracebackhide__ = True
        op = OPERATIONS[name]
        call_args, kwargs = call_arguments(op, args, self.adapter.to_store)
        if "idx" in kwargs and "async_insert" not in self.capabilities:
            use_async = False  # the async twin cannot insert at an index (LlamaIndex's base class)
        shape_rule = ANSWER_RULES.get(name)  # whose rule it is that the answer can be read at all
        if rule is None and op.answer == "none":  # a write that raises breaks the rule of what it writes
            written = exercises((name, *args), None)
            rule = next(iter(written)) if len(written) == 1 else None
        reader = None if op.answer == "none" or not read else lambda answer: self._read(op.answer, answer)
        result, answer = self._invoke(
            name, *call_args, use_async=use_async, raw=raw, rule=rule or shape_rule, read=reader, **kwargs
        )
        if reader is None:  # not read: the answer's rule is known broken by its shape
            return None
        if answer is not UNREAD:  # read in time and well formed
            return self._answered(answer)
        # Read again here, to say what is wrong with it (the store's code has already run once, in time).
        if op.answer == "messages":
            return self._answered(self.messages_from(result, op.sync, rule=shape_rule))
        if op.answer == "removed":
            return self._answered(None if result is None else self.messages_from(result, op.sync, rule=shape_rule))
        if op.answer == "message":
            return self._answered(self.message_from(result, rule=shape_rule))
        return self._answered(self._keys(result))

    def _read(self, kind: str, answer: object) -> Any:
        """``answer`` in the kit's terms if it is well formed, else :data:`UNREAD` (then :meth:`perform` reads it
        again to say why). Runs on the store's thread, within the call's time limit."""
        try:
            if kind == "keys":
                if isinstance(answer, (list, tuple)) and all(isinstance(k, str) for k in answer):
                    return list(answer)
                return UNREAD
            if kind == "message" or (kind == "removed" and answer is None):
                return None if answer is None else self.adapter.from_store(answer)
            if not isinstance(answer, (list, tuple)) or any(m is None for m in answer):
                return UNREAD
            return [self.adapter.from_store(m) for m in answer]
        except Exception:  # noqa: BLE001 - an answer that cannot be read is said by the second reading
            return UNREAD

    # The store's methods, each its operation's :meth:`perform` (arguments and answer in the kit's terms).
    set_messages = _Performed(SET)
    get_messages = _Performed(GET)
    add_message = _Performed(ADD)
    add_messages = _Performed(ADD_BATCH)
    """Append a batch in one call (the ``batch`` capability: LangChain's ``add_messages``)."""
    delete_messages = _Performed(DELETE_ALL)
    delete_message = _Performed(DELETE)
    delete_last_message = _Performed(DELETE_LAST)
    get_keys = _Performed(KEYS)

    def _keys(self, result: object) -> list[str]:
        __tracebackhide__ = True
        rule = ANSWER_RULES["keys"]
        if not isinstance(result, (list, tuple)):
            self.violation(
                f"get_keys returned {type(result).__name__}, not a list: {short(result)}", rule=rule, shape=True
            )
        for key in result:
            if not isinstance(key, str):
                self.violation(
                    f"get_keys returned a {type(key).__name__} key, not str: {short(key)}", rule=rule, shape=True
                )
        return list(result)

    def message_from(self, obj: object, *, rule: str | None = None) -> ChatMessage | None:
        """``None``, or the kit's message equal to ``obj``; anything else breaks ``rule``."""
        __tracebackhide__ = True
        try:
            return None if obj is None else self.adapter.from_store(obj)
        except NotAMessage as exc:
            self.violation(str(exc), rule=rule, shape=True)

    def messages_from(self, result: object, name: str, *, rule: str | None = None) -> list[ChatMessage]:
        """A list (or tuple) answer read as messages; any item that is not one, ``None`` included, breaks ``rule``."""
        __tracebackhide__ = True
        if not isinstance(result, (list, tuple)):
            self.violation(
                f"{name} returned {type(result).__name__}, not a list: {short(result)}", rule=rule, shape=True
            )
        messages: list[ChatMessage] = []
        for position, obj in enumerate(result):
            if obj is None:
                self.violation(f"{name} returned None at position {position} of its list", rule=rule, shape=True)
            message = self.message_from(obj, rule=rule)
            assert message is not None
            messages.append(message)
        return messages
