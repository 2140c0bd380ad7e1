"""Worker processes for PRC-001: each builds its own store on the shared backend and records its calls.

A worker is started with the ``spawn`` method, so it shares nothing with the
pytest process but what it is given: the target's ``MODULE:ATTR``, the factory
arguments that name the backend (``redis_url`` or ``namespace``), its
workload, and a barrier to start with the others. It sends back every call with
its start and end on the system's monotonic clock (the same in every process
of the machine) and its answer, as message contents, or the error that stopped
it.
"""

from __future__ import annotations

import time
from typing import Any

from pytest_chatstore.adapters import select_adapter
from pytest_chatstore.engine.targets import build_store, parse_target
from pytest_chatstore.spec.clauses import PROCESSES
from pytest_chatstore.spec.contract import ChatMessage
from pytest_chatstore.spec.operations import OPERATIONS, call_arguments

Op = tuple[Any, ...]
"""An operation tuple of the registry whose messages are named by their unique content: ``("add", key, name)``,
``("add", key, name, idx)``, ``("delete", key, idx)``, ``("delete_last", key)``, ``("get", key)``."""


UNREAD = "<not read>"
"""The answer recorded for an operation whose answers the kit does not read (their rule is known broken)."""


def run_worker(
    spec: str, shared_with: dict[str, Any], ops: list[Op], start: Any, results: Any, worker: int, unread: list[str]
) -> None:
    """Build a store, wait for the others, run ``ops``; put ``(worker, events, error)`` on ``results``.

    ``unread`` names the operations (``delete``, ``delete_last``) whose answers are not read. The
    error, if any, is ``(the operation, "Type: message")``; the operation is ``None`` outside one.
    """
    events: list[tuple[int, int, Op, Any]] = []
    error = None
    current: Op | None = None
    try:
        target = parse_target(spec, PROCESSES, None)
        with build_store(target, **shared_with) as store:
            adapter = select_adapter(store)
            start.wait(timeout=60)
            for op in ops:
                current = op
                began = time.monotonic_ns()
                answer = _call(store, adapter, op, unread)
                events.append((began, time.monotonic_ns(), op, answer))
            current = None
    except BaseException as exc:  # noqa: BLE001 - reported by the parent, with the calls before it
        error = (current, f"{type(exc).__name__}: {exc}")
    results.put((worker, events, error))


def apply(store: Any, adapter: Any, op: Op) -> Any:
    """Call ``store``'s method for ``op``, its messages named by their content (``adapter`` converts them).

    Returns the store's answer as it is."""
    operation = OPERATIONS[op[0]]
    args, kwargs = call_arguments(operation, op[1:], lambda content: adapter.to_store(ChatMessage("user", content)))
    return getattr(store, operation.sync)(*args, **kwargs)


def _call(store: Any, adapter: Any, op: Op, unread: list[str]) -> Any:
    answer = apply(store, adapter, op)
    kind = OPERATIONS[op[0]].answer
    if kind == "none":
        return None
    if op[0] in unread:
        return UNREAD
    if kind == "messages":
        return tuple(_content(adapter, m) for m in answer)
    return _content(adapter, answer)


def _content(adapter: Any, message: object) -> Any:
    if message is None:
        return None
    converted: ChatMessage = adapter.from_store(message)
    return converted.content
