"""The ecosystem matrix's own parts: the rendering, the reviewed page, the backend table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ecosystem import BACKENDS, NOTES, Backend, factories
from ecosystem.__main__ import _as_history_call, render
from pytest_chatstore.clauses import CLAUSES

ROOT = Path(__file__).parent.parent
PAGE = ROOT / "docs" / "ecosystem.md"


def test_history_calls_are_written_in_langchain_terms() -> None:
    assert _as_history_call("store.get_messages('a')") == "history('a').messages"
    assert _as_history_call("store.add_message('a', m)") == "history('a').add_messages([m])"
    assert _as_history_call("await store.async_add_message('a', m)") == "await history('a').aadd_messages([m])"
    assert _as_history_call("store.delete_messages('a')") == "history('a').clear()"
    assert _as_history_call("store.set_messages('a', [m])") == "history('a').clear(); history('a').add_messages([m])"


def test_every_factory_is_a_backend_of_the_matrix() -> None:
    targets = {b.target for b in BACKENDS}
    for name in dir(factories):
        if name.startswith(("llamaindex_", "langchain_")):
            assert f"ecosystem.factories:{name}" in targets, name


def test_the_page_shows_failures_with_their_notes(pytester: pytest.Pytester) -> None:
    pytester.runpytest(
        "--chatstore=tests.broken_stores:NoneForUnknown", "--chatstore-only", "--chatstore-hypothesis=ci",
        "--chatstore-clauses=ORD-002", "--chatstore-report=r.json",
    )  # fmt: skip
    data = json.loads((pytester.path / "r.json").read_text())
    data["seconds"] = 1.0
    backend = Backend("Broken", "control", "tests.broken_stores:NoneForUnknown", (), "pytest-chatstore")
    page = render([(backend, "1.0", data)], "2026-01-01")
    assert "| Broken | `pytest-chatstore` 1.0 | does not conform |" in page
    assert f"**ORD-002** (MUST): {CLAUSES['ORD-002'].rule}" in page
    assert "*unreviewed*" in page  # no note for this made-up row
    assert "store.get_messages(" in page


def test_the_published_page_has_a_reviewed_note_for_every_failure() -> None:
    if not PAGE.is_file():
        pytest.fail("docs/ecosystem.md is missing: run python -m ecosystem")
    text = PAGE.read_text()
    assert "*unreviewed*" not in text, "review each failure and write its note in NOTES"
    for (backend, clause_id), note in NOTES.items():
        assert any(b.name == backend for b in BACKENDS), backend
        assert clause_id in CLAUSES, clause_id
        assert note.strip(), (backend, clause_id)
