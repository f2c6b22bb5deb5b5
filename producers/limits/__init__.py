"""Limits as data: the ``"N/period;…"`` notation, parsed once.

How a limit is counted and where it is stored live elsewhere (abuse limits in the producer's Redis
scripts, the upstream GCRA in ``worker.limiter``); this package only says what a limit is.
"""

from __future__ import annotations

from producers.limits.notation import (
    MAX_LIMIT,
    MAX_WINDOW_S,
    UNITS_S,
    Rate,
    format_rates,
    parse_rate,
    parse_rates,
)

__all__ = ["MAX_LIMIT", "MAX_WINDOW_S", "UNITS_S", "Rate", "format_rates", "parse_rate", "parse_rates"]
