"""The clause registry (:mod:`pytest_chatstore.spec.clauses`): well-formed, and the pages generated from it fresh."""

from __future__ import annotations

import re

import pytest

from pytest_chatstore.spec.clauses import CLAUSES, render_changelog, render_spec


def test_clause_ids_are_stable_and_well_formed() -> None:
    for clause_id, clause in CLAUSES.items():
        assert clause.id == clause_id
        assert re.fullmatch(r"[A-Z]{3}-\d{3}", clause_id)
        assert clause.rule.endswith(".")
        assert clause.hint


def test_docs_spec_is_generated_from_the_registry(request: pytest.FixtureRequest) -> None:
    spec = request.config.rootpath / "docs" / "spec.md"
    assert spec.read_text() == render_spec(), "regenerate: python -m pytest_chatstore spec > docs/spec.md"


def test_docs_changelog_is_generated_from_the_registry(request: pytest.FixtureRequest) -> None:
    changelog = request.config.rootpath / "docs" / "changelog.md"
    assert changelog.read_text() == render_changelog(), (
        "regenerate: python -m pytest_chatstore changelog > docs/changelog.md"
    )


def test_every_ttl_scenario_is_named_by_one_clause_record() -> None:
    from pytest_chatstore.harness.ttl import scenarios

    named = [c.ttl_scenario for c in CLAUSES.values() if c.ttl_scenario]
    assert sorted(named) == sorted(scenarios._BY_NAME), "a scenario no record names never runs"
    assert all(c.startswith("TTL-") for c in scenarios.SCENARIOS)
    assert scenarios.ttl_for("TTL-007", 5.0) is None
    assert scenarios.ttl_for("TTL-001", 5.0) == 5.0
