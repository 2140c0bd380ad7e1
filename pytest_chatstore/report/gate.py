"""The gate: which clauses run, which fail the run, which failures are expected, what a store declares.

A CI decides this in two places, both read by :mod:`pytest_chatstore.run.settings`
into a :class:`Policy`, which this module applies without pytest:

- scalars through options, environment or ini: the conformance level, the pinned
  spec version, the clause selection, capability declarations;
- tables in TOML, ``[tool.chatstore]`` in the rootdir's ``pyproject.toml`` or the top
  level of the file named by ``--chatstore-config``::

      [tool.chatstore.capabilities]
      threads = false                      # our store is not thread-safe

      [tool.chatstore.expected-failures]
      "DEL-003" = "negative indices raise (#123)"
      "KEY-00[12]" = { reason = "lists emptied keys", link = "https://example.org/issues/124" }
      "TTL-*" = { reason = "expiry is lazy", targets = ["RedisHistory*"] }

Every pattern must name at least one clause, every capability must exist, every
key must be known: a typo is an error, never a silently ignored entry.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from pytest_chatstore.spec import statuses
from pytest_chatstore.spec.clauses import (
    CLAUSES,
    GROUPS,
    LEVELS,
    SLOW,
    SPEC_VERSION,
    SPEC_VERSIONS,
    Clause,
    in_level,
    is_newer_than_pin,
    version_key,
)


class GateError(Exception):
    """A gate setting or table is invalid; the message names it and where it came from."""


@dataclass(frozen=True)
class ExpectedFailure:
    """One entry of the expected-failures table."""

    pattern: str
    reason: str
    link: str | None = None
    targets: tuple[str, ...] = ()
    """Glob patterns over target names; empty means every target."""
    source: str = ""

    def applies(self, clause_id: str, target: str) -> bool:
        if not fnmatch.fnmatchcase(clause_id, self.pattern):
            return False
        return not self.targets or any(fnmatch.fnmatchcase(target, t) for t in self.targets)

    def describe(self) -> str:
        return self.reason + (f" ({self.link})" if self.link else "")


@dataclass(frozen=True)
class Policy:
    """Everything the gate decides, for every target of the run."""

    level: str = "full"
    spec: str | None = None
    """The pinned spec version, or None: gate on every clause of this suite's version."""
    clauses: tuple[str, ...] = ()
    """Selection patterns (clause IDs, globs, or group names); empty selects every clause."""
    capabilities: Mapping[str, bool] = field(default_factory=dict)
    """Declared capabilities for every target: name -> present."""
    capability_source: str = ""
    expected: tuple[ExpectedFailure, ...] = ()
    strict_time: bool = False
    """An inconclusive real-time clause fails the run at every level (else at level ``full`` only)."""

    def gates(self, status: str) -> bool:
        """Whether a clause with ``status`` fails the run under this policy: the status table says, but for an
        inconclusive real-time clause, which fails it at level full or with ``--chatstore-strict-time`` only."""
        if status == "inconclusive":
            return self.strict_time or self.level == "full"
        return status in GATING

    def selected(self, clause_id: str) -> bool:
        """Whether ``--chatstore-clauses`` keeps ``clause_id``: some pattern names it (or only exclusions
        are given) and no ``-PATTERN`` leaves it out."""
        clause = CLAUSES[clause_id]
        chosen = [p for p in self.clauses if not p.startswith("-")]
        left_out = [p[1:] for p in self.clauses if p.startswith("-")]
        if chosen and not any(_matches(clause, p) for p in chosen):
            return False
        return not any(_matches(clause, p) for p in left_out)

    def advisory(self, clause_id: str) -> str | None:
        """Why a failure of ``clause_id`` does not fail the run, or None when it gates."""
        clause = CLAUSES[clause_id]
        if not in_level(clause, self.level):
            return f"{clause.level} clause of group {clause.group}, outside conformance level {self.level!r}"
        if is_newer_than_pin(clause, self.spec):
            return f"new in spec {clause.since}, newer than the pinned spec {self.spec}: reported, not gating"
        return None

    def expected_failure(self, clause_id: str, target: str) -> ExpectedFailure | None:
        return next((e for e in self.expected if e.applies(clause_id, target)), None)

    @property
    def spec_version(self) -> str:
        return self.spec or SPEC_VERSION


def _matches(clause: Clause, pattern: str) -> bool:
    if pattern == "slow":
        return clause.id in SLOW
    return pattern == clause.group or fnmatch.fnmatchcase(clause.id, pattern)


def check_level(value: str, source: str) -> str:
    if value not in LEVELS:
        raise GateError(f"chatstore-level from {source}: {value!r} is not one of {', '.join(LEVELS)}")
    return value


def check_spec(value: str, source: str) -> str:
    if value not in SPEC_VERSIONS:
        raise GateError(
            f"chatstore-spec from {source}: this suite implements spec {SPEC_VERSION} and knows versions "
            f"{', '.join(SPEC_VERSIONS)}; {value!r} is not one of them"
            + (" (upgrade pytest-chatstore)" if _newer(value) else "")
        )
    return value


def _newer(value: str) -> bool:
    try:
        return version_key(value) > version_key(SPEC_VERSION)
    except ValueError:
        return False


def check_clause_patterns(patterns: Iterable[str], source: str, what: str = "chatstore-clauses") -> tuple[str, ...]:
    """Every pattern must match a clause ID or be a group name (``-PATTERN`` leaves clauses out)."""
    checked = []
    for pattern in patterns:
        named = pattern[1:] if pattern.startswith("-") and what == "chatstore-clauses" else pattern
        if not any(_matches(c, named) for c in CLAUSES.values()):
            raise GateError(
                f"{what} from {source}: {pattern!r} names no clause (IDs such as DEL-001, globs such as "
                f"'KEY-*', groups: {', '.join(GROUPS)}, or slow; '-' before one leaves it out)"
            )
        checked.append(pattern)
    return tuple(checked)


GATING = statuses.names(gates=True)
"""Statuses that fail the run wherever they stand (``inconclusive`` too, as :meth:`Policy.gates` says)."""


@dataclass(frozen=True)
class Judgement:
    """What the gate makes of one suite test's raw result."""

    status: str
    reason: str = ""


def judge(
    policy: Policy,
    clause_id: str,
    target: str,
    raw: str,
    *,
    probed: frozenset[str] = frozenset(),
    probe_source: str = "",
    detail: str = "",
    covered: bool = True,
    evidence: str = "",
) -> Judgement:
    """Turn a raw result into a status of :data:`pytest_chatstore.spec.statuses.TABLE`.

    ``raw`` is ``passed``, ``skipped`` (by the kit, for a missing capability), or what
    :func:`pytest_chatstore.engine.failures.classify` made of a failure: ``failed`` (the
    store's), ``blocked``, ``infrastructure``, ``inconclusive`` or ``error`` (the
    kit's or the machine's); ``detail`` says more (``blocked by DLL-001``).
    ``probed`` are capabilities declared absent that the test exercised. ``covered`` says whether
    the check is deterministic over its scope (a bounded-exhaustive phase run in full, or a fixed
    scenario): only then is a listed clause that passes a strict unexpected pass; otherwise it was
    ``not-reproduced`` in ``evidence`` (what the check ran).
    """
    if raw == "skipped":
        return Judgement("skipped")
    if raw == "infrastructure":
        return Judgement("infrastructure-error", "the backend could not be reached: no verdict")
    if raw == "inconclusive":
        return Judgement("inconclusive", detail)
    if raw == "blocked" and probed:
        raw = "failed"
    if probed:
        names = ", ".join(sorted(probed))
        if raw == "passed":
            return Judgement(
                "passed",
                f"undeclared capability: {names} declared absent ({probe_source}), but {clause_id} holds; "
                "delete the declaration",
            )
        if raw == "failed":
            return Judgement("declared-absent", f"{names} declared absent ({probe_source})")
    expected = policy.expected_failure(clause_id, target)
    if raw == "passed":
        if expected is not None and not covered:
            return Judgement(
                "not-reproduced",
                f"{clause_id} is listed as an expected failure ({expected.describe()}) by the entry "
                f"{expected.pattern!r} in {expected.source}, but this run did not meet it"
                + (f" ({evidence})" if evidence else "")
                + "; its check is a search, so the entry stays: delete it once the bug is fixed",
            )
        if expected is not None:
            return Judgement(
                "unexpected-pass",
                f"{clause_id} is listed as an expected failure ({expected.describe()}) by the entry "
                f"{expected.pattern!r} in {expected.source}, but it passes against {target}: delete the entry"
                + (" or narrow its pattern" if expected.pattern != clause_id else ""),
            )
        return Judgement("passed")
    if raw not in ("failed", "blocked"):
        return Judgement("error", detail)
    also = f"; {detail}" if detail else ""
    if expected is not None:
        return Judgement("expected-failure", f"{expected.describe()} [{expected.pattern} in {expected.source}]{also}")
    advisory = policy.advisory(clause_id)
    if advisory is not None:
        return Judgement("advisory-failure", advisory + also)
    return Judgement("blocked" if raw == "blocked" else "failed", detail)
