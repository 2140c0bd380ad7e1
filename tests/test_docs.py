"""The docs as a user reads them: every option documented, and the example files run."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import textwrap
from pathlib import Path

import pytest

from pytest_chatstore.run.settings import SETTINGS, render_options
from pytest_chatstore.spec import statuses
from pytest_chatstore.spec.clauses import CLAUSES

ROOT = Path(__file__).parent.parent
EXAMPLES = ROOT / "docs" / "examples"
REFERENCE = (ROOT / "docs" / "reference.md").read_text()


def test_the_reference_options_table_is_generated_from_the_settings_table() -> None:
    start = REFERENCE.index("| option | ini key |")
    end = REFERENCE.index("<!-- end of generated options -->")
    assert REFERENCE[start:end] == render_options(), "regenerate it: python -m pytest_chatstore options"


def test_the_plugin_registers_every_setting_and_nothing_else(pytestconfig: pytest.Config) -> None:
    parser = getattr(pytestconfig, "_parser", None)  # the only way to list a group's options
    if parser is None:
        pytest.skip("this pytest keeps its parser elsewhere")
    group = parser.getgroup("chatstore")
    names = [name for option in group.options for name in option.names() if name.startswith("--")]
    assert names == [s.flag for s in SETTINGS]
    for setting in SETTINGS:
        assert pytestconfig.getini(setting.name) is not None


PAGES = ["README.md", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").rglob("*.md"))]


@pytest.mark.parametrize("page", PAGES)
def test_every_option_a_page_mentions_exists(page: str) -> None:
    flags = {s.flag for s in SETTINGS}
    mentioned = set(re.findall(r"--chatstore[a-z-]*", (ROOT / page).read_text(encoding="utf-8")))
    unknown = sorted(m.rstrip("-") for m in mentioned if m.rstrip("-") not in flags)
    assert not unknown, f"{page} mentions options the settings table lacks: {unknown}"


def test_the_reference_statuses_table_is_generated_from_the_status_table() -> None:
    start = REFERENCE.index("| status | fails the run |")
    end = REFERENCE.index("<!-- end of generated statuses -->")
    assert REFERENCE[start:end] == statuses.render(), "regenerate it: python -m pytest_chatstore statuses"


def test_the_conftest_example_registers_a_store(pytester: pytest.Pytester) -> None:
    pytester.makeconftest((EXAMPLES / "conftest_factory.py").read_text())
    result = pytester.runpytest("--chatstore-hypothesis=ci", "--chatstore-clauses=core")
    result.assert_outcomes(passed=15, deselected=len(CLAUSES) - 15)
    result.stdout.fnmatch_lines(["chatstore_factory (fixture): CONFORMS to gate level full*"])


def test_the_pyproject_example_gates_as_it_says(pytester: pytest.Pytester) -> None:
    (pytester.path / "pyproject.toml").write_text((EXAMPLES / "pyproject-gate.toml").read_text())
    backend = pytester.mkpydir("mybackend")
    (backend / "store.py").write_text(
        "from tests.broken_stores import ListsEmptiedKeys, NegativeDeleteHitsHead\n\n\n"
        "class MyChatStore(NegativeDeleteHitsHead, ListsEmptiedKeys):\n"
        '    """Breaks DEL-003 and KEY-002, as the example\'s expected failures say."""\n'
    )
    result = pytester.runpytest(
        "--chatstore-only", "--chatstore-hypothesis=ci", "--chatstore-clauses=DEL-003,KEY-002,CON-001"
    )
    result.assert_outcomes(passed=1, xfailed=2, deselected=len(CLAUSES) - 3)  # CON-001: an undeclared capability
    assert result.ret == pytest.ExitCode.OK
    report = json.loads((pytester.path / "chatstore-report.json").read_text())
    assert report["level"] == "must"
    assert report["spec"]["pinned"] == "0.2"
    assert "threads" in report["targets"][0]["capabilities"]["declared"]
    assert (pytester.path / "chatstore-report.md").is_file()


@pytest.mark.parametrize("workflow", ["github-workflow.yml", "gitlab-ci.yml"])
def test_the_ci_workflow_examples_run(pytester: pytest.Pytester, workflow: str) -> None:
    text = (EXAMPLES / workflow).read_text()
    (command,) = re.findall(r"(?:run: |- )(pytest --chatstore.*)$", text, flags=re.MULTILINE)
    args = shlex.split(command)[1:]
    result = pytester.runpytest(*args, "--chatstore-clauses=ORD-002")
    result.assert_outcomes(passed=1, deselected=len(CLAUSES) - 1)
    for produced in ("chatstore-report.json", "chatstore-report.md", "chatstore-junit.xml"):
        assert (pytester.path / produced).is_file(), produced
        assert produced in text


def test_the_github_summary_step_says_so_when_no_report_was_written(tmp_path: Path) -> None:
    """A run that stopped before writing its report (a bad --chatstore value) must not fail the summary step too."""
    text = (EXAMPLES / "github-workflow.yml").read_text()
    script = textwrap.dedent(text.split("- name: Summary", 1)[1].split("run: |", 1)[1].split("\n      - name:", 1)[0])
    summary = tmp_path / "summary.md"
    env = {**os.environ, "GITHUB_STEP_SUMMARY": str(summary)}
    done = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "No conformance report was written" in summary.read_text()
    (tmp_path / "chatstore-report.md").write_text("# the report\n")
    summary.unlink()
    subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, check=True)
    assert summary.read_text() == "# the report\n"


def test_snippets_in_the_docs_name_existing_files() -> None:
    for page in (ROOT / "docs").rglob("*.md"):
        for snippet in re.findall(r'--8<-- "([^"]+)"', page.read_text()):
            assert (ROOT / snippet).is_file(), f"{page.name} includes {snippet}, which does not exist"


def test_the_readme_shows_the_ecosystem_summary_as_published() -> None:
    """The README's table is docs/ecosystem.md's summary, copied when the matrix is rerun."""
    page = (ROOT / "docs" / "ecosystem.md").read_text().split("## Summary", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in page.splitlines() if line.startswith("| ")]
    readme = (ROOT / "README.md").read_text()
    missing = [row for row in rows if row not in readme]
    assert rows
    assert not missing, f"copy docs/ecosystem.md's summary into the README: {missing[:2]}"


def test_the_tutorials_store_gets_the_verdict_the_tutorial_shows(pytester: pytest.Pytester) -> None:
    """The tutorial's store, as its page writes it, run as its page says: the summary lines the page shows (those
    not elided with ``...``) are what the kit prints, root causes and blocked clauses included."""
    page = (ROOT / "docs" / "tutorial.md").read_text(encoding="utf-8")
    store = page.split("```python\n", 1)[1].split("```", 1)[0]
    shown = page.split("```\n============================ chatstore conformance", 1)[1].split("```", 1)[0]
    pytester.makepyfile(mystore=store)
    result = pytester.runpytest_subprocess(
        "--chatstore=mystore:MyStore", "--chatstore-only", "--chatstore-hypothesis=ci"
    )
    lines = [line for line in shown.splitlines()[1:] if line.strip() and line.strip() != "..."]
    lines = [line.replace(".pytest_cache/d/chatstore-repro/", "*chatstore-repro/") for line in lines]
    result.stdout.fnmatch_lines([glob_escape(line) for line in lines])


def glob_escape(line: str) -> str:
    """``line`` as an fnmatch pattern matching itself (``[`` and ``]`` are pattern syntax), ``*`` kept."""
    return re.sub(r"([\[\]?])", r"[\1]", line)


def test_the_contributors_page_names_only_files_and_names_that_exist() -> None:
    """docs/contributing.md's checklists must match the code: every path it names exists, and every
    ``module.name`` it names (a module of the package by its last part, or by its tier) has that name."""
    import importlib
    import pkgutil

    import pytest_chatstore

    root = Path(__file__).parent.parent
    text = (root / "docs" / "contributing.md").read_text(encoding="utf-8")
    for path in re.findall(r"`((?:pytest_chatstore|tests|benchmarks)/[\w/.]+)`", text):
        assert (root / path.split("::")[0]).exists(), f"docs/contributing.md names {path}, which does not exist"
    modules = {
        info.name.rsplit(".", 1)[-1]: info.name
        for info in pkgutil.walk_packages(pytest_chatstore.__path__, "pytest_chatstore.")
        if ".suite." not in info.name
    }
    named = re.findall(r"`(?:[a-z]+\.)?([a-z_]+)\.([A-Za-z_]+)`", text)
    for module, name in named:
        if module in modules and name != "py":
            found = importlib.import_module(modules[module])
            submodule = f"{found.__name__}.{name}"
            assert hasattr(found, name) or submodule in set(modules.values()), (
                f"docs/contributing.md names `{module}.{name}`; {found.__name__} has none"
            )
    assert len(named) > 10  # the pattern still finds the page's names
