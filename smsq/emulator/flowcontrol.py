"""Account flow control: a token bucket of ``rate_limit`` requests/s (burst of one second) per AccessKey."""

from __future__ import annotations


class FlowControl:
    """Per-key token buckets; ``allow`` answers whether one more request fits."""

    def __init__(self) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, last refill time)

    def allow(self, key_id: str, rate: float | None, now: float) -> bool:
        """Take one token from ``key_id``'s bucket; False when it is empty. ``rate`` None = unlimited."""
        if rate is None:
            return True
        capacity = max(rate, 1.0)
        tokens, last = self._buckets.get(key_id, (capacity, now))
        tokens = min(capacity, tokens + max(0.0, now - last) * rate)
        if tokens < 1.0:
            self._buckets[key_id] = (tokens, now)
            return False
        self._buckets[key_id] = (tokens - 1.0, now)
        return True

    def reset(self) -> None:
        """Every bucket full again."""
        self._buckets.clear()
