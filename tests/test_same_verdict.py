"""Same store, same verdict: a bug within the small scope is found on every run, whatever the seed, the
expected-failure list or the spec pin (issue "same store, same verdict")."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_chatstore.engine import budget, scope
from pytest_chatstore.spec.clauses import CLAUSES
from pytest_chatstore.spec.contract import ChatMessage
from pytest_chatstore.spec.model import ChatModel

SQLITE_EMPTIED = "--chatstore=tests.sqlite_store:SQLiteListsEmptiedKeys"
REFERENCE = "--chatstore=reference_impls.memory:InMemoryChatStore"
GATE_EXAMPLE = Path(__file__).parent.parent / "docs" / "examples" / "pyproject-gate.toml"
X = ChatMessage("user", "x")
ALL = scope.Needs(insert=True, delete_message=True, delete_last=True, delete_all=True)


def _one_clause_seeded(pytester: pytest.Pytester, store: str, clause_id: str, seed: int) -> pytest.RunResult:
    """Run ``clause_id`` alone against ``store`` (a spec) with the randomized default profile and ``seed``: it fails."""
    result = pytester.runpytest(
        store, "--chatstore-only", "--chatstore-hypothesis=default", f"--hypothesis-seed={seed}",
        f"--chatstore-clauses={clause_id}", "-q",
    )  # fmt: skip
    result.assert_outcomes(failed=1, deselected=len(CLAUSES) - 1)
    return result


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_three_call_bug_is_found_whatever_the_seed(pytester: pytest.Pytester, seed: int) -> None:
    # The default profile is randomized: only the seed differs between these runs.
    result = _one_clause_seeded(pytester, SQLITE_EMPTIED, "KEY-002", seed)
    result.stdout.fnmatch_lines(
        [
            "*1. store.add_message('a', ChatMessage('user', 'x')) -> None",
            "*store.delete_last_message('a') -> ChatMessage('user', 'x')",
            "*store.get_keys() -> [[]'a'[]]",
        ]
    )


@pytest.mark.parametrize("seed", [1, 2])
def test_a_write_that_lands_on_a_lookalike_key_is_found_whatever_the_seed(pytester: pytest.Pytester, seed: int) -> None:
    # Appending to look-alike keys shows nothing: only a delete beside them does (before, KEY-004 passed).
    result = _one_clause_seeded(pytester, "--chatstore=tests.broken_stores:DeletesByPattern", "KEY-004", seed)
    result.stdout.fnmatch_lines(
        ["*what happened: messages at 'a ' after delete_all on 'a'", "*store.delete_messages('a') -> [[]ChatMessage(*"]
    )


@pytest.mark.parametrize("seed", [1, 2])
def test_a_bug_that_needs_three_writes_is_found_by_the_exhaustive_phase_whatever_the_seed(
    pytester: pytest.Pytester, seed: int
) -> None:
    # Set two, delete the head (lazily), insert: three writes. Found in a packed batch, then run alone, so the
    # report is the three-write sequence on 'a', not the batch's fifty conversations.
    result = _one_clause_seeded(pytester, "--chatstore=tests.broken_stores:LazyHeadDelete", "MDL-001", seed)
    result.stdout.fnmatch_lines(
        [
            ">*exhaust(chatstore)*",
            "*1. store.set_messages('a', [[]ChatMessage('user', 'x'), ChatMessage('user', 'x')[]]) -> None",
            "*3. store.delete_message('a', 0) -> ChatMessage('user', 'x')",
            "*5. store.add_message('a', ChatMessage(*), idx=*) -> None",
            "*6. store.get_messages('a') -> *",
        ]
    )
    assert "'p0" not in result.stdout.str()


def test_a_store_that_fails_only_beside_other_conversations_is_one_root_cause(pytester: pytest.Pytester) -> None:
    # Forty conversations at most: every packed phase meets it, and each of its sequences passes alone.
    result = pytester.runpytest(
        "--chatstore=tests.broken_stores:ForgetsPast40Conversations", "--chatstore-only",
        "--chatstore-clauses=SET-001,INS-001,KEY-001", "-q", "-p", "no:randomly",
    )  # fmt: skip
    result.assert_outcomes(failed=3, deselected=len(CLAUSES) - 3)
    result.stdout.fnmatch_lines(
        [
            "*each sequence of this batch passes: the store fails only with 50 conversations written side by side*",
            "*1 root cause(s)*",
            "*blocks: *",
        ]
    )


def test_the_packed_scope_is_every_three_write_sequence_on_one_conversation() -> None:
    every = [ops for ops in scope.histories(ALL, 3, keys=("a",)) if len(ops) == 3]
    owned = {repr(ops) for clause_id in CLAUSES for ops in scope.packed(clause_id, ALL)}
    assert len(every) == 7450
    assert owned == {repr(ops) for ops in every}
    keys = [scope.packed_key(n) for n in range(scope.PACK)]
    assert not [(k, o) for k in keys for o in keys if k != o and o.startswith(k)]  # no key is another's prefix


@pytest.mark.parametrize("seed", [1, 2])
def test_a_lookalike_bug_that_needs_two_writes_is_found_whatever_the_seed(pytester: pytest.Pytester, seed: int) -> None:
    # 'a' and 'a ' share a lazily deleted head: set two messages, delete the head, and the look-alike loses one.
    # One write per key (the 147 sequences) never shows it; the rounds of two-write histories do.
    store = "--chatstore=tests.broken_stores:SharedHeadOffsetPastTrailingSpace"
    result = _one_clause_seeded(pytester, store, "KEY-004", seed)
    result.stdout.fnmatch_lines(
        ["*the store fails only with 3 conversations written side by side*", "*store.delete_message('a*', 0) -> *"]
    )


def test_every_member_of_a_family_runs_every_two_write_history_beside_its_lookalikes() -> None:
    rounds = scope.lookalike_rounds(ALL)
    histories = [repr(h) for h in scope.lookalike_histories(ALL)]
    assert len(histories) == 56
    assert len(rounds) == 56 * len(scope.LOOKALIKE_KEYS)
    for family in scope.LOOKALIKE_KEYS:
        for i, key in enumerate(family):
            mine = [r for r in rounds if [ops[0][1] for ops in r] == list(family)]
            ran = {repr([scope.renamed(op, "a") for op in r[i][1:]]) for r in mine}
            assert ran == set(histories), key
    assert all(all(ops[0][0] == "add" for ops in r) for r in rounds)  # every look-alike holds a message first


def test_a_store_not_empty_when_built_is_named_by_the_exhaustive_phase(pytester: pytest.Pytester) -> None:
    # The phase does not read its thousand fresh stores first: on a failure it looks at one, and names FRE-001.
    result = pytester.runpytest(
        "--chatstore=tests.broken_stores:SharedState", "--chatstore-only", "--chatstore-clauses=INS-001", "-q"
    )
    result.assert_outcomes(failed=1, deselected=len(CLAUSES) - 1)
    result.stdout.fnmatch_lines(["*[[]FRE-001 MUST[]]*", "*a freshly built store already holds messages at 'a'"])


def test_the_lookalike_scope_puts_every_kind_of_write_beside_every_family() -> None:
    chosen = scope.among_lookalikes(ALL)
    assert len(chosen) == 7 * sum(len(f) for f in scope.LOOKALIKE_KEYS) == 147
    assert {scope.kind(op) for _, op in chosen} == {"append", "insert", "delete", "delete_last", "delete_all", "set"}
    assert all(op[1] in family for family, op in chosen)
    without_deletes = scope.Needs(insert=False, delete_message=False, delete_last=False, delete_all=False)
    assert {scope.kind(op) for _, op in scope.among_lookalikes(without_deletes)} == {"append", "set"}


def test_the_correct_sqlite_store_passes_the_exhaustive_phase(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest(
        "--chatstore=tests.sqlite_store:SQLiteChatStore", "--chatstore-only", "--chatstore-hypothesis=ci",
        "--chatstore-clauses=core,keys", "-q",
    )  # fmt: skip
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*bounded-exhaustive phase: 16 clause(s), * sequences, every one of its small scope*"])


def test_the_shipped_gate_example_holds_whatever_else_it_lists(pytester: pytest.Pytester) -> None:
    """Listing DEL-003 (a clause this store cannot even run) must not change what KEY-002 checks."""
    text = GATE_EXAMPLE.read_text().replace("mybackend.store:MyChatStore", "tests.sqlite_store:SQLiteListsEmptiedKeys")
    pytester.makefile(".toml", pyproject=text)
    result = pytester.runpytest("--chatstore-only", "--chatstore-hypothesis=default", "-q")
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()[-3000:]
    result.stdout.fnmatch_lines(["*XFAIL KEY-002*"])


def test_a_listed_clause_checked_exhaustively_is_a_strict_unexpected_pass(pytester: pytest.Pytester) -> None:
    pytester.makefile(".toml", pyproject='[tool.chatstore.expected-failures]\n"KEY-002" = "we thought so"\n')
    result = pytester.runpytest(
        REFERENCE, "--chatstore-only", "--chatstore-hypothesis=ci", "--chatstore-clauses=KEY-002"
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*XPASS(strict)*KEY-002*delete the entry*"])


def test_a_listed_clause_checked_by_a_search_is_not_reproduced_not_red(pytester: pytest.Pytester) -> None:
    pytester.makefile(".toml", pyproject='[tool.chatstore.expected-failures]\n"FID-001" = "floats change (#7)"\n')
    result = pytester.runpytest(
        REFERENCE, "--chatstore-only", "--chatstore-hypothesis=ci", "--chatstore-clauses=FID-001"
    )
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        [
            "*NOT REPRODUCED FID-001*",
            "*listed as an expected failure (floats change (#7))*did not meet it (32 examples*",
        ]
    )


def test_key_families_are_enumerated_in_full_every_run(pytester: pytest.Pytester) -> None:
    """A store that strips trailing spaces from keys (a database collation) fails KEY-004 under any seed."""
    pytester.makepyfile(
        strips="""
        from reference_impls.memory import InMemoryChatStore

        class StripsKeys(InMemoryChatStore):
            def _k(self, key):
                return key.rstrip(" ") if isinstance(key, str) and key.rstrip(" ") else key
            def add_message(self, key, message, idx=None):
                super().add_message(self._k(key), message, idx)
            def get_messages(self, key):
                return super().get_messages(self._k(key))
        """
    )
    for seed in (1, 2):
        result = pytester.runpytest(
            "--chatstore=strips:StripsKeys", "--chatstore-only", "--chatstore-hypothesis=default",
            f"--hypothesis-seed={seed}", "--chatstore-clauses=KEY-004", "-q",
        )  # fmt: skip
        result.assert_outcomes(failed=1, deselected=len(CLAUSES) - 1)


def test_the_scope_lists_every_sequence_once_shortest_first_and_canonical() -> None:
    chosen = scope.sequences("KEY-002", ALL)
    assert [("add", "a", X, None), ("delete_last", "a")] in chosen
    assert len(chosen) == len({repr(ops) for ops in chosen})
    assert [len(ops) for ops in chosen] == sorted(len(ops) for ops in chosen)
    assert all(ops[0][1] == "a" for ops in chosen), "key symmetry: every sequence starts on 'a'"
    assert [("add", "b", X, None), ("delete_last", "b")] not in chosen


def test_every_insert_and_delete_index_from_minus_len_minus_1_to_len_plus_1_is_in_scope() -> None:
    model = ChatModel()
    model.set_messages("a", [X, X])
    writes = list(scope.writes(model, ALL, ("a",), (X,)))
    assert {op[3] for op in writes if op[0] == "add" and op[3] is not None} == set(range(-3, 4))
    assert {op[2] for op in writes if op[0] == "delete"} == set(range(-3, 4))


def test_a_budget_cut_shrinks_the_scope_visibly() -> None:
    assert len(scope.sequences("DLL-001", ALL, depth=1)) < len(scope.sequences("DLL-001", ALL))
    covered = scope.Covered(sequences=3, calls=10, depth=1, reduced=True)
    assert covered.describe() == "exhaustive to depth 1 over 2 conversations (depth 3 cut by the budget): 3 sequences"


def test_a_store_without_a_capability_gets_no_sequence_of_it() -> None:
    none = scope.Needs(insert=False, delete_message=False, delete_last=False, delete_all=False)
    assert scope.sequences("DLL-001", none) == []
    assert all(op[0] in ("add", "set") for ops in scope.sequences("KEY-001", none) for op in ops)


def test_the_budget_plans_each_exhaustive_phase_at_its_real_size() -> None:
    from pytest_chatstore.engine.budget import WORK

    for clause_id, work in WORK.items():
        got = (scope.size(clause_id, ALL), scope.size(clause_id, ALL, depth=1))
        assert work.exhaustive == (got if any(got) else (0, 0)), f"{clause_id}: set Work(exhaustive={got})"
        packed = len(scope.packed(clause_id, ALL))
        assert work.packed == packed, f"{clause_id}: set Work(packed={packed})"


def test_a_budget_cuts_the_random_phases_before_the_depth_of_the_scope() -> None:
    clauses = ["ORD-001", "INS-002", "DEL-001", "FID-001"]
    full = budget.full_seconds(clauses, 0.020, "default")
    deep_floors = budget.floor_seconds(clauses, 0.020, "default", deep=True)
    assert budget.floor_seconds(clauses, 0.020, "default") < deep_floors < full

    def first_allowance(seconds: float) -> budget.Allowance:
        ledger = budget.Ledger(budget=seconds / (1 - budget.RESERVE), profile="default", measured=0.020,
                               clauses=list(clauses))  # fmt: skip
        return ledger.allowance("ORD-001")

    roomy = first_allowance((deep_floors + full) / 2)
    assert roomy.scale < 1.0  # the random examples are cut...
    assert roomy.deep  # ...and the scope kept in full
    tight = first_allowance(deep_floors * 0.9)
    assert not tight.deep  # only past the random floors does the scope shrink
