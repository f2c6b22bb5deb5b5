"""What a limit is: the ``"N/period;…"`` notation, parsed once into :class:`Rate` records.

Grammar (ASCII, case-insensitive, spaces allowed around every token)::

    rules  := ""  |  rule (";" rule)*
    rule   := LIMIT "/" [MULTIPLIER] UNIT
    UNIT   := second | minute | hour | day      (an "s" plural is accepted: "5/minutes")

``"1/second"``, ``"5/minute"``, ``"3/10minutes"`` and ``"3 / 10 minutes"`` are rules; an empty or
blank string is "no rules". Everything else raises :class:`~producers.errors.InvalidArgument` saying
what was wrong: a zero limit or multiplier, an unknown unit, an empty rule (``"1/minute;"``), a window
longer than :data:`MAX_WINDOW_S`, a limit above :data:`MAX_LIMIT`.

Two rules for the same window (``"5/minute;10/minute"``, or ``"60/hour;1/60minutes"``) are refused:
one of them would be dead or contradictory, and counters are keyed by window, so they would collide.
The order of the rules is kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from producers.errors import InvalidArgument

#: Seconds in each unit, largest first (``str(rate)`` picks the largest unit that divides the window).
UNITS_S: dict[str, int] = {"day": 86_400, "hour": 3_600, "minute": 60, "second": 1}
#: A higher limit is a typo, not a policy (a billion per window).
MAX_LIMIT = 1_000_000_000
#: The longest window a rule may name: one year, in seconds.
MAX_WINDOW_S = 366 * 86_400

_RULE = re.compile(
    r"\s*(?P<limit>[0-9]+)\s*/\s*(?P<multiplier>[0-9]+)?\s*(?P<unit>[a-z]+?)(?P<plural>s?)\s*",
    re.ASCII | re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Rate:
    """At most ``limit`` events per ``window_s`` seconds. ``text`` is the rule as written, if parsed."""

    limit: int
    window_s: int
    text: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_LIMIT:
            raise InvalidArgument(f"a rate limit must be between 1 and {MAX_LIMIT}, not {self.limit}")
        if not 1 <= self.window_s <= MAX_WINDOW_S:
            raise InvalidArgument(f"a rate window must be 1 to {MAX_WINDOW_S} seconds, not {self.window_s}")

    @property
    def per_second(self) -> float:
        """The long-run rate in events per second."""
        return self.limit / self.window_s

    def __str__(self) -> str:
        """The canonical notation, e.g. ``5/minute`` or ``3/10minutes``; parses back to an equal rate."""
        for unit, seconds in UNITS_S.items():
            if self.window_s % seconds == 0:
                count = self.window_s // seconds
                period = unit if count == 1 else f"{count}{unit}s"
                return f"{self.limit}/{period}"
        raise AssertionError("unreachable: every window is a whole number of seconds")


def _shown(text: str) -> str:
    """The offending text for a message, quoted and cut to a readable length."""
    text = text.strip()
    return repr(text if len(text) <= 40 else f"{text[:37]}...")


def _number(digits: str, text: str, what: str) -> int:
    """An ASCII digit string as an int, refusing absurd lengths before converting."""
    significant = digits.lstrip("0")
    if len(significant) > len(str(MAX_LIMIT)):
        raise InvalidArgument(f"rate rule {_shown(text)} has a {what} that is far too large")
    return int(significant or "0")


def _parse_rule(text: str) -> Rate:
    match = _RULE.fullmatch(text)
    if match is None:
        raise InvalidArgument(f"rate rule {_shown(text)} is not of the form N/period, e.g. 5/minute")
    unit = match["unit"].lower()
    if unit not in UNITS_S:
        raise InvalidArgument(
            f"rate rule {_shown(text)} has unknown unit {_shown(match['unit'])}; "
            f"use one of {', '.join(UNITS_S)}"
        )
    limit = _number(match["limit"], text, "limit")
    multiplier = _number(match["multiplier"] or "1", text, "multiplier")
    if limit == 0:
        raise InvalidArgument(f"rate rule {_shown(text)} allows nothing: the limit must be at least 1")
    if multiplier == 0:
        raise InvalidArgument(f"rate rule {_shown(text)} has an empty window: the multiplier must be >= 1")
    try:
        return Rate(limit, multiplier * UNITS_S[unit], text.strip())
    except InvalidArgument as exc:
        raise InvalidArgument(f"rate rule {_shown(text)}: {exc}") from None


def parse_rates(text: str) -> tuple[Rate, ...]:
    """Parse ``"1/minute;5/hour;10/day"`` into rates, in order; a blank string means no rules."""
    if not isinstance(text, str):
        raise InvalidArgument(f"rate rules must be a string, not {type(text).__name__}")
    if not text.strip():
        return ()
    rates: list[Rate] = []
    for part in text.split(";"):
        if not part.strip():
            raise InvalidArgument(f"rate rules {_shown(text)} contain an empty rule (a stray ';')")
        rate = _parse_rule(part)
        for earlier in rates:
            if earlier.window_s == rate.window_s:
                raise InvalidArgument(
                    f"rate rules {_shown(text)} have two rules for one window: "
                    f"{_shown(earlier.text)} and {_shown(rate.text)}"
                )
        rates.append(rate)
    return tuple(rates)


def parse_rate(text: str) -> Rate:
    """Parse exactly one rule, e.g. a lane's ``"50/second"``."""
    rates = parse_rates(text)
    if len(rates) != 1:
        raise InvalidArgument(f"expected exactly one rate rule, got {len(rates)} in {_shown(text)}")
    return rates[0]


def format_rates(rates: Iterable[Rate]) -> str:
    """The canonical notation of several rates: ``parse_rates(format_rates(r)) == tuple(r)``."""
    return ";".join(str(rate) for rate in rates)
