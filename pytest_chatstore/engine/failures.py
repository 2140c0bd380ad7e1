"""What a failed check is: :class:`ClauseFailure`, its text, and the record a reproduction replays.

A leaf module: the driver raises these, and the report, the gate's outcome logic
and the reproduction writer read them, without importing one another.
"""

from __future__ import annotations

import re
import reprlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn

from pytest_chatstore.engine.runner import BudgetSpent
from pytest_chatstore.spec.clauses import CLAUSES
from pytest_chatstore.spec.contract import ChatMessage

NO_RESULT: Any = object()
"""Marks a :class:`Step` or :class:`ReplayRecord` field the kit has no value for."""


@dataclass
class Step:
    """One call on the store, in the kit's terms (messages as :class:`ChatMessage`), for a reproduction."""

    op: str
    """A key of :data:`pytest_chatstore.spec.operations.OPERATIONS`, or ``"clock"`` (the kit's clock moved to
    ``args[0]``)."""
    args: tuple[Any, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)
    use_async: bool = False
    result: Any = NO_RESULT
    """The converted answer, when the kit converted it."""
    raised: str | None = None
    """The type of what the call raised (``OperationTimeout``: it hung), or None: it returned."""


@dataclass
class ReplayRecord:
    """What a reproduction needs: the calls in order, how the store was built, and the failed check."""

    steps: list[Step]
    built_with: dict[str, Any]
    expected: Any = NO_RESULT
    actual: Any = NO_RESULT
    blocked: str | None = None
    """Why the steps alone do not reproduce the failure (then the reproduction reruns the clause)."""
    last_call: str = "the kit rejected this call's behaviour or answer"
    """What went wrong in the last call, when no answer was compared (it raised, hung, was unreadable)."""
    refusal: bool = False
    """The last call should have been refused with ``TypeError`` or ``ValueError`` and was accepted."""
    unread: bool = False
    """The last call's answer could not be read at all (a replay's own reading of it fails the same way)."""


class ClauseFailure(AssertionError):
    """A store broke a clause. ``str()`` is the full, readable report."""

    def __init__(self, clause_id: str, text: str, what: str = "") -> None:
        super().__init__(text)
        self.clause_id = clause_id
        self.what = what
        """The "what happened" of the text, as data (a one-line mention needs no parsing)."""
        self.replay: ReplayRecord | None = None
        """The calls that led here, attached by the driver, for a reproduction file."""
        self.shape = False
        """The answer was unreadable (not a message, a list of them, or str keys) rather than a wrong value."""
        self.blocked_by: str | None = None
        """Set when the check met another clause's rule, known broken (see
        :mod:`pytest_chatstore.engine.attribution`)."""
        self.met: str | None = None
        """Another clause's rule this failure broke too, not known broken when it was met: if that clause fails on
        its own in the run, this one is blocked by it at the end (see ``Results.settle``)."""
        self.raised_in: tuple[str, str] | None = None
        """(store method, exception type) when the failure is the store raising: later checks meeting the same
        exception from the same method are blocked by this clause instead of failing again."""


class Hung(BaseException):
    """A store call hung: the clause's check stops at once, with ``failure`` as its verdict.

    A ``BaseException`` on purpose: Hypothesis passes those through instead of replaying the
    example to shrink it, and every replay would hang for the whole limit again.
    """

    def __init__(self, failure: ClauseFailure) -> None:
        super().__init__(str(failure))
        self.failure = failure


class FactoryFailed(BaseException):
    """The target's factory raised or hung building a store for a check, after the target's first contact had
    built one: the clause could not be checked (an ``error``), which says nothing of its rule, so it is not
    charged with the clause's rule or hint. A ``BaseException``, as :class:`Hung` is, so that Hypothesis does not
    replay the example (building stores again)."""

    def __init__(self, message: str, short: str) -> None:
        super().__init__(message)
        self.short = short
        """What the factory did, alone (``the factory M:F raised E``): the first contact's usage error says it."""


class InfrastructureError(AssertionError):
    """The store's backend could not be reached (a connection or timeout error): no verdict on the clause."""

    def __init__(self, clause_id: str, text: str) -> None:
        super().__init__(text)
        self.clause_id = clause_id


class Inconclusive(AssertionError):
    """A real-time check could not run on the right side of its deadline (machine too slow): no verdict."""


INFRASTRUCTURE_NAMES = ("ConnectionError", "TimeoutError", "ConnectionRefusedError", "ConnectionResetError")
"""Exception class names (anywhere in the class's ancestry) that mean the backend went away, not a wrong answer:
the built-in ones, and redis-py's, psycopg's or a driver's of the same name."""


def is_infrastructure(exc: BaseException) -> bool:
    """Whether ``exc`` says the backend could not be reached (by class name, so no driver is imported)."""
    return any(cls.__name__ in INFRASTRUCTURE_NAMES for cls in type(exc).__mro__)


class _ShortRepr(reprlib.Repr):
    def repr_ChatMessage(self, obj: ChatMessage, level: int) -> str:
        fields = (self.repr1(obj.role, level - 1), self.repr1(obj.content, level - 1))
        kwargs = f", {self.repr1(obj.additional_kwargs, level - 1)}" if obj.additional_kwargs else ""
        return f"ChatMessage({fields[0]}, {fields[1]}{kwargs})"


_repr = _ShortRepr()
_repr.maxstring = 60
_repr.maxother = 80
_repr.maxlist = 8
_repr.maxdict = 4
_repr.maxlevel = 5


def message_of(exc: BaseException) -> str:
    """``str(exc)``, or what went wrong reading it: a store's exception may not even print."""
    try:
        return str(exc)
    except Exception as error:  # noqa: BLE001 - the store's __str__, whatever it raises
        return f"<its message cannot be read: str() raised {type(error).__name__}>"


def described(exc: BaseException) -> str:
    """``Type: message``: an exception as a report says it."""
    return f"{type(exc).__name__}: {message_of(exc)}"


def short(value: object) -> str:
    """A repr short enough for a failure report (1 MB contents are elided)."""
    return _repr.repr(value)


def format_failure(
    clause_id: str,
    what: str,
    *,
    expected: object = NO_RESULT,
    actual: object = NO_RESULT,
    log: Sequence[str] = (),
) -> str:
    """The text of a :class:`ClauseFailure`: rule, what happened, expected and actual, the calls, the hint."""
    clause = CLAUSES[clause_id]
    lines = [f"[{clause.id} {clause.level}] {clause.rule}", f"  what happened: {what}"]
    if expected is not NO_RESULT:
        lines.append(f"  expected: {short(expected)}")
    if actual is not NO_RESULT:
        lines.append(f"  actual:   {short(actual)}")
    if log:
        lines.append("  operations on the store under test, in order (the last one shows the failure):")
        lines += [f"    {i:>3}. {entry}" for i, entry in enumerate(log[-40:], start=max(1, len(log) - 39))]
    lines.append(f"  hint: {clause.hint}")
    return "\n".join(lines)


def said(text: str, label: str) -> str | None:
    """What a failure's text (:func:`format_failure`) says on its ``label:`` line (``what happened``, ``hint``), or
    None when it has no such line."""
    lines = (line.strip() for line in text.splitlines())
    return next((line[len(label) + 1 :].strip() for line in lines if line.startswith(label + ":")), None)


def fail(
    clause_id: str,
    what: str,
    *,
    expected: object = NO_RESULT,
    actual: object = NO_RESULT,
    log: Sequence[str] = (),
    replay: ReplayRecord | None = None,
    shape: bool = False,
) -> NoReturn:
    """Raise a :class:`ClauseFailure` for ``clause_id``."""
    __tracebackhide__ = True
    raise _failure(clause_id, what, expected=expected, actual=actual, log=log, replay=replay, shape=shape)


def hung(clause_id: str, what: str, *, log: Sequence[str] = (), replay: ReplayRecord | None = None) -> Hung:
    """The :class:`Hung` that stops ``clause_id``'s check: a call (or the factory) did not return."""
    return Hung(_failure(clause_id, what, log=log, replay=replay))


def _failure(
    clause_id: str,
    what: str,
    *,
    expected: object = NO_RESULT,
    actual: object = NO_RESULT,
    log: Sequence[str] = (),
    replay: ReplayRecord | None = None,
    shape: bool = False,
) -> ClauseFailure:
    text = format_failure(clause_id, what, expected=expected, actual=actual, log=log)
    failure = ClauseFailure(clause_id, text, what)
    failure.replay = replay
    failure.shape = shape
    return failure


def first_clause_failure(exc: BaseException) -> ClauseFailure | None:
    """``exc`` itself, or the first :class:`ClauseFailure` in its group (Hypothesis may group several)."""
    if isinstance(exc, ClauseFailure):
        return exc
    if isinstance(exc, Hung):
        return exc.failure
    for inner in getattr(exc, "exceptions", ()):
        found = first_clause_failure(inner)
        if found is not None:
            return found
    return None


def is_clause_failure(exc: BaseException) -> bool:
    """Whether ``exc`` (every member, for a group) is the store's failure rather than the kit's or the machine's."""
    inner = getattr(exc, "exceptions", None)
    if inner:
        return all(is_clause_failure(e) for e in inner)
    return isinstance(exc, ClauseFailure)


def failure_text(exc: BaseException) -> str:
    """The kit's report of the (first) clause failure in ``exc``, or its type and message."""
    first = first_clause_failure(exc)
    if first is None:
        return f"{type(exc).__name__}: {exc}"[:20_000]
    others = [e for e in getattr(exc, "exceptions", ()) if e is not first]
    more = "".join(f"\n  and a distinct failure of this clause too: {_what(e)}" for e in others)
    return (str(first) + more)[:20_000]


def _what(exc: BaseException) -> str:
    """What happened in a failure (its first line otherwise), for a one-line mention."""
    first = first_clause_failure(exc)
    return (first.what if first is not None and first.what else str(exc).splitlines()[0])[:300]


def _leaves(exc: BaseException, seen: set[int] | None = None) -> list[BaseException]:
    """``exc``, the members of its group, and what it was raised from, flattened (Hypothesis wraps failures)."""
    seen = set() if seen is None else seen
    if id(exc) in seen:
        return []
    seen.add(id(exc))
    if isinstance(exc, Hung):
        exc = exc.failure
    found = [exc]
    for inner in getattr(exc, "exceptions", ()):
        found += _leaves(inner, seen)
    for linked in (exc.__cause__, exc.__context__):
        if linked is not None and _is_hypothesis_complaint(exc):
            found += _leaves(linked, seen)
    return found


def _is_hypothesis_complaint(exc: BaseException) -> bool:
    """Hypothesis's own errors about the test (flaky, inconsistent data generation), not a store's failure."""
    return type(exc).__module__.startswith("hypothesis") and "Flaky" in "".join(c.__name__ for c in type(exc).__mro__)


def classify(exc: BaseException) -> tuple[str, str]:
    """What a suite test's exception means: (raw result, detail) for :func:`pytest_chatstore.report.gate.judge`.

    The raw result is ``infrastructure`` (the backend went away), ``inconclusive`` (real time could not be
    judged), ``failed`` (the store broke the clause), ``blocked`` (its check met another clause's known
    broken rule, named in the detail) or ``error`` (the kit could not check). A store that answered
    differently when Hypothesis replayed the same calls is reported as what it did, never as
    Hypothesis's complaint about the test.
    """
    leaves = _leaves(exc)
    infrastructure = [e for e in leaves if isinstance(e, InfrastructureError)]
    if infrastructure:
        return "infrastructure", str(infrastructure[0])
    factory = [e for e in leaves if isinstance(e, FactoryFailed)]
    if factory:
        return "error", str(factory[0])
    failures = [e for e in leaves if isinstance(e, ClauseFailure)]
    flaky = (
        ""
        if not any(_is_hypothesis_complaint(e) for e in leaves)
        else (" (the store answered differently when the same calls were replayed: it is nondeterministic)")
    )
    own = [e for e in failures if e.blocked_by is None]
    if own:
        return "failed", flaky.strip(" ()")
    if failures:
        return "blocked", f"blocked by {failures[0].blocked_by}"
    spent = [e for e in leaves if isinstance(e, BudgetSpent)]
    if spent:
        return "error", str(spent[0])
    if any(isinstance(e, Inconclusive) for e in leaves):
        return "inconclusive", str(next(e for e in leaves if isinstance(e, Inconclusive)))
    if flaky:
        return "error", "the store answered differently when the same calls were replayed" + (
            f" ({type(exc).__name__}); it is nondeterministic, so no example could be shrunk or reported"
        )
    return "error", ""


# -- Hypothesis's reproduce blob -------------------------------------------------------------------

_BLOB = re.compile(r"@reproduce_failure\('([^']+)', b'([^']+)'\)|--chatstore-reproduce=[A-Z]{3}-\d{3}:(\S+)")


def _notes(exc: BaseException) -> list[tuple[BaseException, int, str]]:
    """(exception, index, note) for the notes of ``exc`` and of the exceptions of its group."""
    group = (exc, *getattr(exc, "exceptions", ()))
    return [(e, i, note) for e in group for i, note in enumerate(getattr(e, "__notes__", []))]


def find_blob(exc: BaseException) -> str | None:
    """The reproduce blob Hypothesis attached to ``exc`` (or to an exception in its group), as Hypothesis wrote it or
    as :func:`kit_advice` rewrote it."""
    for _, _, note in _notes(exc):
        match = _BLOB.search(note)
        if match:
            return match.group(2) or match.group(3)
    return None


def kit_advice(exc: BaseException, clause_id: str) -> None:
    """Rewrite Hypothesis's advice (add ``@reproduce_failure(...)`` "as a decorator on your test function": a user
    of the kit has no such function) into the kit's: the option that replays the example."""
    for owner, index, note in _notes(exc):
        match = _BLOB.search(note)
        if match and match.group(2):
            vars(owner)["__notes__"][index] = (
                f"\nTo replay exactly this example, rerun with --chatstore-reproduce={clause_id}:{match.group(2)} "
                "(the reproduction file below does the same)"
            )
