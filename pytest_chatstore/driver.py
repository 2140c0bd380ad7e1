"""The driver: one uniform, logged, time-limited way to call any store.

A :class:`StoreDriver` wraps one store built for one test example. Every call
goes through the :class:`~pytest_chatstore.runner.Runner` (so a hang becomes a
failure), converts messages with the store's adapter, checks the shape of what
comes back (a message, not raw bytes; a ``str`` key, not bytes) and is written
to :attr:`StoreDriver.log`, which failure reports print as the sequence that
led to the failure.
"""

from __future__ import annotations

import inspect
import reprlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn, TypeVar

from pytest_chatstore.adapters import Adapter, NotAMessage
from pytest_chatstore.contract import ChatMessage
from pytest_chatstore.runner import Runner

OPERATIONS: dict[str, tuple[str, str]] = {
    "set": ("set_messages", "aset_messages"),
    "get": ("get_messages", "aget_messages"),
    "add": ("add_message", "async_add_message"),
    "delete_all": ("delete_messages", "adelete_messages"),
    "delete": ("delete_message", "adelete_message"),
    "delete_last": ("delete_last_message", "adelete_last_message"),
    "keys": ("get_keys", "aget_keys"),
    "add_batch": ("add_messages", "aadd_messages"),
}
"""Operation -> (sync method name, async method name), as LlamaIndex names them."""

_METHOD_CAPABILITIES = {
    "delete": "delete_message",
    "delete_last": "delete_last",
    "delete_all": "delete_all",
    "keys": "keys",
    "add_batch": "batch",
}


_NO_RESULT = object()
V = TypeVar("V")


@dataclass
class Step:
    """One call on the store, in the kit's terms (messages as :class:`ChatMessage`), for a reproduction."""

    op: str
    """A key of :data:`OPERATIONS`, or ``"clock"`` (the kit's clock moved to ``args[0]``)."""
    args: tuple[Any, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)
    use_async: bool = False
    result: Any = _NO_RESULT
    """The converted answer, when the kit converted it."""


@dataclass
class ReplayRecord:
    """What a reproduction needs: the calls in order, how the store was built, and the failed check."""

    steps: list[Step]
    built_with: dict[str, Any]
    expected: Any = _NO_RESULT
    actual: Any = _NO_RESULT
    blocked: str | None = None
    """Why the steps alone do not reproduce the failure (then the reproduction reruns the clause)."""


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


def short(value: object) -> str:
    """A repr short enough for a failure report (1 MB contents are elided)."""
    return _repr.repr(value)


def detect_capabilities(store: object, accepts: frozenset[str]) -> frozenset[str]:
    """The capabilities ``store`` shows: methods present, ``idx`` accepted, async twins, factory args."""
    caps = {name for name in accepts if name in ("ttl", "clock")}
    caps.add("threads")  # no probe can show thread safety: assumed, unless declared absent
    if "redis_url" in accepts:
        caps.add("redis")
    present = {op for op, (sync, _) in OPERATIONS.items() if callable(getattr(store, sync, None))}
    caps |= {cap for op, cap in _METHOD_CAPABILITIES.items() if op in present}
    if _takes_idx(getattr(store, "add_message", None)):
        caps.add("insert")

    core = present - {"add_batch"}  # a batch method without its async twin does not take "async" away
    if core and all(inspect.iscoroutinefunction(getattr(store, OPERATIONS[op][1], None)) for op in core):
        caps.add("async")
        if _takes_idx(getattr(store, "async_add_message", None)):
            caps.add("async_insert")
    return frozenset(caps)


def _takes_idx(method: object) -> bool:
    try:
        return callable(method) and "idx" in inspect.signature(method).parameters
    except (TypeError, ValueError):
        return False


class StoreDriver:
    """Calls one store under test; see the module docstring."""

    def __init__(self, store: Any, adapter: Adapter, runner: Runner, capabilities: frozenset[str], clause: str) -> None:
        self.store = store
        self.adapter = adapter
        self.runner = runner
        self.capabilities = capabilities
        self.clause = clause
        """The clause being checked: a store exception, a hang or a non-message answer fails it."""
        self.log: list[str] = []
        self.steps: list[Step] = []
        self.built_with: dict[str, Any] = {}
        """The factory arguments the kit chose (``ttl``, ``clock``), for a reproduction."""
        self._clock_seen: float | None = None
        self._unreplayable: str | None = None
        self._failed_check: tuple[Any, Any] | None = None
        self.backdoor: Any = None
        """A redis-py client on the database the store uses, when the kit manages it (KEY-005)."""

    def expect(self, what: str, expected: object, actual: object) -> None:
        """Fail :attr:`clause` unless ``actual == expected``."""
        __tracebackhide__ = True
        if actual != expected:
            from pytest_chatstore.report import ClauseFailure, fail

            self._failed_check = (expected, actual)
            try:
                fail(self.clause, what, expected=expected, actual=actual, log=self.log)
            except ClauseFailure as exc:
                exc.replay = self.replay_record()
                raise

    def violation(self, what: str) -> NoReturn:
        """Fail :attr:`clause` with ``what`` and the operation log."""
        __tracebackhide__ = True
        from pytest_chatstore.report import ClauseFailure, fail

        try:
            fail(self.clause, what, log=self.log)
        except ClauseFailure as exc:
            exc.replay = self.replay_record()
            raise

    # -- raw calls -------------------------------------------------------------
    def call(self, op: str, *args: Any, use_async: bool = False, raw: bool = False, **kwargs: Any) -> Any:
        """Call the store's method for ``op`` with already-converted arguments; log and return the raw result.

        An exception from the store (or a hang) fails :attr:`clause`, unless
        ``raw`` is set, in which case it propagates (for bad-input checks).
        """
        __tracebackhide__ = True
        sync_name, async_name = OPERATIONS[op]
        name = async_name if use_async else sync_name
        shown = ", ".join([*(short(a) for a in args), *(f"{k}={short(v)}" for k, v in kwargs.items())])
        entry = f"{'await ' if use_async else ''}store.{name}({shown})"
        self.log.append(entry)
        self._record(op, args, kwargs, use_async)
        method = getattr(self.store, name)
        try:
            result = (
                self.runner.run(method, *args, **kwargs) if use_async else self.runner.call(method, *args, **kwargs)
            )
        except Exception as exc:
            self.log[-1] = f"{entry}  raised {type(exc).__name__}: {short(str(exc))}"
            if raw:
                raise
            self.violation(f"{entry} raised {type(exc).__name__}: {exc}")
        self.log[-1] = f"{entry} -> {short(result)}"
        return result

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
            self._unreplayable = "the example passes the store objects the kit cannot write down"
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
        """The calls so far and the failed check, for :mod:`pytest_chatstore.repro`."""
        record = ReplayRecord(list(self.steps), dict(self.built_with), blocked=self._unreplayable)
        if self._failed_check is not None:
            record.expected, record.actual = self._failed_check
        return record

    # -- converted calls ---------------------------------------------------------
    def set_messages(self, key: str, messages: Sequence[ChatMessage], *, use_async: bool = False) -> None:
        self.call("set", key, [self.adapter.to_store(m) for m in messages], use_async=use_async)

    def get_messages(self, key: str, *, use_async: bool = False) -> list[ChatMessage]:
        return self._answered(self.messages_from(self.call("get", key, use_async=use_async), "get_messages"))

    def add_message(self, key: str, message: ChatMessage, idx: int | None = None, *, use_async: bool = False) -> None:
        extra: dict[str, Any] = {} if idx is None else {"idx": idx}
        if idx is not None and "async_insert" not in self.capabilities:
            use_async = False  # the async twin cannot insert at an index (LlamaIndex's base class)
        self.call("add", key, self.adapter.to_store(message), use_async=use_async, **extra)

    def add_messages(self, key: str, messages: Sequence[ChatMessage], *, use_async: bool = False) -> None:
        """Append a batch in one call (the ``batch`` capability: LangChain's ``add_messages``)."""
        self.call("add_batch", key, [self.adapter.to_store(m) for m in messages], use_async=use_async)

    def delete_messages(self, key: str, *, use_async: bool = False) -> list[ChatMessage] | None:
        result = self.call("delete_all", key, use_async=use_async)
        return self._answered(None if result is None else self.messages_from(result, "delete_messages"))

    def delete_message(self, key: str, idx: int, *, use_async: bool = False) -> ChatMessage | None:
        return self._answered(self._message(self.call("delete", key, idx, use_async=use_async)))

    def delete_last_message(self, key: str, *, use_async: bool = False) -> ChatMessage | None:
        return self._answered(self._message(self.call("delete_last", key, use_async=use_async)))

    def get_keys(self, *, use_async: bool = False) -> list[str]:
        __tracebackhide__ = True
        result = self.call("keys", use_async=use_async)
        if not isinstance(result, (list, tuple)):
            self.violation(f"get_keys returned {type(result).__name__}, not a list: {short(result)}")
        for key in result:
            if not isinstance(key, str):
                self.violation(f"get_keys returned a {type(key).__name__} key, not str: {short(key)}")
        return self._answered(list(result))

    def _message(self, obj: object) -> ChatMessage | None:
        __tracebackhide__ = True
        try:
            return None if obj is None else self.adapter.from_store(obj)
        except NotAMessage as exc:
            self.violation(str(exc))

    def messages_from(self, result: object, name: str) -> list[ChatMessage]:
        __tracebackhide__ = True
        if not isinstance(result, (list, tuple)):
            self.violation(f"{name} returned {type(result).__name__}, not a list: {short(result)}")
        return [m for m in (self._message(obj) for obj in result) if m is not None]
