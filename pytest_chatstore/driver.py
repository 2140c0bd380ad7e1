"""The driver: one uniform, logged, time-limited way to call any store.

A :class:`StoreDriver` wraps one store built for one test example. Every call
goes through the :class:`~pytest_chatstore.runner.Runner` (so a hang becomes a
failure), converts messages with the store's adapter, checks the shape of what
comes back (a message, not raw bytes; a ``str`` key, not bytes) and is written
to :attr:`StoreDriver.log`, which failure reports print as the sequence that
led to the failure. What each operation takes and answers is read from
:data:`pytest_chatstore.operations.OPERATIONS`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any, NoReturn, TypeVar

from pytest_chatstore.adapters import Adapter, NotAMessage
from pytest_chatstore.contract import ChatMessage
from pytest_chatstore.failures import ReplayRecord, Step, fail, short
from pytest_chatstore.operations import OPERATIONS, method_name
from pytest_chatstore.runner import Runner

V = TypeVar("V")


class StoreDriver:
    """Calls one store under test; see the module docstring."""

    def __init__(self, store: Any, adapter: Adapter, runner: Runner, capabilities: frozenset[str], clause: str) -> None:
        self.store = store
        self.adapter = adapter
        self.runner = runner
        self.capabilities = capabilities
        self._clause = clause
        self.log: list[str] = []
        self.steps: list[Step] = []
        self.built_with: dict[str, Any] = {}
        """The factory arguments the kit chose (``ttl``, ``clock``), for a reproduction."""
        self._clock_seen: float | None = None
        self._unreplayable: str | None = None
        self._failed_check: tuple[Any, Any] | None = None
        self.backdoor: Any = None
        """A redis-py client on the database the store uses, when the kit manages it (KEY-005)."""

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

    def expect(self, what: str, expected: object, actual: object) -> None:
        """Fail :attr:`clause` unless ``actual == expected``."""
        __tracebackhide__ = True
        if actual != expected:
            self._failed_check = (expected, actual)
            fail(self.clause, what, expected=expected, actual=actual, log=self.log, replay=self.replay_record())

    def violation(self, what: str) -> NoReturn:
        """Fail :attr:`clause` with ``what`` and the operation log."""
        __tracebackhide__ = True
        fail(self.clause, what, log=self.log, replay=self.replay_record())

    # -- raw calls -------------------------------------------------------------
    def call(self, op: str, *args: Any, use_async: bool = False, raw: bool = False, **kwargs: Any) -> Any:
        """Call the store's method for ``op`` with already-converted arguments; log and return the raw result.

        An exception from the store (or a hang) fails :attr:`clause`, unless
        ``raw`` is set, in which case it propagates (for bad-input checks).
        """
        __tracebackhide__ = True
        name = method_name(op, use_async=use_async)
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
    def perform(self, name: str, *args: Any, use_async: bool = False) -> Any:
        """Apply operation ``name`` with arguments in the kit's terms; return the answer in the kit's terms.

        Arguments and answers are converted as :data:`~pytest_chatstore.operations.OPERATIONS` says:
        messages through the adapter, an ``idx`` of ``None`` left out, a listing checked to be ``str`` keys.
        """
        __tracebackhide__ = True
        op = OPERATIONS[name]
        call_args: list[Any] = list(args)
        kwargs: dict[str, Any] = {}
        if op.arguments == "key_messages":
            call_args[1] = [self.adapter.to_store(m) for m in args[1]]
        elif op.arguments == "key_message":
            call_args[1] = self.adapter.to_store(args[1])
        if op.optional_index:
            idx = call_args.pop(2) if len(call_args) > 2 else None
            if idx is not None:
                kwargs["idx"] = idx
                if "async_insert" not in self.capabilities:
                    use_async = False  # the async twin cannot insert at an index (LlamaIndex's base class)
        result = self.call(name, *call_args, use_async=use_async, **kwargs)
        if op.answer == "none":
            return None
        if op.answer == "messages":
            return self._answered(self.messages_from(result, op.sync))
        if op.answer == "removed":
            return self._answered(None if result is None else self.messages_from(result, op.sync))
        if op.answer == "message":
            return self._answered(self._message(result))
        return self._answered(self._keys(result))

    def set_messages(self, key: str, messages: Sequence[ChatMessage], *, use_async: bool = False) -> None:
        self.perform("set", key, messages, use_async=use_async)

    def get_messages(self, key: str, *, use_async: bool = False) -> list[ChatMessage]:
        messages: list[ChatMessage] = self.perform("get", key, use_async=use_async)
        return messages

    def add_message(self, key: str, message: ChatMessage, idx: int | None = None, *, use_async: bool = False) -> None:
        self.perform("add", key, message, idx, use_async=use_async)

    def add_messages(self, key: str, messages: Sequence[ChatMessage], *, use_async: bool = False) -> None:
        """Append a batch in one call (the ``batch`` capability: LangChain's ``add_messages``)."""
        self.perform("add_batch", key, messages, use_async=use_async)

    def delete_messages(self, key: str, *, use_async: bool = False) -> list[ChatMessage] | None:
        removed: list[ChatMessage] | None = self.perform("delete_all", key, use_async=use_async)
        return removed

    def delete_message(self, key: str, idx: int, *, use_async: bool = False) -> ChatMessage | None:
        message: ChatMessage | None = self.perform("delete", key, idx, use_async=use_async)
        return message

    def delete_last_message(self, key: str, *, use_async: bool = False) -> ChatMessage | None:
        message: ChatMessage | None = self.perform("delete_last", key, use_async=use_async)
        return message

    def get_keys(self, *, use_async: bool = False) -> list[str]:
        keys: list[str] = self.perform("keys", use_async=use_async)
        return keys

    def _keys(self, result: object) -> list[str]:
        __tracebackhide__ = True
        if not isinstance(result, (list, tuple)):
            self.violation(f"get_keys returned {type(result).__name__}, not a list: {short(result)}")
        for key in result:
            if not isinstance(key, str):
                self.violation(f"get_keys returned a {type(key).__name__} key, not str: {short(key)}")
        return list(result)

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
