"""Every status a clause can have, in one table: what it means, whether it gates, how it is shown, what it says of
the clause's rule, and what pytest makes of it.

The gate (:mod:`.gate`) decides statuses, the outcome (:mod:`.outcome`) turns them into pytest outcomes, the
reports (:mod:`.report`) count, order and label them, and the JSON schema's enum is checked against this table
by a test. The name is the one identity of a status everywhere (the JSON report, JUnit's ``chatstore_status``
property, the Markdown report); ``label`` and ``short`` are how the terminal shows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Outcome = Literal["passed", "failed", "skipped", "xfailed"]


@dataclass(frozen=True)
class Status:
    name: str
    meaning: str
    """The sentence of the reference's table of statuses."""
    pytest: Outcome
    """What pytest reports for the suite test (``xfailed``: skipped, with ``wasxfail`` set)."""
    rewritten: bool = False
    """The kit's own judgement, not the test's outcome: the kit rewrites pytest's report to say it (an
    unexpected pass fails, an expected failure is an xfail)."""
    gates: bool = False
    """Fails the run wherever it stands (``inconclusive`` does at level full or with --chatstore-strict-time)."""
    root_cause: bool = False
    """The store broke the clause's own rule: a root cause to fix (the summary lists them, in the order to fix)."""
    known_broken: bool = False
    """Later composite checks of the same target leave the clause's rule out."""
    holds: bool | None = None
    """True: the clause is shown to hold; False: it is not (a target's level reached needs none of these); None:
    the clause did not apply or was not judged (skipped, declared absent, not reproduced, deselected)."""
    unverified: bool = False
    """No verdict on the clause at all: the verdict line says how many are "not verified"."""
    label: str = ""
    """How the summary's list of clauses to look at labels it; empty: not listed."""
    short: str = ""
    """The word in counts; empty: the name."""
    gates_where: str = ""
    """Where the status fails the run, when that depends (the reference's column)."""

    @property
    def word(self) -> str:
        return self.short or self.name


TABLE: tuple[Status, ...] = (
    Status("passed", "the clause holds", "passed", holds=True),
    Status(
        "failed",
        "the clause is broken, and it fails the run",
        "failed",
        gates=True,
        root_cause=True,
        known_broken=True,
        holds=False,
        label="FAILED",
    ),
    Status(
        "unexpected-pass",
        "listed as an expected failure but holds, and the clause's check is deterministic (its bounded-exhaustive "
        "phase ran in full, or it is a fixed scenario): fails the run until the entry is deleted",
        "failed",
        rewritten=True,
        gates=True,
        holds=False,
        label="XPASS(strict)",
        short="xpass(strict)",
    ),
    Status(
        "blocked",
        "the clause's check met a violation of another clause's rule, already known broken (named): not verified; "
        "fails the run where the clause gates",
        "failed",
        gates=True,
        holds=False,
        unverified=True,
        label="BLOCKED",
        gates_where="where the clause gates",
    ),
    Status(
        "infrastructure-error",
        "the store's backend could not be reached (a connection or timeout error): no verdict; fails the run",
        "failed",
        gates=True,
        holds=False,
        unverified=True,
        label="INFRASTRUCTURE ERROR",
        short="infrastructure error",
    ),
    Status(
        "inconclusive",
        "real time could not be judged, even after retries with a longer ttl (the machine was too busy): not "
        "verified; fails the run at level full or with --chatstore-strict-time",
        "failed",
        holds=False,
        unverified=True,
        label="INCONCLUSIVE",
        gates_where="at level `full`, or with `--chatstore-strict-time`",
    ),
    Status(
        "error",
        "the kit could not check the clause (setup, provisioning, a nondeterministic store); fails the run",
        "failed",
        gates=True,
        holds=False,
        unverified=True,
        label="ERROR",
    ),
    Status(
        "refused",
        "the suite test was skipped, marked or overridden by something other than the kit; fails the run",
        "failed",
        rewritten=True,
        gates=True,
        holds=False,
        unverified=True,
        label="REFUSED",
    ),
    Status(
        "expected-failure",
        "broken, as an expected-failures entry says; does not fail the run",
        "xfailed",
        rewritten=True,
        root_cause=True,
        known_broken=True,
        holds=False,
        label="XFAIL",
        short="xfail",
    ),
    Status(
        "not-reproduced",
        "listed as an expected failure, but this run did not meet it and the clause's check is a search (random "
        "examples or a race), which may miss it: a warning naming the entry; does not fail the run",
        "passed",
        label="NOT REPRODUCED",
        short="not reproduced",
    ),
    Status(
        "advisory-failure",
        "broken, but outside the gating level or newer than the pinned spec; does not fail the run",
        "xfailed",
        rewritten=True,
        root_cause=True,
        known_broken=True,
        holds=False,
        label="ADVISORY",
        short="advisory",
    ),
    Status("skipped", "not applicable: the store lacks a capability the clause needs", "skipped"),
    Status(
        "declared-absent",
        "not applicable: the capability is declared absent (and the clause indeed fails)",
        "skipped",
        rewritten=True,
        known_broken=True,
        short="declared absent",
    ),
)
"""Every status, in the order the summary counts them."""

STATUSES: dict[str, Status] = {s.name: s for s in TABLE}
DESELECTED = "deselected"
"""Not a status of a clause that ran: counted after the statuses (``--chatstore-clauses``, ``-k``, ``-m``)."""
ORDER: tuple[str, ...] = (*STATUSES, DESELECTED)


def pytest_outcome(status: Status, gates: bool) -> Outcome:
    """What pytest reports for a clause with ``status``, which fails the run here or not (``gates``): a status
    pytest would report as failed that does not fail the run here (an inconclusive real-time clause below level
    full) is an xfail, so that pytest's exit status and the kit's gate agree."""
    if status.pytest == "failed" and not gates:
        return "xfailed"
    return status.pytest


def names(**wanted: object) -> frozenset[str]:
    """The statuses whose fields have the given values (``names(gates=True)``)."""
    return frozenset(s.name for s in TABLE if all(getattr(s, k) == v for k, v in wanted.items()))


def word(name: str) -> str:
    """How counts show ``name`` (``xfail`` for ``expected-failure``)."""
    return STATUSES[name].word if name in STATUSES else name


def render() -> str:
    """The reference's table of statuses (``python -m pytest_chatstore statuses``)."""
    lines = ["| status | fails the run | pytest reports | meaning |", "| --- | --- | --- | --- |"]
    for s in TABLE:
        fails = s.gates_where or ("yes" if s.gates else "no")
        reports = f"{s.pytest} where it fails the run, else xfailed" if s.gates_where else s.pytest
        lines.append(f"| `{s.name}` | {fails} | {reports} | {s.meaning} |")
    return "\n".join(lines) + "\n"
