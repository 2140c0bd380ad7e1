"""The plugin as a user meets it: targets, settings, collection, fixtures, guard rails, the summary."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from pytest_chatstore.spec.clauses import CLAUSES
from tests.conftest import require_module

REFERENCE = "reference_impls.memory:InMemoryChatStore"
ONE_CLAUSE = ["-k", "ORD_002", "-q", "--chatstore-hypothesis=ci"]


# -- targets and settings ------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no_colon_here", "*--chatstore 'no_colon_here': expected MODULE:ATTR*"),
        ("no_such_module_xyz:Store", "*--chatstore 'no_such_module_xyz:Store': cannot import 'no_such_module_xyz'*"),
        ("reference_impls.memory:Nope", "*has no attribute 'Nope'*"),
        ("reference_impls.memory:__doc__", "*is not a class or a callable*"),
    ],
)
def test_bad_target_is_a_usage_error(pytester: pytest.Pytester, spec: str, message: str) -> None:
    result = pytester.runpytest(f"--chatstore={spec}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: pytest-chatstore: {message}"])


def test_bad_target_from_env_names_the_variable(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHATSTORE", "broken")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*environment CHATSTORE 'broken': expected MODULE:ATTR*"])


def test_bad_target_from_ini_names_the_ini(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nchatstore = nowhere_xyz:Store\n")
    result = pytester.runpytest()
    result.stderr.fnmatch_lines(["*ini chatstore 'nowhere_xyz:Store': cannot import*"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--chatstore-timeout=soon"], "*chatstore-timeout from command line: 'soon' is not a number*"),
        (["--chatstore-timeout=-1"], "*chatstore-timeout from command line: must be positive*"),
        (["--chatstore-hypothesis=fast"], "*unknown profile 'fast'; choose from default, thorough, ci*"),
    ],
)
def test_bad_settings_are_usage_errors(pytester: pytest.Pytester, args: list[str], message: str) -> None:
    result = pytester.runpytest(f"--chatstore={REFERENCE}", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_target_from_ini(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml(f'[tool.pytest.ini_options]\nchatstore = ["{REFERENCE}"]\n')
    result = pytester.runpytest("--chatstore-only", *ONE_CLAUSE)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*InMemoryChatStore (ini chatstore): CONFORMS*"])


def test_command_line_beats_environment(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHATSTORE", "would_fail_to_import_xyz:Store")
    result = pytester.runpytest(f"--chatstore={REFERENCE}", "--chatstore-only", *ONE_CLAUSE)
    result.assert_outcomes(passed=1)


def test_target_from_environment(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHATSTORE", REFERENCE)
    result = pytester.runpytest("--chatstore-only", *ONE_CLAUSE)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*InMemoryChatStore (environment CHATSTORE): CONFORMS*"])


def test_several_targets_at_once(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest(
        f"--chatstore={REFERENCE}", "--chatstore=tests.broken_stores:NoneForUnknown", "--chatstore-only", *ONE_CLAUSE
    )
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*InMemoryChatStore (--chatstore): CONFORMS*",
            "*NoneForUnknown (--chatstore): DOES NOT CONFORM to gate level full (1 MUST, 0 SHOULD failing)*",
            "*FAILED ORD-002 [[]MUST[]]*",
        ]
    )


# -- collection ------------------------------------------------------------------


def test_suite_runs_alongside_the_projects_tests(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_mine="def test_mine():\n    pass\n")
    result = pytester.runpytest(f"--chatstore={REFERENCE}", *ONE_CLAUSE, "-k", "ORD_002 or mine")
    result.assert_outcomes(passed=2)


def test_only_mode_does_not_even_import_the_projects_tests(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_broken="this is not python\n")
    result = pytester.runpytest(f"--chatstore={REFERENCE}", "--chatstore-only", *ONE_CLAUSE)
    result.assert_outcomes(passed=1)


def test_without_a_target_nothing_is_added(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_mine="def test_mine():\n    pass\n")
    result = pytester.runpytest("-q")
    result.assert_outcomes(passed=1)
    assert "chatstore conformance" not in result.stdout.str()


def test_every_suite_test_checks_one_registered_clause(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest(f"--chatstore={REFERENCE}", "--chatstore-only", "--collect-only", "-q")
    lines = [line for line in result.stdout.lines if "::test_" in line]
    ids = sorted(line.split("::test_")[1][:7].replace("_", "-") for line in lines)
    assert ids == sorted(CLAUSES)


def test_clause_ids_reach_junit_xml(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest(f"--chatstore={REFERENCE}", "--chatstore-only", *ONE_CLAUSE, "--junitxml=out.xml")
    result.assert_outcomes(passed=1)
    xml = (pytester.path / "out.xml").read_text()
    assert '<property name="chatstore_clause" value="ORD-002" />' in xml


# -- registration as a fixture and factory forms ------------------------------


def test_chatstore_factory_fixture_in_root_conftest(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import pytest
        from reference_impls.memory import InMemoryChatStore

        @pytest.fixture
        def chatstore_factory():
            return InMemoryChatStore
        """
    )
    result = pytester.runpytest(*ONE_CLAUSE)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*chatstore_factory (fixture): CONFORMS*"])


def test_chatstore_factory_fixture_that_yields_with_teardown(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        **{
            "backend_tests/__init__.py": "",
            "backend_tests/conftest.py": """
                import pytest
                from reference_impls.memory import InMemoryChatStore

                @pytest.fixture
                def chatstore_factory():
                    built = []
                    def factory():
                        built.append(InMemoryChatStore())
                        return built[-1]
                    yield factory
                    print(f"torn down after building {len(built)} stores")
            """,
            "backend_tests/test_other.py": "def test_other():\n    pass\n",
        }
    )
    result = pytester.runpytest("-s", *ONE_CLAUSE, "-k", "ORD_002 or test_other")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*torn down after building * stores*"])
    assert "backend_tests/chatstore/test_core.py" in "\n".join(
        pytester.runpytest("--collect-only", "-q", "-k", "ORD_002").stdout.lines
    )


def test_factory_forms_and_injected_arguments(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        factories="""
        import contextlib
        from pathlib import Path
        from reference_impls.memory import InMemoryChatStore

        def note(line):
            with Path("factory.log").open("a") as log:
                print(line, file=log)

        def generator_factory(ttl=None, unrelated="kept"):
            note(f"built ttl={ttl} unrelated={unrelated}")
            yield InMemoryChatStore()
            note("torn down")

        @contextlib.contextmanager
        def managed():
            yield InMemoryChatStore()
            note("exited")

        def context_manager_factory():
            return managed()
        """
    )
    result = pytester.runpytest(
        "--chatstore=factories:generator_factory", "--chatstore=factories:context_manager_factory", *ONE_CLAUSE
    )
    result.assert_outcomes(passed=2)
    log = (pytester.path / "factory.log").read_text().splitlines()
    assert "built ttl=None unrelated=kept" in log  # ttl is passed only where a clause needs it
    assert log.count("torn down") == log.count("built ttl=None unrelated=kept")
    assert "exited" in log


# -- guard rails ---------------------------------------------------------------


def test_a_hanging_store_fails_its_clause_and_the_run_goes_on(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        hanging="""
        import threading
        from reference_impls.memory import InMemoryChatStore

        class HangsOnUnknownKeys(InMemoryChatStore):
            def delete_last_message(self, key):
                if not self.get_messages(key):
                    threading.Event().wait()  # blocks forever
                return super().delete_last_message(key)
        """
    )
    result = pytester.runpytest(
        "--chatstore=hanging:HangsOnUnknownKeys",
        "--chatstore-only",
        "--chatstore-timeout=0.3",
        *ONE_CLAUSE[:1],
        "DLL_001 or DLL_002",
        *ONE_CLAUSE[2:],
    )
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*DLL-002 MUST*", "*delete_last_message() did not return within 0.3 s*"])


def test_a_factory_that_raises_fails_with_a_clear_message(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(bad_factory="def make():\n    raise ConnectionError('database is down')\n")
    result = pytester.runpytest("--chatstore=bad_factory:make", "--chatstore-only", *ONE_CLAUSE)
    assert result.ret == pytest.ExitCode.USAGE_ERROR  # a setup problem, said once: no clause ran
    result.assert_outcomes()
    result.stdout.fnmatch_lines(["*the factory bad_factory:make raised ConnectionError: database is down*"])


def test_a_store_returning_raw_bytes_is_told_so(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        raw="""
        import json
        from reference_impls.memory import InMemoryChatStore

        class RawBytes(InMemoryChatStore):
            def get_messages(self, key):
                return [json.dumps(m.__dict__).encode() for m in super().get_messages(key)]
        """
    )
    result = pytester.runpytest("--chatstore=raw:RawBytes", "--chatstore-only", "-q", "-k", "SET_001")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*expected a message (role, content, additional_kwargs), got bytes: b'{*"])


def test_missing_capability_skips_with_its_name(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        minimal="""
        from reference_impls.memory import InMemoryChatStore

        class AppendOnly:
            def __init__(self):
                self._inner = InMemoryChatStore()
            def set_messages(self, key, messages):
                self._inner.set_messages(key, messages)
            def get_messages(self, key):
                return self._inner.get_messages(key)
            def add_message(self, key, message):
                self._inner.add_message(key, message)
        """
    )
    result = pytester.runpytest("--chatstore=minimal:AppendOnly", "--chatstore-only", "-q", "-rs", "-k", "INS_002")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*AppendOnly lacks capability insert (`add_message` accepts `idx`*"])


# -- the adapter ---------------------------------------------------------------


def test_llamaindex_store_works_with_no_glue(pytester: pytest.Pytester) -> None:
    require_module("llama_index.core", "the llama-index-core extra is not installed")
    # A subprocess: llama-index imports numpy, which cannot be imported twice in one process.
    result = pytester.runpytest_subprocess(
        "--chatstore=tests.llamaindex_stores:in_memory", "--chatstore-only", "-q", "--chatstore-hypothesis=ci"
    )
    # The wrapper takes neither ttl, redis_url, namespace nor proxied (nothing to share, no fault proxy), and
    # LlamaIndex's interface has no tail read.
    skipped = sum(
        bool({"ttl", "redis", "batch", "shared", "faults", "tail"} & set(clause.requires))
        for clause in CLAUSES.values()
    )
    result.assert_outcomes(passed=len(CLAUSES) - skipped, skipped=skipped)


# -- light import --------------------------------------------------------------


def test_loading_the_plugin_imports_no_optional_dependency() -> None:
    code = textwrap.dedent(
        """
        import sys
        import pytest_chatstore.plugin
        heavy = [m for m in ("redis", "testcontainers", "llama_index", "langchain_core") if m in sys.modules]
        assert not heavy, heavy
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True)


HEAVY = (
    "hypothesis",
    "asyncio",
    "pytest_chatstore.harness.store",
    "pytest_chatstore.run.outcome",
    "pytest_chatstore.engine.driver",
)
"""What an installed but unused plugin must not load: pytest loads the plugin in every run of every project."""


def test_loading_the_plugin_defers_the_kit_itself() -> None:
    code = f"import sys, pytest, pytest_chatstore.plugin\nprint([m for m in {HEAVY!r} if m in sys.modules])"
    done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert done.stdout.strip() == "[]"


def test_a_run_that_does_not_use_the_kit_loads_none_of_it(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_mine=f"""
        import sys

        def test_mine():
            pass

        def test_nothing_of_the_kit_loaded():
            loaded = [m for m in {HEAVY[2:]!r} if m in sys.modules]
            assert not loaded, loaded
        """
    )
    result = pytester.runpytest_subprocess("-q", "-p", "no:randomly")
    result.assert_outcomes(passed=2)


def test_a_factory_fixture_under_xdist_gets_the_verdict(pytester: pytest.Pytester) -> None:
    # xdist's controller collects nothing: the first suite result a worker sends brings the recorder.
    pytester.makeconftest(
        """
        import pytest
        from reference_impls.memory import InMemoryChatStore

        @pytest.fixture
        def chatstore_factory():
            return InMemoryChatStore
        """
    )
    result = pytester.runpytest(*ONE_CLAUSE, "-n", "2", "-p", "xdist")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*chatstore_factory (fixture): CONFORMS*"])
