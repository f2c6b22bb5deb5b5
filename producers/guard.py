"""Abuse limits on sends and checks: which rules apply to a call, built once from the settings.

Send scopes: ``phone`` (per number), ``ip`` (per client IP bucket, :mod:`producers.ip`),
``prefix`` (per 7-digit number block, the SMS-pumping signal), ``purpose`` (per purpose, e.g.
login) and ``account`` (a daily budget for everything). Check scopes: ``check_ip`` (per client IP
bucket) and ``check`` (everyone). Counting happens atomically with the send record
(``lua/enqueue.lua``) or the check's reservation (``lua/check_begin.lua``). Every log's key name
carries a keyed digest of its subject, never the number, prefix or IP itself.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass

from producers.keyring import Keyring
from producers.limits import Rate
from producers.pumping import PREFIX_DIGITS
from producers.settings import Settings, get_settings
from producers.store import LimitRule


@dataclass(frozen=True, slots=True)
class Guard:
    """The configured rules, per scope, who bypasses them, and the keys that name their logs."""

    scopes: dict[str, tuple[Rate, ...]]
    check_scopes: dict[str, tuple[Rate, ...]]
    monitor: frozenset[str]
    safe_numbers: frozenset[str]
    keyring: Keyring

    @classmethod
    def from_settings(cls, settings: Settings) -> Guard:
        return cls(
            settings.limit_scopes(),
            settings.check_limit_scopes(),
            settings.monitor_rules,
            settings.safe_numbers,
            Keyring.from_settings(settings),
        )

    def rules_for(
        self,
        phone: str,
        purpose: str,
        ip_bucket: str | None,
        *,
        purpose_limits: tuple[Rate, ...] | None = None,
    ) -> tuple[LimitRule, ...]:
        """The rules a send must pass; none for a number on the safe list. ``purpose_limits`` (the
        purpose's own, from SMSQ_PURPOSES) replace SMSQ_PURPOSE_LIMITS for its sends."""
        if phone in self.safe_numbers:
            return ()
        scopes = self.scopes if purpose_limits is None else {**self.scopes, "purpose": purpose_limits}
        subjects = {
            "phone": phone,
            "ip": ip_bucket,
            "prefix": phone[:PREFIX_DIGITS],
            "purpose": purpose,
            "account": "all",
        }
        return self._rules(scopes, subjects, monitored=True)

    def check_rules_for(self, phone: str, ip_bucket: str | None) -> tuple[LimitRule, ...]:
        """The rules a check must pass; none for a number on the safe list."""
        if phone in self.safe_numbers:
            return ()
        return self._rules(self.check_scopes, {"check_ip": ip_bucket, "check": "all"}, monitored=False)

    def _rules(
        self, scopes: Mapping[str, tuple[Rate, ...]], subjects: Mapping[str, str | None], *, monitored: bool
    ) -> tuple[LimitRule, ...]:
        rules: list[LimitRule] = []
        for scope, rates in scopes.items():
            subject = subjects[scope]
            if subject is None:
                continue
            current, *older = self.keyring.limit_keys(scope, subject)
            for rate in rates:
                name = f"{scope}:{rate}"
                rules.append(
                    LimitRule(
                        name=name,
                        key=current,
                        limit=rate.limit,
                        window_s=rate.window_s,
                        monitor=monitored and (scope in self.monitor or name in self.monitor),
                        older_keys=tuple(older),
                    )
                )
        return tuple(rules)


@functools.cache
def get_guard() -> Guard:
    """The process's guard, from its settings; raises ``ConfigurationError`` without data keys."""
    return Guard.from_settings(get_settings())
