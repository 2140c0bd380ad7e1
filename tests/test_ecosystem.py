"""The ecosystem matrix's own parts: the rendering, the reviewed page, the backend table."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

import ecosystem
from ecosystem import BACKENDS, NOTES, Artifact, Backend, factories
from ecosystem.__main__ import _as_history_call, render
from pytest_chatstore.spec.clauses import CLAUSES

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
        if name.startswith(("llamaindex_", "langchain_", "agents_")):
            assert f"ecosystem.factories:{name}" in targets, name


def _report_of_a_failing_run(pytester: pytest.Pytester) -> dict[str, Any]:
    """The JSON report of a store that fails ORD-002, as the matrix reads it."""
    pytester.runpytest(
        "--chatstore=tests.broken_stores:NoneForUnknown", "--chatstore-only", "--chatstore-hypothesis=ci",
        "--chatstore-clauses=ORD-002", "--chatstore-report=r.json",
    )  # fmt: skip
    data: dict[str, Any] = json.loads((pytester.path / "r.json").read_text())
    data["seconds"] = 1.0
    return data


def test_the_page_shows_failures_with_their_notes(pytester: pytest.Pytester) -> None:
    data = _report_of_a_failing_run(pytester)
    backend = Backend("Broken", "control", "tests.broken_stores:NoneForUnknown", (), "pytest-chatstore")
    page = render([(backend, "1.0", data)], "2026-01-01")
    assert "| Broken | `pytest-chatstore` 1.0 | does not conform |" in page
    assert f"**ORD-002** (MUST): {CLAUSES['ORD-002'].rule}" in page
    assert "*unreviewed*" in page  # no note for this made-up row
    assert "store.get_messages(" in page


def test_an_emulator_artifact_is_marked_only_where_its_text_matches(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _report_of_a_failing_run(pytester)
    backend = Backend(
        "Emulated", "control", "tests.broken_stores:NoneForUnknown", (), "pytest-chatstore", emulator="an emulator"
    )
    monkeypatch.setitem(ecosystem.ARTIFACTS, ("Emulated", "ORD-002"), Artifact(r"get_messages\(", "it answers None"))
    page = render([(backend, "1.0", data)], "2026-01-01")
    assert "| Emulated | `pytest-chatstore` 1.0 | conforms, but for emulator artifacts | none | 0 / 0 |  | 1 |" in page
    assert "**Emulator artifact** (an emulator), not counted as the store's: it answers None" in page
    assert "- Runs on: an emulator, not the service itself" in page
    # The same clause failing in another way is the store's: the mark does not hide it.
    monkeypatch.setitem(ecosystem.ARTIFACTS, ("Emulated", "ORD-002"), Artifact("an empty-string key", "moto drops it"))
    page = render([(backend, "1.0", data)], "2026-01-01")
    assert "| Emulated | `pytest-chatstore` 1.0 | does not conform | none | 1 / 0 |  |  |" in page
    assert "*unreviewed*" in page
    assert "Emulator artifact**" not in page


def test_an_artifact_needs_every_distinct_failure_of_the_clause_to_match(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(ecosystem.ARTIFACTS, ("Row", "FID-001"), Artifact("'bool' object has no attribute", "moto"))
    ours = "[FID-001 MUST] ...\n  what happened: the store raised AttributeError: 'bool' object has no attribute 'get'"
    assert ecosystem.artifact_of("Row", "FID-001", ours) is not None
    theirs = ours + ecosystem.DISTINCT + "the store raised TypeError: Float types are not supported"
    assert ecosystem.artifact_of("Row", "FID-001", theirs) is None  # the second failure is the store's
    assert ecosystem.artifact_of("Other row", "FID-001", ours) is None


def test_every_artifact_and_emulated_row_is_described() -> None:
    for (backend, clause_id), artifact in ecosystem.ARTIFACTS.items():
        row = next(b for b in BACKENDS if b.name == backend)
        assert row.emulator, f"{backend} has an emulator artifact but names no emulator"
        assert clause_id in CLAUSES
        assert artifact.matches
        assert artifact.why


def test_the_upstash_bridge_serves_the_upstash_client() -> None:
    """The bridge, checked with upstash-redis itself: single commands, pipelines, transactions, errors,
    base64 and plain encodings, and the database the token names."""
    upstash = pytest.importorskip("upstash_redis")
    from ecosystem.upstash import bridge_url, close_clients
    from pytest_chatstore.servers.redis import provision

    server = provision("auto", require_real=bool(os.environ.get("CI")))
    try:
        server.reset()
        url = server.url
        for encoding in ("base64", None):
            client = upstash.Redis(url=bridge_url(), token=url, rest_encoding=encoding, rest_retries=0)
            assert client.rpush("k", "a", "b", "é €") == 3
            assert client.lrange("k", 0, -1) == ["a", "b", "é €"]
            assert client.expire("k", 100)
            assert 0 < client.ttl("k") <= 100
            pipeline = client.pipeline()
            pipeline.lpop("k")
            pipeline.llen("k")
            assert pipeline.exec() == ["a", 2]
            transaction = client.multi()
            transaction.rpush("k", "c")
            transaction.lrange("k", 0, -1)
            assert transaction.exec() == [3, ["b", "é €", "c"]]
            assert client.get("missing") is None
            with pytest.raises(upstash.errors.UpstashError, match="WRONGTYPE"):
                client.get("k")
            assert client.delete("k") == 1
            client.close()
        assert server.client().keys("*") == []  # all of it went to the database the token named
        stranger = upstash.Redis(url=bridge_url(), token="not-a-redis-url", rest_retries=0)
        with pytest.raises(upstash.errors.UpstashError, match="Unauthorized"):
            stranger.get("k")
        stranger.close()
    finally:
        close_clients()
        server.close()


def test_the_published_page_has_a_reviewed_note_for_every_failure() -> None:
    if not PAGE.is_file():
        pytest.fail("docs/ecosystem.md is missing: run python -m ecosystem")
    text = PAGE.read_text()
    assert "*unreviewed*" not in text, "review each failure and write its note in NOTES"
    for (backend, clause_id), note in NOTES.items():
        assert any(b.name == backend for b in BACKENDS), backend
        assert clause_id in CLAUSES, clause_id
        assert note.strip(), (backend, clause_id)
