"""Fault injection: the runtime fault settings, the seeded draw per request, and the magic numbers.

Every Dypnsapi request draws exactly two numbers from one ``random.Random(seed)``: one picks the
outcome from the cumulative fault probabilities, one scales the latency jitter. So with the same seed
and the same sequence of requests, the same sequence of outcomes repeats.
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final


class Outcome(StrEnum):
    """What happens to a request before (or instead of) normal processing."""

    NORMAL = "normal"
    THROTTLE = "Throttling.User"  # HTTP 400, ThrottlingException when retry_after_ms is set
    ERROR_500 = "InternalError"  # HTTP 500 JSON
    ERROR_503 = "ServiceUnavailable"  # HTTP 503 JSON
    ERROR_502 = "BadGateway"  # HTTP 502 HTML page (not JSON)
    HANG = "Hang"  # processed normally, then the response is held back hang_s seconds
    DROP = "ConnectionDropped"  # the connection is closed, nothing processed
    MOBILE_NUMBER_ILLEGAL = "MOBILE_NUMBER_ILLEGAL"  # HTTP 200 body
    BUSINESS_LIMIT_CONTROL = "BUSINESS_LIMIT_CONTROL"  # HTTP 200 body


@dataclass(frozen=True, slots=True)
class MagicRule:
    """The fixed outcome of a magic test number."""

    outcome: Outcome
    first_n: int | None = None  # only the first n matching requests since reset; None = every time
    nth: int | None = None  # only the nth matching request since reset (a later send's first try)
    send_only: bool = False  # only SendSmsVerifyCode requests (else both actions)
    description: str = ""


SEND = "SendSmsVerifyCode"

#: Magic test numbers (all valid mainland mobile numbers per ``phonenumbers``): always this outcome,
#: whatever the fault probabilities. Counters for ``first_n`` restart at ``POST /_emulator/reset``.
MAGIC_NUMBERS: Final[Mapping[str, MagicRule]] = {
    "13900000001": MagicRule(Outcome.THROTTLE, description="HTTP 400 Throttling.User, every time"),
    "13900000002": MagicRule(Outcome.ERROR_500, description="HTTP 500 InternalError, every time"),
    "13900000003": MagicRule(Outcome.ERROR_503, description="HTTP 503 ServiceUnavailable, every time"),
    "13900000004": MagicRule(Outcome.ERROR_502, description="HTTP 502 HTML page, every time"),
    "13900000005": MagicRule(
        Outcome.HANG, send_only=True, description="send processed, then the response hangs hang_s, every time"
    ),
    "13900000006": MagicRule(Outcome.DROP, description="connection dropped, nothing processed, every time"),
    "13900000007": MagicRule(
        Outcome.MOBILE_NUMBER_ILLEGAL, send_only=True, description="HTTP 200 Code MOBILE_NUMBER_ILLEGAL"
    ),
    "13900000008": MagicRule(
        Outcome.BUSINESS_LIMIT_CONTROL, send_only=True, description="HTTP 200 Code BUSINESS_LIMIT_CONTROL"
    ),
    "13900000009": MagicRule(
        Outcome.HANG,
        first_n=1,
        send_only=True,
        description="first send processed then hangs hang_s; later sends normal (biz.FREQUENCY in Interval)",
    ),
    "13900000010": MagicRule(
        Outcome.ERROR_503, first_n=2, description="first 2 requests HTTP 503 ServiceUnavailable, then normal"
    ),
    "13900000011": MagicRule(
        Outcome.DROP, first_n=1, description="first request dropped unprocessed, then normal"
    ),
    "13900000012": MagicRule(
        Outcome.DROP,
        nth=2,
        send_only=True,
        description="second send dropped unprocessed, the rest normal (a later send's ambiguity)",
    ),
}

_RATES = ("throttle_rate", "error_500_rate", "error_503_rate", "error_502_rate", "hang_rate", "drop_rate")
_RATE_OUTCOMES = (
    Outcome.THROTTLE,
    Outcome.ERROR_500,
    Outcome.ERROR_503,
    Outcome.ERROR_502,
    Outcome.HANG,
    Outcome.DROP,
)


@dataclass(frozen=True, slots=True)
class FaultSettings:
    """Fault probabilities and service limits; what ``GET/PUT /_emulator/faults`` show and change."""

    throttle_rate: float = 0.0
    error_500_rate: float = 0.0
    error_503_rate: float = 0.0
    error_502_rate: float = 0.0
    hang_rate: float = 0.0
    drop_rate: float = 0.0
    latency_ms: float = 0.0  # added to every Dypnsapi request
    jitter_ms: float = 0.0  # plus uniform [0, jitter_ms)
    hang_s: float = 30.0  # how long a hung response is held back
    rate_limit: float | None = 500.0  # requests/s per AccessKey (Throttling.User above it); None = off
    retry_after_ms: int | None = None  # x-acs-retry-after on Throttling.User; None = no header
    daily_limit: int | None = 10  # accepted sends per number per day; None = off

    def updated(self, changes: Mapping[str, Any]) -> FaultSettings:
        """A copy with ``changes`` applied; raises ``ValueError`` naming an unknown key or bad value."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown fault keys: {', '.join(unknown)}")
        values = {name: _checked(name, value) for name, value in changes.items()}
        result = dataclasses.replace(self, **values)
        if sum(getattr(result, name) for name in _RATES) > 1.0:
            raise ValueError("the fault probabilities add up to more than 1")
        return result

    def as_dict(self) -> dict[str, Any]:
        """The settings as plain JSON-ready data."""
        return dataclasses.asdict(self)


def _checked(name: str, value: Any) -> Any:
    nullable = name in ("rate_limit", "retry_after_ms", "daily_limit")
    if value is None and nullable:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        # json.loads takes NaN and Infinity: NaN slips past every comparison below (a NaN rate_limit
        # turns flow control off) and either one makes GET /_emulator/faults answer non-JSON
        raise ValueError(f"{name} must be a finite number{' or null' if nullable else ''}")
    if name in _RATES and not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be between 0 and 1")
    if value < 0 or (name in ("rate_limit", "retry_after_ms", "daily_limit") and value <= 0):
        raise ValueError(f"{name} must be positive")
    if name in ("retry_after_ms", "daily_limit"):
        if int(value) != value:
            raise ValueError(f"{name} must be an integer")
        return int(value)
    return float(value)


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome drawn for one request and the delay to add before answering."""

    outcome: Outcome
    delay_s: float


class FaultInjector:
    """Draws the outcome of each Dypnsapi request from the settings, the seed and the magic numbers."""

    def __init__(self, settings: FaultSettings, seed: int | None) -> None:
        self._startup = (settings, seed)
        self.settings = settings
        self.seed = seed
        self._rng = random.Random(seed)  # noqa: S311 - a reproducible fault sequence is the point
        self._magic_seen: dict[str, int] = {}

    def reset(self) -> None:
        """Back to the startup settings and seed; magic-number counters restart."""
        self.settings, seed = self._startup
        self.reseed(seed)
        self._magic_seen.clear()

    def reseed(self, seed: int | None) -> None:
        """Restart the outcome sequence from ``seed``."""
        self.seed = seed
        self._rng = random.Random(seed)  # noqa: S311 - a reproducible fault sequence is the point

    def decide(self, action: str, phone: str | None) -> Decision:
        """The outcome for one request of ``action`` about ``phone``."""
        settings = self.settings
        draw = self._rng.random()
        jitter = self._rng.random()
        delay_s = (settings.latency_ms + settings.jitter_ms * jitter) / 1000.0
        rule = MAGIC_NUMBERS.get(phone) if phone else None
        if rule is not None and (action == SEND or not rule.send_only):
            assert phone is not None
            seen = self._magic_seen[phone] = self._magic_seen.get(phone, 0) + 1
            if rule.nth is not None:
                if seen == rule.nth:
                    return Decision(rule.outcome, delay_s)
            elif rule.first_n is None or seen <= rule.first_n:
                return Decision(rule.outcome, delay_s)
        threshold = 0.0
        for name, outcome in zip(_RATES, _RATE_OUTCOMES, strict=True):
            threshold += getattr(settings, name)
            if draw < threshold:
                return Decision(outcome, delay_s)
        return Decision(Outcome.NORMAL, delay_s)
