"""Hypothesis settings for the suite: how many examples each kind of test gets under each profile.

``default`` and ``thorough`` differ in budget; ``ci`` has the default's budget,
derandomized and without an example database, so a CI verdict cannot flip.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # Hypothesis is imported when a suite test asks for settings, not when pytest loads the plugin
    from hypothesis import settings

Kind = Literal["property", "machine", "timed", "heavy"]

PROFILES: dict[str, dict[Kind, dict[str, Any]]] = {
    "default": {
        "property": {"max_examples": 30},
        "machine": {"max_examples": 150, "stateful_step_count": 50},
        "timed": {"max_examples": 80, "stateful_step_count": 40},
        "heavy": {"max_examples": 2},
    },
    "thorough": {
        "property": {"max_examples": 400},
        "machine": {"max_examples": 400, "stateful_step_count": 60},
        "timed": {"max_examples": 300, "stateful_step_count": 60},
        "heavy": {"max_examples": 10},
    },
}
PROFILES["ci"] = PROFILES["default"]
"""Examples per test kind. ``ci`` has the default's counts but is derandomized (see :func:`hypothesis_settings`)."""


def hypothesis_settings(
    profile: str, kind: Kind, *, settled: bool = False, max_examples: int | None = None
) -> settings:
    """Settings for one suite test of ``kind`` under ``profile`` (``default``, ``ci`` or ``thorough``).

    ``max_examples`` replaces the profile's count (a clause reduced to fit the time budget).

    ``settled`` is for a clause whose failure is already known (an expected failure, or a
    probe of a capability declared absent): derandomized, so its verdict cannot flip
    between runs, and without shrinking, which only costs time there.
    """
    from hypothesis import HealthCheck, Phase, settings

    common: dict[str, Any] = {
        "deadline": None,  # speed is measured by benchmarks, not by timed tests
        # The explain phase re-runs a failure under tracing: ~12 s per failure with nested JSON
        # messages, and the kit's own report already shows the operations that failed.
        "phases": [p for p in Phase if p is not Phase.explain],
        "suppress_health_check": [
            HealthCheck.too_slow,
            HealthCheck.function_scoped_fixture,
            HealthCheck.data_too_large,
        ],
    }
    extra: dict[str, Any] = {"print_blob": True}
    if profile == "ci" or settled:
        extra |= {"derandomize": True, "database": None}
    if settled:
        extra["phases"] = [p for p in common["phases"] if p is not Phase.shrink]
    if max_examples is not None:
        extra["max_examples"] = max_examples
    return settings(**{**common, **PROFILES[profile][kind], **extra})
