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
from pytest_chatstore.contract import ChatMessage
from pytest_chatstore.targets import build_store, parse_target

Op = tuple[Any, ...]
"""``("append", key, name)``, ``("insert", key, idx, name)``, ``("delete", key, idx)``, ``("delete_last", key)``
or ``("get", key)``; a message is named by its unique content."""


def run_worker(spec: str, shared_with: dict[str, Any], ops: list[Op], start: Any, results: Any, worker: int) -> None:
    """Build a store, wait for the others, run ``ops``; put ``(worker, events, error)`` on ``results``."""
    events: list[tuple[int, int, Op, Any]] = []
    error = None
    try:
        target = parse_target(spec, "PRC-001", None)
        with build_store(target, **shared_with) as store:
            adapter = select_adapter(store)
            start.wait(timeout=60)
            for op in ops:
                began = time.monotonic_ns()
                answer = _call(store, adapter, op)
                events.append((began, time.monotonic_ns(), op, answer))
    except BaseException as exc:  # noqa: BLE001 - reported by the parent, with the calls before it
        error = f"{type(exc).__name__}: {exc}"
    results.put((worker, events, error))


def _call(store: Any, adapter: Any, op: Op) -> Any:
    kind, key = op[0], op[1]
    if kind == "append":
        store.add_message(key, adapter.to_store(ChatMessage("user", op[2])))
        return None
    if kind == "insert":
        store.add_message(key, adapter.to_store(ChatMessage("user", op[3])), idx=op[2])
        return None
    if kind == "delete":
        return _content(adapter, store.delete_message(key, op[2]))
    if kind == "delete_last":
        return _content(adapter, store.delete_last_message(key))
    return tuple(_content(adapter, m) for m in store.get_messages(key))


def _content(adapter: Any, message: object) -> Any:
    if message is None:
        return None
    converted: ChatMessage = adapter.from_store(message)
    return converted.content
