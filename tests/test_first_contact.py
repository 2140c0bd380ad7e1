"""First contact: a wiring mistake is one clear usage error, not every clause's failure (issue "first contact")."""

from __future__ import annotations

import sys

import pytest

from pytest_chatstore.engine.targets import TargetError, parse_target

UNBUILDABLE = {
    "NeedsArg": "class NeedsArg:\n    def __init__(self, dsn):\n        self.dsn = dsn\n",
    "raising": "def raising():\n    raise RuntimeError('cannot connect to postgres://localhost:5432')\n",
    "RaisesInInit": "class RaisesInInit:\n    def __init__(self):\n        raise ValueError('bad config')\n",
    "SignalInInit": (
        "import signal\nfrom reference_impls.memory import InMemoryChatStore\n"
        "class SignalInInit(InMemoryChatStore):\n    def __init__(self):\n        super().__init__()\n"
        "        signal.signal(signal.SIGTERM, signal.SIG_DFL)\n"
    ),
}


@pytest.mark.parametrize(("name", "said"), [
    ("NeedsArg", "*the factory requires 'dsn', which the kit cannot give*"),
    ("raising", "*cannot build a store from wiring:raising: *raised RuntimeError: cannot connect*"),
    ("RaisesInInit", "*cannot build a store from wiring:RaisesInInit: *raised ValueError: bad config*"),
    ("SignalInInit", "*only works in main thread*(the kit builds and calls stores on a worker thread*install signal "
                     "handlers once, outside the store's constructor*"),
])  # fmt: skip
def test_a_target_that_cannot_be_built_is_a_usage_error(pytester: pytest.Pytester, name: str, said: str) -> None:
    pytester.makepyfile(wiring=UNBUILDABLE[name])
    result = pytester.runpytest_subprocess(
        f"--chatstore=wiring:{name}", "--chatstore-only", "--chatstore-hypothesis=ci"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert len(result.outlines) + len(result.errlines) <= 15, result.outlines
    (result.stdout if name != "NeedsArg" else result.stderr).fnmatch_lines([said])
    assert not list(pytester.path.rglob("chatstore-repro")), "no reproduction is written for a wiring mistake"
    assert not list(pytester.path.rglob("test_repro_*.py"))


def test_a_factory_taking_redis_url_and_namespace_gets_both(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        both="""
        from reference_impls.redis import RedisChatStore

        def make(redis_url, namespace):
            assert namespace.startswith("chatstore-"), namespace
            return RedisChatStore(redis_url, prefix=namespace + ":")
        """
    )
    result = pytester.runpytest("--chatstore=both:make", "--chatstore-only", "--chatstore-hypothesis=ci",
                                "--chatstore-clauses=core,keys,SHR-001")  # fmt: skip
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["make (--chatstore): CONFORMS to gate level full*"])


@pytest.mark.parametrize("problem", [["--chatstore-redis-url=redis://127.0.0.1:1/0"],
                                     ["--chatstore-redis=fakeredis", "--chatstore-require-real-redis"]])  # fmt: skip
def test_no_redis_server_is_a_usage_error(pytester: pytest.Pytester, problem: list[str]) -> None:
    result = pytester.runpytest("--chatstore=reference_impls.redis:RedisChatStore", "--chatstore-only", *problem)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stdout.fnmatch_lines(["*cannot build a store from reference_impls.redis:RedisChatStore: no Redis server*"])


def test_a_missing_extra_is_named(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(needs_langchain="import langchain_core\n\nclass Store: ...\n")
    monkeypatch.syspath_prepend(str(pytester.path))
    monkeypatch.setitem(sys.modules, "langchain_core", None)  # as if it were not installed
    with pytest.raises(TargetError, match=r"pip install 'pytest-chatstore\[langchain\]'"):
        parse_target("needs_langchain:Store", "--chatstore")


@pytest.mark.parametrize(("name", "mode"), [
    ("raising", []),  # built before the first clause
    ("raising", ["-n", "2"]),  # built by xdist's controller, which may never reach its session's end
    ("NeedsArg", []),  # refused while the settings are read, before the recorder exists
    ("NeedsArg", ["--chatstore-timeout=abc"]),  # another setting invalid too
])  # fmt: skip
def test_a_stale_passing_report_never_survives_a_usage_error(
    pytester: pytest.Pytester, name: str, mode: list[str]
) -> None:
    import json

    from pytest_chatstore.report.render import SCHEMA_PATH

    jsonschema = pytest.importorskip("jsonschema")

    pytester.makepyfile(wiring=UNBUILDABLE[name])
    (pytester.path / "report.json").write_text('{"gate": "pass"}')
    (pytester.path / "report.md").write_text("CONFORMS\n")
    result = pytester.runpytest_subprocess(
        f"--chatstore=wiring:{name}", "--chatstore-only", "--chatstore-report=report.json", *mode,
        "--chatstore-report=report.md",  # read after the invalid settings: still written
    )  # fmt: skip
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    report = json.loads((pytester.path / "report.json").read_text())
    jsonschema.validate(report, json.loads(SCHEMA_PATH.read_text()))
    assert (report["gate"], report["complete"], report["targets"]) == ("incomplete", False, [])
    said = report["stopped"].removeprefix("a usage error stopped the run before any clause ran: ")
    assert said != report["stopped"]
    assert f"pytest-chatstore: {said}" in result.stdout.str() + result.stderr.str()
    markdown = (pytester.path / "report.md").read_text()
    assert "CONFORMS" not in markdown
    assert "a usage error stopped the run" in markdown


@pytest.mark.parametrize("mode", [["--chatstore-isolate"], ["-n", "2"]])
def test_the_store_is_built_first_where_no_clause_runs_yet(pytester: pytest.Pytester, mode: list[str]) -> None:
    """Not in an isolated child, where a usage error would be charged to a clause; not on an xdist worker,
    whose exit is an INTERNALERROR of the controller."""
    pytester.makepyfile(wiring=UNBUILDABLE["raising"])
    result = pytester.runpytest_subprocess("--chatstore=wiring:raising", "--chatstore-only", *mode)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
    assert not list(pytester.path.rglob("test_repro_*.py"))
