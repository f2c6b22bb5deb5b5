"""A plain-Python model of ``worker/lua/gcra.lua``: the same answers, no Redis, simulated time.

It is deliberately written from the algorithm's definition rather than copied line by line, so the
tests compare two statements of one rule. Times are integer µs; a limiter with no state behaves as
one whose TAT is in the past.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from worker.limiter import Limiter


@dataclass
class GcraModel:
    """Theoretical arrival times and penalty factors by limiter name."""

    tats: dict[str, int] = field(default_factory=dict)
    penalties: dict[str, float] = field(default_factory=dict)

    def take(self, limiters: Sequence[Limiter], max_wait_us: int, now_us: int) -> tuple[int, bool, int]:
        """``(wait_us, reserved, binding)`` exactly as the script answers."""
        if not limiters:
            return 0, True, 0
        # When is each limiter's next token valid? TAT minus the burst tolerance (base interval).
        valid_at = [
            max(self.tats.get(item.name, now_us), now_us) - (item.burst - 1) * item.interval_us
            for item in limiters
        ]
        waits = [max(0, at - now_us) for at in valid_at]
        wait = max(waits)
        binding = waits.index(wait) + 1 if wait > 0 else 0
        if wait > max_wait_us:
            return wait, False, binding
        use_at = now_us + wait
        for item in limiters:
            step = item.interval_us
            factor = self.penalties.get(item.name, 1.0)
            if factor > 1:
                step = math.ceil(item.interval_us * factor)
            self.tats[item.name] = max(self.tats.get(item.name, use_at), use_at) + step
        return wait, True, binding

    def state(self) -> dict[str, int]:
        """The TATs, for comparing with Redis."""
        return dict(self.tats)


def max_in_window(times: Sequence[int], length_us: int) -> int:
    """The most events in any closed window ``[t, t + length_us]``."""
    ordered = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(ordered):
        while ordered[start] < t - length_us:
            start += 1
        best = max(best, end - start + 1)
    return best
