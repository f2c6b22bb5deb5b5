"""The global check counters on /metrics: ``failed`` is derived, and must never go down."""

from __future__ import annotations

import redis
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from producers.constants import stats_key
from worker.metrics import RedisCollector


def failed_checks(registry: CollectorRegistry) -> float:
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for sample in family.samples:
            if sample.name == "smsq_checks_total" and sample.labels == {"result": "failed"}:
                return sample.value
    raise AssertionError("smsq_checks_total{result='failed'} is not exported")


def test_a_check_in_flight_that_then_passes_does_not_make_failed_go_down(redis_client: redis.Redis) -> None:
    registry = CollectorRegistry()
    registry.register(RedisCollector(redis_client, ["default"]))
    checks = stats_key("checks")
    # one wrong check answered, one check in flight: check_begin.lua counted both as asked
    redis_client.hset(checks, mapping={"asked": 2, "passed": 0, "error": 0})
    assert failed_checks(registry) == 2  # the one in flight cannot be told apart yet
    redis_client.hincrby(checks, "passed", 1)  # verified.lua: it passed
    assert failed_checks(registry) == 2  # held: a drop would read as a counter reset
    redis_client.hincrby(checks, "asked", 1)  # a wrong check, answered
    assert failed_checks(registry) == 2  # the held one is caught up
    redis_client.hincrby(checks, "asked", 1)
    assert failed_checks(registry) == 3
