"""The kit's clock: time a store reads when its factory accepts ``clock``, moved by hand."""

from __future__ import annotations

CLOCK_TTL = 10
"""The ``ttl`` the clock-mode scenarios and the timed state machine build stores with."""
CLOCK_START = 1_000.0


class ManualClock:
    """A clock the kit moves by hand: ``clock()`` returns the current time in seconds."""

    def __init__(self, start: float = CLOCK_START) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now
