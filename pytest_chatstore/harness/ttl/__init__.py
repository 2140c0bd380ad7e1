"""Time in the spec: TTL scenarios, run on a manual clock or in real time.

- :mod:`.clock`: the kit's :class:`ManualClock`, for factories that accept ``clock``;
- :mod:`.scenarios`: one scenario per TTL clause, written once against a timeline
  that either jumps (clock mode, instant and exact) or sleeps (real-time mode);
- :mod:`.realtime`: every real-time scenario of the session in one batch.

The package receives the stores it runs scenarios on; it never builds them.
"""

from pytest_chatstore.engine.failures import Inconclusive
from pytest_chatstore.harness.ttl.clock import CLOCK_START, CLOCK_TTL, ManualClock
from pytest_chatstore.harness.ttl.realtime import RealTimeBatches, RealTimeJob, run_real_time_batch
from pytest_chatstore.harness.ttl.scenarios import REALTIME_TTL, SCENARIOS, run_in_clock_mode, ttl_for

__all__ = [
    "CLOCK_START",
    "CLOCK_TTL",
    "REALTIME_TTL",
    "SCENARIOS",
    "Inconclusive",
    "ManualClock",
    "RealTimeBatches",
    "RealTimeJob",
    "run_in_clock_mode",
    "run_real_time_batch",
    "ttl_for",
]
