"""A plain-Python model of the abuse-limit script (``producers/lua/enqueue.lua``).

A rule admits a send when fewer than ``limit`` earlier admissions lie in ``(now - window, now]``,
counted over every log it reads (its own and, during a key rotation, its subject's older logs);
a refusal says when the oldest admission that must leave the window leaves it. Only the rule's own
log is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from producers.store import LimitRule


@dataclass
class LimitsModel:
    logs: dict[str, list[int]] = field(default_factory=dict)  # key -> admission times (ms)

    def admit(self, rules: tuple[LimitRule, ...], now_ms: int) -> tuple[str, str, int, tuple[str, ...]]:
        """("ok", "", 0, monitored) or ("limited", rule name, retry_after_ms, ())."""
        monitored: list[str] = []
        for rule in rules:
            window = rule.window_s * 1000
            inside = sorted(t for key in rule.keys for t in self.logs.get(key, []) if t > now_ms - window)
            if len(inside) >= rule.limit:
                if rule.monitor:
                    monitored.append(rule.name)
                    continue
                leaving = inside[len(inside) - rule.limit]
                return ("limited", rule.name, leaving + window - now_ms, ())
        for rule in rules:
            self.logs.setdefault(rule.key, [])
        for key in {rule.key for rule in rules}:
            self.logs[key].append(now_ms)
        return ("ok", "", 0, tuple(monitored))
