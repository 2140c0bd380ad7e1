"""The status table: one place for every status, whose facts hang together (and the schema and reference follow it,
see ``test_gate.py`` and ``test_docs.py``)."""

from __future__ import annotations

from pytest_chatstore.report.verdict import ROOT_CAUSES, UNVERIFIED
from pytest_chatstore.spec import statuses


def test_a_status_that_fails_the_run_never_shows_the_clause_holding() -> None:
    for status in statuses.TABLE:
        if status.gates or status.gates_where:
            assert status.holds is False, status.name
            assert status.pytest == "failed", status.name


def test_every_root_cause_is_known_broken_and_not_shown_to_hold() -> None:
    for name in ROOT_CAUSES:
        assert statuses.STATUSES[name].known_broken, name
        assert statuses.STATUSES[name].holds is False, name


def test_an_unverified_clause_has_no_verdict_either_way() -> None:
    assert {"blocked", "infrastructure-error", "inconclusive", "error", "refused"} == UNVERIFIED
    assert not any(statuses.STATUSES[name].root_cause for name in UNVERIFIED)


def test_labels_and_words_name_one_status_each() -> None:
    labels = [s.label for s in statuses.TABLE if s.label]
    words = [s.word for s in statuses.TABLE]
    assert len(set(labels)) == len(labels)
    assert len(set(words)) == len(words)


def test_the_kit_rewrites_exactly_the_statuses_pytest_would_report_otherwise() -> None:
    # A passing test the kit fails, a failing one it turns into an xfail or a skip: the rest is pytest's own outcome.
    assert statuses.names(rewritten=True) == {
        "unexpected-pass",
        "refused",
        "expected-failure",
        "advisory-failure",
        "declared-absent",
    }


def test_an_inconclusive_clause_fails_pytest_only_where_it_fails_the_run() -> None:
    from pytest_chatstore.report.gate import Policy

    inconclusive = statuses.STATUSES["inconclusive"]
    for policy, gates in ((Policy(level="full"), True), (Policy(level="must"), False), (Policy(level="core"), False)):
        assert policy.gates("inconclusive") is gates
        assert statuses.pytest_outcome(inconclusive, policy.gates("inconclusive")) == ("failed" if gates else "xfailed")
    assert Policy(level="must", strict_time=True).gates("inconclusive")
    assert statuses.pytest_outcome(statuses.STATUSES["failed"], Policy(level="core").gates("failed")) == "failed"
