"""Capabilities, in one place: what a store shows, what is declared, and what a clause may use.

A capability is detected from a probe store (methods present, ``idx``
accepted, async twins, factory parameters) or declared (a
``chatstore_capabilities`` attribute on the target, the fixture of that name,
``[tool.chatstore.capabilities]``, ini, environment, command line; later
sources win). Declarations win over detection, with one exception: a
capability declared absent that the store shows is *probed*: the clause runs,
and if it holds the report names the undeclared capability. The names and
their meanings are :data:`pytest_chatstore.spec.clauses.CAPABILITIES`.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from pytest_chatstore.spec.clauses import CAPABILITIES
from pytest_chatstore.spec.operations import OPERATIONS

Declared = Mapping[str, tuple[bool, str]]
"""Capability name -> (present, where it was declared)."""


class CapabilityError(Exception):
    """A declaration names an unknown capability or is not a boolean; the message says where it came from."""


def detect(store: object, accepts: frozenset[str]) -> frozenset[str]:
    """The capabilities ``store`` shows: methods present, ``idx`` accepted, async twins, factory args."""
    caps = {name for name in accepts if name in ("ttl", "clock")}
    caps.add("threads")  # no probe can show thread safety: assumed, unless declared absent
    if "redis_url" in accepts:
        caps.add("redis")
    if accepts & {"redis_url", "namespace"}:
        caps |= {"shared", "processes"}  # processes: assumed with shared, unless declared absent
    if accepts & {"redis_url", "proxied"}:
        caps.add("faults")  # the kit can put its fault proxy between the store and its server
    present = [op for op in OPERATIONS.values() if callable(getattr(store, op.sync, None))]
    caps |= {op.capability for op in present if op.capability is not None}
    if _takes_idx(getattr(store, "add_message", None)):
        caps.add("insert")
    core = [op for op in present if op.name != "add_batch"]  # a batch method without its twin keeps "async"
    if core and all(inspect.iscoroutinefunction(getattr(store, op.async_, None)) for op in core):
        caps.add("async")
        if _takes_idx(getattr(store, "async_add_message", None)):
            caps.add("async_insert")
    return frozenset(caps)


def _takes_idx(method: object) -> bool:
    """Whether ``method`` takes ``idx``; asked of every store built, so a class's method is inspected once."""
    function = getattr(method, "__func__", method)
    try:
        return _idx_in(function)
    except TypeError:  # not hashable: inspected each time
        return _idx_in.__wrapped__(function)


@functools.lru_cache(maxsize=256)
def _idx_in(method: object) -> bool:
    try:
        return callable(method) and "idx" in inspect.signature(method).parameters
    except (TypeError, ValueError):
        return False


def check(declared: Mapping[str, object], source: str) -> dict[str, bool]:
    """``declared`` as ``{name: present}``; raise :class:`CapabilityError` on an unknown name or a non-boolean."""
    checked: dict[str, bool] = {}
    for name, present in declared.items():
        if name not in CAPABILITIES:
            raise CapabilityError(f"capability {name!r} from {source} is unknown; known: {', '.join(CAPABILITIES)}")
        if not isinstance(present, bool):
            raise CapabilityError(f"capability {name!r} from {source}: declare it true or false, not {present!r}")
        checked[name] = present
    return checked


def parse_tokens(tokens: Iterable[str], source: str) -> dict[str, bool]:
    """``["-threads", "insert"]`` (ini or command line form) -> ``{"threads": False, "insert": True}``."""
    declared: dict[str, bool] = {}
    for token in tokens:
        name, present = (token[1:], False) if token.startswith("-") else (token.lstrip("+"), True)
        declared[name] = present
    return check(declared, source)


def declared_by_target(factory: object) -> dict[str, bool]:
    """A ``chatstore_capabilities`` attribute on the target (class or factory): ``{name: present}``."""
    declared = getattr(factory, "chatstore_capabilities", None)
    if declared is None:
        return {}
    name = getattr(factory, "__qualname__", factory)
    if isinstance(declared, Mapping):
        return check(declared, f"{name}.chatstore_capabilities")
    raise CapabilityError(f"{name}.chatstore_capabilities must be a mapping such as {{'threads': False}}")


def declarations(
    target_name: str,
    factory: object,
    from_fixture: Mapping[str, object],
    fixture_source: str,
    run_wide: Mapping[str, bool],
    run_wide_source: str,
) -> dict[str, tuple[bool, str]]:
    """Every declaration for one target, later sources winning: its attribute, the fixture, the run's settings."""
    found = {k: (v, f"{target_name}.chatstore_capabilities") for k, v in declared_by_target(factory).items()}
    found |= {k: (v, fixture_source) for k, v in check(from_fixture, fixture_source).items()}
    found |= {k: (v, run_wide_source) for k, v in run_wide.items()}
    return found


def effective(detected: frozenset[str], declared: Declared) -> frozenset[str]:
    """The capabilities the suite uses: detected ones, with the declarations applied."""
    present = {name for name, (has, _) in declared.items() if has}
    absent = {name for name, (has, _) in declared.items() if not has}
    return frozenset((detected | present) - absent)


@dataclass(frozen=True)
class Decision:
    """What a clause needing some capabilities may do against one target."""

    missing: tuple[str, ...]
    """Capabilities it lacks (the clause is skipped, naming them), unless all of them are probes."""
    probes: tuple[str, ...]
    """Declared absent, but detected: exercised anyway to see whether the declaration is wrong."""

    @property
    def runs(self) -> bool:
        return not self.missing or len(self.probes) == len(self.missing)


def decide(needed: Iterable[str], have: frozenset[str], detected: frozenset[str], declared: Declared) -> Decision:
    """Whether a clause needing ``needed`` runs, and which declared-absent capabilities it probes."""
    missing = tuple(c for c in needed if c not in have)
    probes = tuple(c for c in missing if c in detected and not declared.get(c, (True, ""))[0])
    return Decision(missing, probes)


def describe_missing(name: str, missing: Iterable[str], declared: Declared) -> str:
    """``X lacks capability ttl (the factory accepts `ttl`), ...``: the reason a clause is skipped."""
    reasons = []
    for capability in missing:
        present, where = declared.get(capability, (True, ""))
        reasons.append(f"{capability} ({CAPABILITIES[capability]}){'' if present else f', declared absent by {where}'}")
    return f"{name} lacks capability {'; '.join(reasons)}"
