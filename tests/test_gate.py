"""The CI gate: expected failures, capabilities, levels, selection, spec pinning, refusals, reports, reproductions."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pytest_chatstore.report import gate
from pytest_chatstore.report.render import SCHEMA_PATH
from pytest_chatstore.spec import clauses, statuses
from pytest_chatstore.spec.clauses import CLAUSES, SPEC_VERSION, SPEC_VERSIONS
from pytest_chatstore.spec.profiles import hypothesis_settings
from tests.conftest import require_module

REFERENCE = "--chatstore=reference_impls.memory:InMemoryChatStore"
NONE_FOR_UNKNOWN = "--chatstore=tests.broken_stores:NoneForUnknown"  # breaks ORD-002 (MUST)
LISTS_EMPTIED = "--chatstore=tests.broken_stores:ListsEmptiedKeys"  # breaks KEY-002 (SHOULD)
CI = ["--chatstore-only", "--chatstore-hypothesis=ci", "-q"]


def pyproject(pytester: pytest.Pytester, body: str) -> None:
    pytester.makepyprojecttoml(textwrap.dedent(body))


# -- expected failures ---------------------------------------------------------


def test_an_expected_failure_runs_and_does_not_fail_the_run(pytester: pytest.Pytester) -> None:
    pyproject(
        pytester,
        """
        [tool.chatstore.expected-failures]
        "ORD-002" = { reason = "answers None for unknown keys", link = "https://example.org/issues/7" }
        """,
    )
    result = pytester.runpytest(NONE_FOR_UNKNOWN, *CI, "--chatstore-clauses=ORD-002")
    result.assert_outcomes(xfailed=1, deselected=len(CLAUSES) - 1)
    result.stdout.fnmatch_lines(
        [
            "NoneForUnknown (--chatstore): CONFORMS to gate level full*",
            "  XFAIL ORD-002 [[]MUST[]] *",
            "      answers None for unknown keys (https://example.org/issues/7) [[]ORD-002 in pyproject.toml*",
        ]
    )


def test_a_strict_unexpected_pass_fails_the_run_and_says_to_delete_the_entry(pytester: pytest.Pytester) -> None:
    pyproject(
        pytester,
        """
        [tool.chatstore.expected-failures]
        "ORD-00*" = "we thought these were broken"
        """,
    )
    result = pytester.runpytest(REFERENCE, *CI, "--chatstore-clauses=ORD-001,ORD-002")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    # ORD-001 checks its small scope exhaustively: strict. ORD-002's check is a search: not reproduced, no gate.
    result.assert_outcomes(failed=1, passed=1, deselected=len(CLAUSES) - 2)
    result.stdout.fnmatch_lines(
        [
            "*[[]XPASS(strict)[]] [[]ORD-001[]] ORD-001 is listed as an expected failure (we thought these were broken)"
            " by the entry 'ORD-00*' in pyproject.toml [[]tool.chatstore[]], but it passes against InMemoryChatStore:"
            " delete the entry or narrow its pattern",
            "*DOES NOT CONFORM to gate level full (1 MUST, 0 SHOULD failing)*",
            "*NOT REPRODUCED ORD-002*",
            "*did not meet it (32 examples, * calls); its check is a search, so the entry stays*",
        ]
    )


def test_an_expected_failure_can_be_limited_to_some_targets(pytester: pytest.Pytester) -> None:
    pyproject(
        pytester,
        """
        [tool.chatstore.expected-failures]
        "ORD-002" = { reason = "known", targets = ["NoneFor*"] }
        """,
    )
    result = pytester.runpytest(NONE_FOR_UNKNOWN, REFERENCE, *CI, "--chatstore-clauses=ORD-002")
    result.assert_outcomes(passed=1, xfailed=1, deselected=2 * (len(CLAUSES) - 1))


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            '[tool.chatstore.expected-failures]\n"ORD-999" = "typo"',
            "*expected failure from pyproject.toml*'ORD-999' names no clause*",
        ),
        ('[tool.chatstore.expected-failures]\n"ORD-002" = {}', "*'ORD-002' needs a reason*"),
        ('[tool.chatstore.expected-failures]\n"ORD-002" = {reason = "x", ticket = 1}', "*unknown key(s) ticket*"),
        ("[tool.chatstore]\nexpected_failures = 1", "*unknown key(s) expected_failures*"),
        ("[tool.chatstore.capabilities]\nthread_safety = false", "*capability 'thread_safety' * is unknown*"),
        ("[tool.chatstore.capabilities]\nthreads = 'no'", "*declare it true or false*"),
    ],
)
def test_a_bad_table_is_a_usage_error_naming_the_entry(pytester: pytest.Pytester, table: str, message: str) -> None:
    pytester.makepyprojecttoml(table)
    result = pytester.runpytest(REFERENCE, *CI)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: pytest-chatstore: {message}"])


def test_a_config_file_replaces_the_pyproject_table(pytester: pytest.Pytester) -> None:
    pytester.makefile(".toml", gate='[expected-failures]\n"ORD-002" = "from the file"\n')
    result = pytester.runpytest(NONE_FOR_UNKNOWN, *CI, "--chatstore-clauses=ORD-002", "--chatstore-config=gate.toml")
    result.assert_outcomes(xfailed=1, deselected=len(CLAUSES) - 1)
    result.stdout.fnmatch_lines(["*from the file [[]ORD-002 in gate.toml[]]*"])


def test_an_expected_failure_on_a_property_clause_is_derandomized_and_does_not_shrink() -> None:
    settled = hypothesis_settings("default", "property", settled=True)
    assert settled.derandomize
    assert settled.database is None
    assert "shrink" not in {p.name for p in settled.phases}


def test_an_expected_failure_gives_the_same_verdict_run_after_run(pytester: pytest.Pytester) -> None:
    """Under the random profile: the entry's clause runs derandomized, so the outcome cannot flip."""
    pyproject(pytester, '[tool.chatstore.expected-failures]\n"MDL-001" = "lazy head delete"\n')
    args = ["--chatstore=tests.broken_stores:LazyHeadDelete", "--chatstore-only", "--chatstore-hypothesis=default"]
    runs = [pytester.runpytest_subprocess(*args, "--chatstore-clauses=MDL-001") for _ in "ab"]  # fresh processes
    outcomes = {run.parseoutcomes().get("xfailed") for run in runs}
    assert outcomes == {1}


# -- capabilities ----------------------------------------------------------------


def test_a_missing_capability_skips_with_a_reason_naming_it(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        stores="""
        from reference_impls.memory import InMemoryChatStore

        class NoInsert(InMemoryChatStore):
            def add_message(self, key, message):
                super().add_message(key, message)
        """
    )
    result = pytester.runpytest("--chatstore=stores:NoInsert", *CI, "--chatstore-clauses=INS-002", "-rs")
    result.assert_outcomes(skipped=1, deselected=len(CLAUSES) - 1)
    result.stdout.fnmatch_lines(["SKIPPED*NoInsert lacks capability insert (`add_message` accepts `idx`*"])


def test_a_declared_absent_capability_that_fails_is_skipped_naming_the_declaration(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest(
        "--chatstore=tests.broken_stores:UnlockedAppend", *CI, "--chatstore-clauses=CON-001",
        "--chatstore-capabilities=-threads", "-rs",
    )  # fmt: skip
    result.assert_outcomes(skipped=1, deselected=len(CLAUSES) - 1)
    result.stdout.fnmatch_lines(["SKIPPED*[[]CON-001[]] threads declared absent (command line)*"])
    assert result.ret == pytest.ExitCode.OK


def test_a_declared_absent_capability_that_works_is_reported_as_undeclared(pytester: pytest.Pytester) -> None:
    pyproject(pytester, "[tool.chatstore.capabilities]\nthreads = false\ninsert = false\n")
    result = pytester.runpytest(REFERENCE, *CI, "--chatstore-clauses=CON-001,INS-002", "--chatstore-report=r.json")
    result.assert_outcomes(passed=2, deselected=len(CLAUSES) - 2)
    result.stdout.fnmatch_lines(
        [
            "  UNDECLARED CAPABILITY insert: declared absent (pyproject.toml [[]tool.chatstore[]] capabilities), "
            "but INS-002 pass; delete the declaration",
            "  UNDECLARED CAPABILITY threads: *CON-001 pass*",
        ]
    )
    report = json.loads((pytester.path / "r.json").read_text())
    capabilities = report["targets"][0]["capabilities"]
    assert capabilities["undeclared"] == ["insert", "threads"]
    assert "insert" not in capabilities["effective"]
    assert "insert" in capabilities["detected"]


def test_a_store_declares_its_capabilities_by_attribute_or_fixture(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        stores="""
        from tests.broken_stores import UnlockedAppend

        class Declared(UnlockedAppend):
            chatstore_capabilities = {"threads": False}
        """
    )
    result = pytester.runpytest("--chatstore=stores:Declared", *CI, "--chatstore-clauses=CON-001", "-rs")
    result.stdout.fnmatch_lines(["SKIPPED*threads declared absent (Declared.chatstore_capabilities)*"])
    pytester.makeconftest(
        """
        import pytest
        from tests.broken_stores import UnlockedAppend

        @pytest.fixture
        def chatstore_factory():
            return UnlockedAppend

        @pytest.fixture
        def chatstore_capabilities():
            return {"threads": False}
        """
    )
    result = pytester.runpytest("--chatstore-hypothesis=ci", "-k", "CON_001", "-rs")
    result.stdout.fnmatch_lines(["SKIPPED*threads declared absent (the chatstore_capabilities fixture)*"])


# -- levels, selection, spec versions ------------------------------------------------


def test_the_level_decides_which_failures_fail_the_run(pytester: pytest.Pytester) -> None:
    args = [LISTS_EMPTIED, *CI, "--chatstore-clauses=keys"]
    full = pytester.runpytest(*args)
    assert full.ret == pytest.ExitCode.TESTS_FAILED
    full.stdout.fnmatch_lines(
        ["*DOES NOT CONFORM to gate level full (0 MUST, 1 SHOULD failing); conforms to level must*"]
    )
    must = pytester.runpytest(*args, "--chatstore-level=must")
    assert must.ret == pytest.ExitCode.OK
    must.stdout.fnmatch_lines(
        [
            "ListsEmptiedKeys (--chatstore): CONFORMS to gate level must*",
            "  ADVISORY KEY-002 [[]SHOULD[]]*",
            "      SHOULD clause of group keys, outside conformance level 'must'",
        ]
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--chatstore-level=gold"], "*invalid choice: 'gold'*"),
        (["--chatstore-clauses=XYZ-001"], "*chatstore-clauses from command line: 'XYZ-001' names no clause*"),
        (["--chatstore-clauses=-XYZ-*"], "*chatstore-clauses from command line: '-XYZ-[*]' names no clause*"),
        (["--chatstore-budget=0"], "*chatstore-budget from command line: must be positive, got '0'*"),
        (["--chatstore-budget=soon"], "*chatstore-budget from command line: 'soon' is not a number of seconds*"),
        (
            ["--chatstore-spec=9.9"],
            "*chatstore-spec from command line: * knows versions 0.1, 0.2*(upgrade pytest-chatstore)*",
        ),
        (["--chatstore-capabilities=-teleport"], "*capability 'teleport' from command line is unknown*"),
        (["--chatstore-report=out.xml"], "*chatstore-report from command line: * must end in .json or .md*"),
        (["--chatstore-reproduce=ORD-002"], "*chatstore-reproduce from command line: 'ORD-002' is not CLAUSE-ID:BLOB*"),
    ],
)
def test_bad_gate_settings_are_usage_errors(pytester: pytest.Pytester, args: list[str], message: str) -> None:
    result = pytester.runpytest(REFERENCE, *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_patterns_with_a_minus_leave_clauses_out() -> None:
    keep_all_but = gate.Policy(clauses=("-FID-004", "-CON-*"))
    assert not keep_all_but.selected("FID-004")
    assert not keep_all_but.selected("CON-003")
    assert keep_all_but.selected("FID-001")
    assert keep_all_but.selected("MDL-001")
    ttl_but_one = gate.Policy(clauses=("ttl", "-TTL-008"))
    assert [c for c in CLAUSES if ttl_but_one.selected(c)] == [f"TTL-00{i}" for i in range(1, 8)]
    assert [c for c in CLAUSES if gate.Policy(clauses=("slow",)).selected(c)] == sorted(
        clauses.SLOW, key=list(CLAUSES).index
    )


def test_the_slow_clauses_carry_a_marker_to_deselect(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest(REFERENCE, *CI, "--co", "-m", "chatstore_slow")
    assert sorted(line.split("::test_")[1][:7].replace("_", "-") for line in result.outlines if "::test_" in line) == (
        sorted(clauses.SLOW)
    )


def test_the_level_and_selection_come_from_ini_too(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nchatstore_level = must\nchatstore_clauses = KEY-002\n")
    result = pytester.runpytest(LISTS_EMPTIED, *CI)
    result.assert_outcomes(xfailed=1, deselected=len(CLAUSES) - 1)
    result.stdout.fnmatch_lines(
        ["subset: --chatstore-clauses KEY-002", f"*[[]partial run: 1 of {len(CLAUSES)} clauses[]]"]
    )


def test_a_run_whose_every_selected_clause_was_skipped_says_nothing_was_verified(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest(REFERENCE, *CI, "--chatstore-clauses=SHR-001")  # the in-memory store shares nothing
    result.assert_outcomes(skipped=1, deselected=len(CLAUSES) - 1)
    result.stdout.fnmatch_lines(["*NOTHING VERIFIED: each of the 1 selected clause(s) was skipped*"])
    assert "CONFORMS" not in result.stdout.str()
    one_ran = pytester.runpytest(REFERENCE, *CI, "--chatstore-clauses=SHR-001,ORD-002")
    one_ran.stdout.fnmatch_lines(["*CONFORMS to gate level full*"])


def test_an_unpinned_run_gates_on_every_clause_and_a_pin_leaves_newer_ones_reported_but_not_gating(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ORD-002 is made "new in the current spec" for this test, in-process."""
    monkeypatch.setitem(CLAUSES, "ORD-002", dataclasses.replace(CLAUSES["ORD-002"], since=SPEC_VERSION))
    args = [NONE_FOR_UNKNOWN, *CI, "--chatstore-clauses=ORD-002"]
    unpinned = pytester.runpytest(*args)
    assert unpinned.ret == pytest.ExitCode.TESTS_FAILED
    assert "CONFORMS to" not in unpinned.stdout.str().replace("DOES NOT CONFORM", "")
    pinned_here = pytester.runpytest(*args, f"--chatstore-spec={SPEC_VERSION}")
    assert pinned_here.ret == pytest.ExitCode.TESTS_FAILED
    older = pytester.runpytest(*args, f"--chatstore-spec={SPEC_VERSIONS[0]}")
    assert older.ret == pytest.ExitCode.OK
    older.stdout.fnmatch_lines(
        [
            f"*DOES NOT CONFORM to spec {SPEC_VERSION} (1 clause(s) newer than the pinned spec {SPEC_VERSIONS[0]} "
            f"failing: ORD-002); conforms to the pinned spec {SPEC_VERSIONS[0]} at gate level full, so the gate*",
            "*ADVISORY ORD-002*",
            f"*new in spec {SPEC_VERSION}, newer than the pinned spec {SPEC_VERSIONS[0]}: reported, not gating",
        ]
    )


def test_a_clause_gates_unless_it_is_newer_than_the_pin() -> None:
    old = dataclasses.replace(CLAUSES["ORD-001"], since=SPEC_VERSIONS[0])
    new = dataclasses.replace(CLAUSES["ORD-001"], since=SPEC_VERSION)
    assert not clauses.is_newer_than_pin(old, None)
    assert not clauses.is_newer_than_pin(new, None)
    assert not clauses.is_newer_than_pin(new, SPEC_VERSION)
    assert clauses.is_newer_than_pin(new, SPEC_VERSIONS[0])


def test_every_status_is_in_the_report_schema() -> None:
    schema = json.loads(SCHEMA_PATH.read_text())
    assert schema["$defs"]["clause"]["properties"]["status"]["enum"] == list(statuses.STATUSES)


# -- refusals -----------------------------------------------------------------------


def test_a_suite_test_removed_by_a_conftest_is_refused(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        def pytest_collection_modifyitems(items):
            items[:] = [i for i in items if "ORD_002" not in i.nodeid]
        """
    )
    result = pytester.runpytest(REFERENCE, *CI)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*pytest-chatstore refuses this run: 1 suite test(s) were removed from the run: *test_ORD_002*"]
    )


def test_a_suite_test_skipped_or_xfailed_by_a_conftest_is_refused(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import pytest

        def pytest_collection_modifyitems(items):
            for item in items:
                if "ORD_002" in item.nodeid:
                    item.add_marker(pytest.mark.skip(reason="too strict for us"))
                if "ORD_001" in item.nodeid:
                    item.add_marker(pytest.mark.xfail(reason="meh"))
        """
    )
    result = pytester.runpytest(NONE_FOR_UNKNOWN, *CI, "--chatstore-clauses=ORD-001,ORD-002")
    result.assert_outcomes(failed=1, errors=1, deselected=len(CLAUSES) - 2)  # a skip mark acts in setup
    result.stdout.fnmatch_lines(["*[[]REFUSED[]] [[]ORD-001[]] a suite test was marked xfail by something other*(meh)"])
    result.stdout.fnmatch_lines(
        ["*[[]REFUSED[]] [[]ORD-002[]] a suite test was skipped by something*(too strict for us)"]
    )
    result.stdout.fnmatch_lines(["*DOES NOT CONFORM to gate level full (0 MUST, 0 SHOULD failing; 2 not verified)*"])


def test_an_overridden_chatstore_fixture_is_refused(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture
        def chatstore():
            class Always:
                def __getattr__(self, name):
                    return lambda *a, **k: (lambda f: f) if name == "settings" else None
            return Always()
        """
    )
    result = pytester.runpytest(NONE_FOR_UNKNOWN, *CI, "--chatstore-clauses=FRE-001")
    result.assert_outcomes(failed=1, deselected=len(CLAUSES) - 1)
    result.stdout.fnmatch_lines(["*[[]REFUSED[]] [[]FRE-001[]] the kit's `chatstore` fixture was overridden*"])


def test_deselecting_with_k_is_a_partial_run_and_says_so(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest(REFERENCE, *CI, "-k", "ORD_002", "--chatstore-report=r.json")
    result.assert_outcomes(passed=1, deselected=len(CLAUSES) - 1)
    result.stdout.fnmatch_lines(
        [f"PARTIAL RUN: {len(CLAUSES) - 1} clause(s) deselected by -k, -m or --deselect; this is no*"]
    )
    assert json.loads((pytester.path / "r.json").read_text())["complete"] is False


# -- reports ---------------------------------------------------------------------------


def test_the_json_report_follows_the_published_schema(pytester: pytest.Pytester) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    pyproject(
        pytester,
        '[tool.chatstore.expected-failures]\n"KEY-002" = "known"\n[tool.chatstore.capabilities]\nthreads = false\n',
    )
    result = pytester.runpytest(
        NONE_FOR_UNKNOWN, LISTS_EMPTIED, *CI, "--chatstore-clauses=core,keys,CON-001",
        "--chatstore-report=out/report.json", "--chatstore-report=out/report.md", "--junitxml=out/junit.xml",
    )  # fmt: skip
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    report = json.loads((pytester.path / "out" / "report.json").read_text())
    jsonschema.validate(report, json.loads(SCHEMA_PATH.read_text()))
    by_name = {t["name"]: t for t in report["targets"]}
    assert report["gate"] == "fail"
    assert report["spec"]["implemented"] == SPEC_VERSION
    assert by_name["ListsEmptiedKeys"]["gate"] == "pass"
    statuses = {c["id"]: c for c in by_name["NoneForUnknown"]["clauses"]}
    assert statuses["ORD-002"]["status"] == "failed"
    assert "what happened" in statuses["ORD-002"]["failure"]
    assert Path(statuses["ORD-002"]["reproduction"]).is_file()
    assert {c["id"]: c["status"] for c in by_name["ListsEmptiedKeys"]["clauses"]}["KEY-002"] == "expected-failure"
    assert report["environment"]["packages"]["hypothesis"]
    markdown = (pytester.path / "out" / "report.md").read_text()
    assert "### `tests.broken_stores:NoneForUnknown`: **fails the gate**" in markdown
    assert "| ORD-002 | MUST | failed |" in markdown
    junit = (pytester.path / "out" / "junit.xml").read_text()
    assert '<property name="chatstore_clause" value="ORD-002" />' in junit
    assert '<property name="chatstore_level" value="MUST" />' in junit
    assert '<property name="chatstore_status" value="failed" />' in junit
    assert '<property name="chatstore_status" value="expected-failure" />' in junit


def test_the_report_names_the_redis_server_used(pytester: pytest.Pytester) -> None:
    pytest.importorskip("redis", reason="the redis extra is not installed")
    result = pytester.runpytest(
        "--chatstore=reference_impls.redis:RedisChatStore", *CI, "--chatstore-clauses=ORD-002",
        "--chatstore-report=r.json",
    )  # fmt: skip
    result.assert_outcomes(passed=1, deselected=len(CLAUSES) - 1)
    (redis,) = json.loads((pytester.path / "r.json").read_text())["redis"]
    assert redis.startswith(("redis-server", "fakeredis", "a ", "your server"))  # a container: "a IMAGE container"


def test_the_report_names_the_package_a_factory_target_builds(pytester: pytest.Pytester) -> None:
    """A factory in a project's own tests names the backend's distribution, not the project's (or none)."""
    require_module("llama_index.core", "llama-index-core is not installed")
    pytester.makepyfile(
        stores="""
        from llama_index.core.storage.chat_store import SimpleChatStore

        def make():
            return SimpleChatStore()
        """
    )
    pytester.runpytest("--chatstore=stores:make", *CI, "--chatstore-clauses=ORD-002", "--chatstore-report=r.json")
    report = json.loads((pytester.path / "r.json").read_text())
    pytest.importorskip("jsonschema").validate(report, json.loads(SCHEMA_PATH.read_text()))
    (target,) = report["targets"]
    assert target["spec"] == "stores:make"
    assert target["store_class"].endswith(":SimpleChatStore")
    assert target["package"]["name"] == "llama-index-core"


def test_a_hand_written_adapter_names_the_backend_it_certifies(pytester: pytest.Pytester) -> None:
    """An adapter of the project's own (here over pytest's own Stash, standing for a backend) would name no
    distribution; its ``chatstore_backend`` attribute names the backend class, and so its distribution."""
    pytester.makepyfile(
        adapter="""
        from _pytest.stash import Stash
        from reference_impls.memory import InMemoryChatStore

        class StashStore(InMemoryChatStore):
            chatstore_backend = Stash
        """
    )
    args = ["--chatstore=adapter:StashStore", *CI, "--chatstore-clauses=ORD-002", "--chatstore-report=r.json"]
    pytester.runpytest(*args)
    (target,) = json.loads((pytester.path / "r.json").read_text())["targets"]
    assert target["store_class"] == "_pytest.stash:Stash"
    assert target["package"] == {"name": "pytest", "version": pytest.__version__}


# -- reproductions ------------------------------------------------------------------


def test_a_reproduction_fails_against_the_broken_store_and_passes_against_the_reference(
    pytester: pytest.Pytester,
) -> None:
    result = pytester.runpytest(
        "--chatstore=tests.broken_stores:DeleteReturnsJson", *CI, "--chatstore-clauses=DEL-001",
        "--chatstore-repro-dir=repro",
    )  # fmt: skip
    result.assert_outcomes(failed=1, deselected=len(CLAUSES) - 1)
    (path,) = (pytester.path / "repro").glob("test_repro_DEL_001_*.py")
    result.stdout.fnmatch_lines(["*reproduction: *test_repro_DEL_001_DeleteReturnsJson.py"])
    text = path.read_text()
    # Found by the bounded-exhaustive phase: the shortest sequence, replayed call by call (no Hypothesis blob).
    assert "store.delete_message('a', 0)" in text
    replay = pytester.runpytest(str(path), "-p", "no:chatstore-recorder")
    replay.assert_outcomes(failed=1)
    path.write_text(text.replace("tests.broken_stores:DeleteReturnsJson", "reference_impls.memory:InMemoryChatStore"))
    pytester.runpytest(str(path)).assert_outcomes(passed=1)


def test_a_reproduction_is_removed_once_its_clause_holds(pytester: pytest.Pytester) -> None:
    """The store fixed (same class name, its bug gone): the next run's passing clause removes the old file."""
    args = ["--chatstore-clauses=DEL-001", "--chatstore-repro-dir=repro", *CI]
    pytester.runpytest("--chatstore=tests.broken_stores:DeleteReturnsJson", *args)
    (path,) = (pytester.path / "repro").glob("test_repro_DEL_001_*.py")
    pytester.makepyfile(fixed="from reference_impls.memory import InMemoryChatStore as DeleteReturnsJson\n")
    pytester.runpytest("--chatstore=fixed:DeleteReturnsJson", *args).assert_outcomes(
        passed=1, deselected=len(CLAUSES) - 1
    )
    assert not path.exists()


def test_a_hypothesis_blob_replays_the_failing_example(pytester: pytest.Pytester) -> None:
    first = pytester.runpytest(NONE_FOR_UNKNOWN, *CI, "--chatstore-clauses=ORD-002", "--chatstore-repro-dir=repro")
    first.assert_outcomes(failed=1, deselected=len(CLAUSES) - 1)
    (path,) = (pytester.path / "repro").glob("*.py")
    blob = next(w for w in path.read_text().split() if w.startswith("--chatstore-reproduce="))
    # Hypothesis's advice (a decorator on "your test function") is rewritten into the kit's option.
    first.stdout.fnmatch_lines([f"*To replay exactly this example, rerun with {blob} *"])
    assert "as a decorator on your test function" not in first.stdout.str()
    again = pytester.runpytest(NONE_FOR_UNKNOWN, *CI, "--chatstore-clauses=ORD-002", blob)
    again.assert_outcomes(failed=1, deselected=len(CLAUSES) - 1)
    fixed = pytester.runpytest(REFERENCE, *CI, "--chatstore-clauses=ORD-002", blob)
    fixed.assert_outcomes(failed=1, deselected=len(CLAUSES) - 1)  # the blob ran: against a fixed store it
    fixed.stdout.fnmatch_lines(["*DidNotReproduce*"])  # does not reproduce, which Hypothesis reports


def test_a_badge_is_made_from_the_report(pytester: pytest.Pytester) -> None:
    pytester.runpytest(REFERENCE, *CI, "--chatstore-clauses=core", "--chatstore-report=r.json")
    done = subprocess.run(
        [sys.executable, "-m", "pytest_chatstore", "badge", str(pytester.path / "r.json")],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    badge = json.loads(done.stdout)
    assert badge == {
        "schemaVersion": 1,
        "label": "chatstore",
        "message": f"conforms to full (spec {SPEC_VERSION})",
        "color": "brightgreen",
    }
    pytester.runpytest(LISTS_EMPTIED, *CI, "--chatstore-clauses=keys", "--chatstore-report=f.json")
    failing = subprocess.run(
        [sys.executable, "-m", "pytest_chatstore", "badge", str(pytester.path / "f.json")],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert json.loads(failing.stdout)["message"] == f"fails full (spec {SPEC_VERSION}); conforms to must"
    assert json.loads(failing.stdout)["color"] == "red"
    missing = subprocess.run(
        [sys.executable, "-m", "pytest_chatstore", "badge", "nope.json"], capture_output=True, text=True
    )
    assert missing.returncode == 2
    assert "cannot read nope.json" in missing.stderr
