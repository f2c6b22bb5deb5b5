"""The scenarios: what goes wrong, and when, while the load runs.

Times are seconds after the scenario's load starts. The full load (300 sends at 8/s) runs for about
40 s, so every fault lands while sends are in flight, and while the slow lane (1/s, a fifth of the
sends) has a backlog waiting for its rate.
"""

from __future__ import annotations

from dataclasses import dataclass

from smsq.chaos.load import LoadPlan

KILLS = frozenset({"kill-worker", "kill-host"})
REDIS_FAULTS = frozenset({"redis-restart", "redis-outage"})

FULL_LOAD = LoadPlan(accepted=300, rate_per_s=8.0)
QUICK_LOAD = LoadPlan(accepted=60, rate_per_s=6.0)


@dataclass(frozen=True, slots=True)
class Step:
    """One fault at ``at_s`` seconds into the load: kill-worker, kill-host, redis-restart or
    redis-outage."""

    at_s: float
    fault: str


@dataclass(frozen=True, slots=True)
class Scenario:
    """A named set of faults over one load."""

    name: str
    summary: str
    steps: tuple[Step, ...] = ()
    #: 30 % provider faults for as long as the load runs (healthy again afterwards)
    provider_faults: bool = False

    @property
    def kills(self) -> bool:
        return any(step.fault in KILLS for step in self.steps)

    @property
    def redis_faults(self) -> bool:
        return any(step.fault in REDIS_FAULTS for step in self.steps)


def _steps(*pairs: tuple[float, str]) -> tuple[Step, ...]:
    return tuple(Step(at, fault) for at, fault in pairs)


SCENARIOS: dict[str, Scenario] = {
    scenario.name: scenario
    for scenario in (
        Scenario("baseline", "no faults"),
        Scenario(
            "kill-worker",
            "5 x kill -9 of a worker process mid-call (prefork: a pool child; threads: the process)",
            _steps(
                (5, "kill-worker"),
                (11, "kill-worker"),
                (17, "kill-worker"),
                (23, "kill-worker"),
                (29, "kill-worker"),
            ),
        ),
        Scenario(
            "kill-host",
            "2 x kill -9 of every process of one smsq worker",
            _steps((8, "kill-host"), (24, "kill-host")),
        ),
        Scenario(
            "redis-restart",
            "2 x kill -9 of Redis, restarted from its AOF after 2 s",
            _steps((10, "redis-restart"), (26, "redis-restart")),
        ),
        Scenario("redis-outage", "Redis unreachable (frozen) for 20 s", _steps((10, "redis-outage"))),
        Scenario("provider-faults", "30 % provider faults during the load", provider_faults=True),
        Scenario(
            "combined",
            "all at once: provider faults, 3 worker kills, a host kill, a Redis restart, a 20 s outage",
            _steps(
                (4, "kill-worker"),
                (9, "redis-restart"),
                (14, "kill-worker"),
                (19, "kill-host"),
                (24, "redis-outage"),
                (30, "kill-worker"),
            ),
            provider_faults=True,
        ),
    )
}

#: What ``smsq chaos --quick`` runs when no scenario is named: one kill mid-call, one Redis restart.
QUICK = Scenario(
    "quick", "one kill -9 mid-call, one Redis restart", _steps((3, "kill-worker"), (6, "redis-restart"))
)
