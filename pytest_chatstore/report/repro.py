"""Reproductions: a failing clause becomes a short pytest file that fails until the store is fixed.

Two forms, chosen by what the failure allows:

- **replay**: the shrunk example's calls, one per line, through :func:`open_store`
  (the kit's driver, so any adapter's messages read as :class:`ChatMessage`), and
  the failed check as an ``assert`` with the expected value inline. Pasted into the
  backend's tests, it is a regression test.
- **rerun**: when the calls alone do not show the failure (threads, real time,
  two stores at once), the file runs the clause itself, derandomized, in a
  subprocess, and asserts that it passes.

Both name the Hypothesis reproduce blob when there is one
(``--chatstore-reproduce=CLAUSE:BLOB`` replays exactly the failing example).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pytest_chatstore.engine.driver import StoreDriver
from pytest_chatstore.engine.failures import NO_RESULT, ReplayRecord, Step, said
from pytest_chatstore.engine.targets import parse_target
from pytest_chatstore.harness import ttl
from pytest_chatstore.harness.ttl import ManualClock
from pytest_chatstore.spec.clauses import CLAUSES, SPEC_VERSION
from pytest_chatstore.spec.operations import method_name


@contextlib.contextmanager
def open_store(
    target: str, *, clause: str, ttl: float | None = None, clock_start: float | None = None
) -> Iterator[StoreDriver]:
    """A fresh store from ``target`` (``MODULE:ATTR``), driven as the suite drives it.

    With ``clock_start``, the store is built on the kit's manual clock (``store.clock``),
    which the reproduction moves by hand. A target taking ``redis_url`` gets a server
    from the kit's usual sources (see :mod:`pytest_chatstore.servers.redis`).
    """
    from pytest_chatstore.harness.store import StoreUnderTest

    parsed = parse_target(target, "a reproduction", Path.cwd())
    servers: list[Any] = []

    def redis() -> Any:
        if not servers:
            from pytest_chatstore.servers.redis import provision

            servers.append(provision("auto"))
        return servers[0]

    sut = StoreUnderTest(parsed, timeout=10.0, profile="ci", clause=clause, redis=redis)
    kwargs: dict[str, Any] = {}
    if ttl is not None:
        kwargs["ttl"] = ttl
    if clock_start is not None:
        kwargs["clock"] = ManualClock(clock_start)
    try:
        with sut.fresh(**kwargs) as driver:
            yield driver
    finally:
        sut.close()
        for server in servers:
            server.close()


def write(
    directory: Path,
    *,
    clause_id: str,
    target: str,
    node: str,
    record: ReplayRecord | None,
    blob: str | None,
    what: str,
) -> Path:
    """Write the reproduction of ``clause_id`` failing against ``target``; return its path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = path_for(directory, clause_id, target)
    path.write_text(render(clause_id=clause_id, target=target, node=node, record=record, blob=blob, what=what))
    return path


def path_for(directory: Path, clause_id: str, target: str) -> Path:
    """Where the reproduction of ``clause_id`` failing against ``target`` is written."""
    slug = re.sub(r"[^A-Za-z0-9]+", "_", target.rsplit(":", 1)[-1]).strip("_") or "target"
    return directory / f"test_repro_{clause_id.replace('-', '_')}_{slug}.py"


def forget(directory: Path, clause_id: str, target: str) -> None:
    """Remove the reproduction an earlier run wrote for ``clause_id`` against ``target``, now that the clause holds:
    a file left behind would fail for ever against a fixed store (and ``pytest <the repro dir>`` with it)."""
    path_for(directory, clause_id, target).unlink(missing_ok=True)


def render(*, clause_id: str, target: str, node: str, record: ReplayRecord | None, blob: str | None, what: str) -> str:
    """The text of a reproduction file."""
    clause = CLAUSES[clause_id]
    body, form = _replay_body(clause_id, target, record)
    if body is None:
        body, form = _rerun_body(clause_id, target), "rerun"
    rerun = f"pytest --chatstore={target} --chatstore-only --chatstore-clauses={clause_id}"
    blob_line = f"    {rerun} --chatstore-reproduce={clause_id}:{blob}" if blob else "    (no Hypothesis blob)"
    header = [
        '"""Reproduction of a pytest-chatstore failure; written by the kit, safe to edit.',
        "",
        f"[{clause_id} {clause.level}] {clause.rule}",
        f"Target: {target}    Test: {node}    Spec: {SPEC_VERSION}",
        f"What happened: {_one_line(what)}",
        "",
        "It "
        + (
            "replays the failing example (the shortest one found) call by call"
            if form == "replay"
            else "reruns the clause, derandomized"
        )
        + ": it fails while the store is broken and passes once it is fixed.",
        "Keep it as a regression test. To point it at another factory, change TARGET.",
        "The exact failing example, through Hypothesis (that Hypothesis version only):",
        blob_line,
        '"""',
        "",
    ]
    return "\n".join(header) + body


def _one_line(text: str) -> str:
    """The failure's "what happened" line (else its first line), shortened."""
    lines = text.strip().splitlines()
    return (said(text, "what happened") or (lines[0].strip() if lines else ""))[:200]


def _replay_body(clause_id: str, target: str, record: ReplayRecord | None) -> tuple[str | None, str]:
    if record is None or record.blocked or CLAUSES[clause_id].group == "concurrency" or not record.steps:
        return None, ""
    steps = record.steps
    last = steps[-1]
    if last.op == "clock":
        return None, ""
    final = _assertion(last, record)
    if final is None:
        return None, ""
    build = [f"clause={clause_id!r}"]
    if record.built_with.get("ttl") is not None:
        build.append(f"ttl={record.built_with['ttl']!r}")
    if "clock_start" in record.built_with:
        build.append(f"clock_start={record.built_with['clock_start']!r}")
    lines = [
        *(["import pytest", ""] if record.refusal else []),
        "from pytest_chatstore.contract import ChatMessage",
        "from pytest_chatstore.repro import open_store",
        "",
        f"TARGET = {target!r}",
        "",
        "",
        f"def test_{clause_id.replace('-', '_')}_reproduction() -> None:",
        f"    with open_store(TARGET, {', '.join(build)}) as store:",
    ]
    for step in steps[:-1]:
        lines.append(f"        {_statement(step)}")
    lines += [f"        {line}" for line in final]
    text = "\n".join(lines) + "\n"
    if "ChatMessage(" not in text.split("def test_", 1)[1]:
        text = text.replace("from pytest_chatstore.contract import ChatMessage\n", "")
    return text, "replay"


def _call(step: Step) -> str:
    args = [repr(a) for a in step.args]
    if step.op == "add" and "idx" in step.kwargs:
        args.append(repr(step.kwargs["idx"]))
    if step.use_async:
        args.append("use_async=True")
    return f"store.{method_name(step.op)}({', '.join(args)})"


def _statement(step: Step) -> str:
    if step.op == "clock":
        return f"store.clock.now = {step.args[0]!r}"
    return _call(step)


def _assertion(last: Step, record: ReplayRecord) -> list[str] | None:
    """The final check, or None when the last call's answer is not what the kit compared."""
    if record.refusal:
        return ["with pytest.raises((TypeError, ValueError)):", f"    {_call(last)}"]
    if record.expected is NO_RESULT:
        if last.op == "keys":  # the kit's own check of a listing: no key twice
            return [f"keys = {_call(last)}", "assert len(keys) == len(set(keys)), keys"]
        if last.raised is None and not record.unread:
            return None  # it returned a readable answer: what the kit rejected in it is not an equality to assert
        return [f"{_call(last)}  # {record.last_call}"]
    if last.result is NO_RESULT:
        return None
    if last.result == record.actual:
        return [f"assert {_call(last)} == {record.expected!r}"]
    if last.op == "keys" and sorted(last.result) == record.actual:
        return [f"assert sorted({_call(last)}) == {sorted(record.expected)!r}"]
    return None


def _rerun_body(clause_id: str, target: str) -> str:
    realtime = " (real time: it waits a few seconds)" if clause_id in ttl.SCENARIOS else ""
    return "\n".join(
        [
            "import subprocess",
            "import sys",
            "",
            f"TARGET = {target!r}",
            "",
            "",
            f"def test_{clause_id.replace('-', '_')}_reproduction() -> None:",
            f'    """Run {clause_id} against TARGET, derandomized{realtime}."""',
            "    command = [sys.executable, '-m', 'pytest', '-p', 'no:cacheprovider', '-q', '--chatstore-only']",
            "    command += [f'--chatstore={TARGET}', '--chatstore-hypothesis=ci']",
            f"    command += ['--chatstore-clauses={clause_id}']",
            "    result = subprocess.run(command, capture_output=True, text=True, check=False)",
            "    assert result.returncode == 0, result.stdout[-4000:]",
            "",
        ]
    )
