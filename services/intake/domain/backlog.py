"""How far triage is behind, and when intake stops accepting because of it (pure).

Two bounds: how many alerts wait (TIERLINE_INTAKE_MAX_LAG) and how long the oldest one not yet taken has
waited (TIERLINE_INTAKE_MAX_LAG_S). A stalled triage reaches the second within seconds at any rate; the
count alone let a 20 s stall pile up 3,500 alerts without a word.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class TriageBacklog:
    messages: int = 0  # alert events not yet acknowledged by triage
    seconds: float = 0.0  # age of the oldest one not yet delivered
    overloaded: bool = False  # past either bound: intake answers 503 + Retry-After instead of queueing more

    def measured(self, messages: int, seconds: float, *, max_messages: int, max_seconds: float) -> bool:
        """Take a new measurement; True when it turned `overloaded` on or off."""
        was = self.overloaded
        self.messages, self.seconds = messages, seconds
        self.overloaded = messages > max_messages or seconds > max_seconds
        return was != self.overloaded

    def unknown(self) -> None:
        """Not measurable (triage's consumer not created yet, NATS reconnecting): keep accepting."""
        self.overloaded = False
