"""Every clause can fail: each broken store fails its clause; the reference store passes it."""

from __future__ import annotations

import pytest

from pytest_chatstore.clauses import CLAUSES
from tests.broken_stores import BROKEN

REFERENCE = "reference_impls.memory:InMemoryChatStore"


def run_clause(pytester: pytest.Pytester, target: str, clause_id: str) -> pytest.RunResult:
    """Run only ``clause_id``'s test against ``target``, in-process."""
    return pytester.runpytest(
        f"--chatstore={target}",
        "--chatstore-only",
        "--chatstore-timeout=5",
        "--chatstore-hypothesis=ci",
        "-k",
        clause_id.replace("-", "_"),
        "-q",
    )


def test_every_clause_has_a_broken_store() -> None:
    assert sorted(BROKEN) == sorted(CLAUSES)


@pytest.mark.parametrize("clause_id", sorted(BROKEN))
def test_broken_store_fails_its_clause(pytester: pytest.Pytester, clause_id: str) -> None:
    result = run_clause(pytester, f"tests.broken_stores:{BROKEN[clause_id].__name__}", clause_id)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*[[]{clause_id} {CLAUSES[clause_id].level}[]]*"])


def test_reference_store_passes_every_clause(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest(f"--chatstore={REFERENCE}", "--chatstore-only", "--chatstore-hypothesis=ci", "-q")
    result.assert_outcomes(passed=len(CLAUSES))
    result.stdout.fnmatch_lines(["*InMemoryChatStore (--chatstore): CONFORMS*"])
