"""Shared set-up for the project's own tests."""

from __future__ import annotations

import importlib.util
import json
import multiprocessing.connection  # noqa: F401 - imported before pytester's in-process runs, see below
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import settings

if TYPE_CHECKING:
    from pytest_chatstore.servers.redis import RedisServer

# Our own property tests: derandomized in CI (``CI`` set), random locally.
settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


# PRC-001 hands a spawned worker a multiprocessing queue; pickling it needs the very
# ``multiprocessing.connection`` module object. Imported here, before any in-process pytester
# run, it stays in the sys.modules snapshot pytester restores after each run.

REDIS_USED = pytest.StashKey[set[str]]()
"""Which Redis the project's Redis tests ran against, for the summary (under xdist: each worker's, sent to the
controller with the worker's output)."""


def pytest_sessionfinish(session: pytest.Session) -> None:
    output = getattr(session.config, "workeroutput", None)  # an xdist worker's, sent to the controller
    if output is not None:
        used: set[str] = session.config.stash.get(REDIS_USED, set())
        output["redis_used"] = sorted(used)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """xdist's controller: a worker's Redis, kept for the summary."""
    used = getattr(node, "workeroutput", {}).get("redis_used", [])
    node.config.stash.setdefault(REDIS_USED, set()).update(used)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    if config.stash.get(REDIS_USED, None):  # each server once, whatever its port
        used = sorted({re.sub(r":\d+(?=[ )])", "", server) for server in config.stash[REDIS_USED]})
        terminalreporter.write_line(f"Redis for the project's Redis tests: {'; '.join(used)}")


REAL_REDIS_REQUIRED = bool(os.environ.get("CI"))
"""In CI the Redis tests run against a real redis-server: they fail rather than fall back to fakeredis."""


@pytest.fixture(scope="module")
def redis_server(pytestconfig: pytest.Config) -> Iterator[RedisServer]:
    """A server of our own, as a user would have one (real in CI); the summary says which."""
    from pytest_chatstore.servers.redis import provision

    found = provision("auto", require_real=REAL_REDIS_REQUIRED)
    pytestconfig.stash.setdefault(REDIS_USED, set()).add(found.description + ("" if found.real else " [FAKE]"))
    yield found
    found.close()


def require_module(name: str, why: str) -> None:
    """Skip unless ``name`` is installed, without importing it.

    ``pytest.importorskip`` would import it inside the test, and pytester's
    teardown then drops it from ``sys.modules``: numpy (under llama-index and
    fakeredis) cannot be imported a second time in one process.
    """
    if importlib.util.find_spec(name.partition(".")[0]) is None or importlib.util.find_spec(name) is None:
        pytest.skip(why)


def checked_with_no_glue(pytester: pytest.Pytester, report: Path, target: str) -> dict[str, Any]:
    """Run the whole suite, derandomized, against a framework's class named as the target (an Agents SDK
    session, an ADK service): no error of the kit's own, the verdict line under the class's name; the report's
    entry for it."""
    result = pytester.runpytest_subprocess(
        f"--chatstore={target}", "--chatstore-only", "--chatstore-hypothesis=ci", f"--chatstore-report={report}"
    )
    outcomes = result.parseoutcomes()
    assert "error" not in outcomes, result.stdout.str()[-3000:]
    assert "errors" not in outcomes, result.stdout.str()[-3000:]
    result.stdout.fnmatch_lines([f"{target.rpartition(':')[2]} (--chatstore): *"])
    (entry,) = json.loads(report.read_text())["targets"]
    found: dict[str, Any] = entry
    return found


KEPT = ("CHATSTORE_REDIS_IMAGE",)
"""Variables that describe this machine rather than choose a setting: the Docker tests' image."""

REQUIRE_DOCKER = os.environ.get("CHATSTORE_REQUIRE_DOCKER", "") not in ("", "0")
"""Set by CI once a Docker engine runs there: the Docker tests then fail instead of skipping."""


@pytest.fixture(autouse=True)
def _isolate_from_user_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """The kit reads CHATSTORE* variables; a developer's own must not leak into pytester runs."""
    for name in list(os.environ):
        if name.startswith("CHATSTORE") and name not in KEPT:
            monkeypatch.delenv(name)


UNRELATED_PLUGINS = ("langsmith_plugin",)
"""pytest plugins that our test dependencies install (LangSmith's, with langchain-core) and that our pytester runs
do not load: each would cost every run in a subprocess its import (LangSmith's: about 0.8 s a run)."""


@pytest.fixture
def pytester(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """pytest's ``pytester``, its runs (in this process or a subprocess) without :data:`UNRELATED_PLUGINS`: set
    after pytester has discarded the outer run's ``PYTEST_ADDOPTS``."""
    monkeypatch.setenv("PYTEST_ADDOPTS", " ".join(f"-p no:{plugin}" for plugin in UNRELATED_PLUGINS))
    return pytester
