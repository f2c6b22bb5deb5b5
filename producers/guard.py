"""Abuse limits on sends: which rules apply to a send, built once from the settings.

Scopes: ``phone`` (per number), ``ip`` (per client IP), ``prefix`` (per 7-digit number block, the
SMS-pumping signal), ``purpose`` (per purpose, e.g. login) and ``account`` (a daily budget for
everything). Counting happens atomically with the send record in ``lua/enqueue.lua``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from producers.constants import limit_key
from producers.limits import Rate
from producers.settings import Settings, get_settings
from producers.store import LimitRule

PREFIX_DIGITS = 7


@dataclass(frozen=True, slots=True)
class Guard:
    """The configured rules, per scope, and who bypasses them."""

    scopes: dict[str, tuple[Rate, ...]]
    monitor: frozenset[str]
    safe_numbers: frozenset[str]

    @classmethod
    def from_settings(cls, settings: Settings) -> Guard:
        return cls(settings.limit_scopes(), settings.monitor_rules, settings.safe_numbers)

    def rules_for(self, phone: str, purpose: str, client_ip: str | None) -> tuple[LimitRule, ...]:
        """The rules a send must pass; none for a number on the safe list."""
        if phone in self.safe_numbers:
            return ()
        subjects = {
            "phone": phone,
            "ip": client_ip,
            "prefix": phone[:PREFIX_DIGITS],
            "purpose": purpose,
            "account": "all",
        }
        rules: list[LimitRule] = []
        for scope, rates in self.scopes.items():
            subject = subjects[scope]
            if subject is None:
                continue
            for rate in rates:
                name = f"{scope}:{rate}"
                rules.append(
                    LimitRule(
                        name=name,
                        key=limit_key(scope, subject),
                        limit=rate.limit,
                        window_s=rate.window_s,
                        monitor=scope in self.monitor or name in self.monitor,
                    )
                )
        return tuple(rules)


@functools.cache
def get_guard() -> Guard:
    """The process's guard, from its settings."""
    return Guard.from_settings(get_settings())
