"""The report (:mod:`pytest_chatstore.report.render`), directly: verdicts, the summary, the JSON and Markdown files."""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path

import pytest

from pytest_chatstore.report.gate import Policy
from pytest_chatstore.report.render import SCHEMA_PATH, summary_lines, to_json, to_markdown, write
from pytest_chatstore.report.verdict import ClauseResult, Results
from pytest_chatstore.spec.clauses import CLAUSES
from tests.conftest import require_module


def result(clause_id: str, status: str, target: str = "Store", **extra: object) -> ClauseResult:
    data: dict[str, object] = {"target": target, "spec": f"pkg:{target}", "source": "--chatstore"}
    return ClauseResult.from_dict({**data, "clause_id": clause_id, "status": status, **extra})


def full_run(recorder: Results, failing: dict[str, str], target: str = "Store") -> None:
    for clause_id in CLAUSES:
        recorder.add(result(clause_id, failing.get(clause_id, "passed"), target))


def test_a_clean_full_run_conforms_and_passes_the_gate() -> None:
    recorder = Results(Policy())
    full_run(recorder, {})
    lines = summary_lines(recorder)
    assert lines[1] == "Store (--chatstore): CONFORMS to gate level full"
    report = to_json(recorder)
    assert report["gate"] == "pass"
    assert report["complete"] is True
    assert report["targets"][0]["level_reached"] == "full"


def test_failures_count_by_level_and_name_the_level_reached() -> None:
    recorder = Results(Policy())
    full_run(recorder, {"DEL-004": "failed", "BAD-001": "failed"})  # two SHOULDs
    verdict = summary_lines(recorder)[1]
    assert "DOES NOT CONFORM to gate level full (0 MUST, 2 SHOULD failing); conforms to level must" in verdict
    assert any(line.startswith("  FAILED DEL-004 [SHOULD]") for line in summary_lines(recorder))
    assert to_json(recorder)["gate"] == "fail"


def test_advisory_and_expected_failures_do_not_fail_the_gate() -> None:
    recorder = Results(Policy(level="must"))
    full_run(recorder, {"DEL-004": "advisory-failure", "ORD-001": "expected-failure"})
    assert to_json(recorder)["gate"] == "pass"
    assert to_json(recorder)["targets"][0]["level_reached"] is None  # ORD-001 is not shown to hold


def test_a_subset_or_deselection_is_never_complete() -> None:
    recorder = Results(Policy(clauses=("KEY-*",)))
    recorder.add(result("KEY-001", "passed"))
    recorder.deselect("ORD-001", by_kit=True)
    assert to_json(recorder)["complete"] is False
    assert "[partial run: 1 of" in summary_lines(recorder)[2]
    other = Results(Policy())
    full_run(other, {})
    other.deselect("ORD-001", by_kit=False)
    assert any(line.startswith("PARTIAL RUN") for line in summary_lines(other))
    assert "(partial run)" in to_markdown(other)


def test_the_json_report_follows_its_schema_and_the_markdown_lists_what_broke(tmp_path: Path) -> None:
    recorder = Results(Policy())
    full_run(recorder, {"DLL-001": "failed"})
    failure = "[DLL-001 MUST] ...\n  what happened: the last message came back twice\n  hint: pop it, do not copy it"
    recorder.add(result("DLL-001", "failed", failure=failure, reproduction="repro/test_x.py"))
    recorder.redis.add("redis-server 7 on 127.0.0.1")
    write(recorder, tmp_path / "report.json")
    write(recorder, tmp_path / "report.md")
    data = json.loads((tmp_path / "report.json").read_text())
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(data, json.loads(SCHEMA_PATH.read_text()))
    assert data["redis"] == ["redis-server 7 on 127.0.0.1"]
    markdown = (tmp_path / "report.md").read_text()
    assert "**fails the gate**" in markdown
    assert "| DLL-001 | MUST | failed |" in markdown
    assert "| group | passed | failed |" in markdown  # only the statuses this target has
    assert "- what happened: the last message came back twice" in markdown
    assert "- hint: pop it, do not copy it" in markdown
    assert "- reproduction: `repro/test_x.py`" in markdown
    assert "<details><summary>the failure in full</summary>" in markdown


def test_several_targets_get_a_block_each() -> None:
    recorder = Results(Policy())
    full_run(recorder, {}, target="First")
    full_run(recorder, {"ORD-001": "failed"}, target="Second")
    lines = summary_lines(recorder)
    assert any(line.startswith("First (--chatstore): CONFORMS") for line in lines)
    assert any(line.startswith("Second (--chatstore): DOES NOT CONFORM") for line in lines)


def test_the_package_is_the_distribution_that_holds_the_module(monkeypatch: pytest.MonkeyPatch) -> None:
    """llama_index is a namespace shared by many distributions: the report names the one holding the class."""
    require_module("llama_index.core", "llama-index-core is not installed")
    from pytest_chatstore.report import render as report

    shared = {"llama_index": ["a-llama-index-plugin", "llama-index-core"]}  # as with a storage package installed
    monkeypatch.setattr(metadata, "packages_distributions", lambda: shared)
    found = report._package_of("llama_index.core.storage.chat_store:SimpleChatStore")
    assert found == {"name": "llama-index-core", "version": metadata.version("llama-index-core")}
    assert report._package_of("no_such_module:X") is None
