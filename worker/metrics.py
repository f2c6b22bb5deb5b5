"""Prometheus metrics of the workers, correct across processes.

Counters and histograms are kept per process by ``prometheus-client``; with a prefork pool,
``smsq worker`` sets ``PROMETHEUS_MULTIPROC_DIR`` so the host's ``/metrics`` adds up every pool
process. Queue depth, check results and delivery receipts are global facts read from Redis at
scrape time: every host exports the same value, so dashboards aggregate them with ``max()``, not
``sum()``.

Receipts are counted in Redis by the script that applies them (``receipts.lua``), not by the
process that received them: a push may land on any gateway replica, and only the script knows
whether a receipt was new, a duplicate or for an unknown send, so a duplicate or a retried push is
never counted twice, whatever the number of gateways.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import redis
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from producers import constants, errors
from producers.receipts import ReceiptOutcome, delivery_counts
from producers.store import check_results, conversion_counts

#: What ``smsq admin`` counts in ``smsq:stats:admin`` (exported with a zero before the first one).
ADMIN_ACTIONS = ("unlock", "unblock")
#: What the pumping breaker counts in ``smsq:stats:pumping`` (exported with a zero before the first).
PUMPING_EVENTS = ("trips", "monitor_trips", "refused", "monitored")

_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
_E2E_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)

SENDS = Counter("smsq_sends", "Sends finished by a worker", ["lane", "outcome", "reason"])
PROVIDER_LATENCY = Histogram(
    "smsq_provider_request_duration_seconds",
    "Provider call latency",
    ["action", "outcome"],
    buckets=_LATENCY_BUCKETS,
)
PROVIDER_ERRORS = Counter("smsq_provider_errors", "Provider errors by code", ["action", "code"])
RETRIES = Counter("smsq_send_retries", "Send attempts retried", ["lane", "reason"])
LIMITER_WAIT = Histogram(
    "smsq_limiter_wait_seconds", "Time a send slept for the upstream rate", ["lane"], buckets=_LATENCY_BUCKETS
)
LIMITER_PARKED = Counter("smsq_limiter_parked", "Sends parked in Redis until their rate slot", ["lane"])
ENQUEUE_TO_SENT = Histogram(
    "smsq_enqueue_to_sent_seconds",
    "From send_code() to the provider's acceptance",
    ["lane"],
    buckets=_E2E_BUCKETS,
)
IN_PROGRESS = Gauge("smsq_tasks_in_progress", "Sends being worked on", ["lane"], multiprocess_mode="livesum")


def outcome_of(exc: errors.ProviderError | None) -> str:
    """The ``outcome`` label for a provider call."""
    if exc is None:
        return "ok"
    if isinstance(exc, errors.ProviderThrottled):
        return "throttled"
    if isinstance(exc, errors.ProviderTransient):
        return "transient"
    if isinstance(exc, errors.ProviderAmbiguous):
        return "ambiguous"
    return "permanent"


def provider_request(action: str, seconds: float, exc: errors.ProviderError | None) -> None:
    """Count one provider call and its latency."""
    PROVIDER_LATENCY.labels(action, outcome_of(exc)).observe(seconds)
    if exc is not None:
        PROVIDER_ERRORS.labels(action, exc.code or exc.reason).inc()


def send_finished(lane: str, outcome: str, reason: str) -> None:
    """Count a send's final outcome (sent, failed, expired, duplicate)."""
    SENDS.labels(lane, outcome, reason).inc()


def retried(lane: str, reason: str) -> None:
    RETRIES.labels(lane, reason).inc()


def limiter_waited(lane: str, seconds: float) -> None:
    LIMITER_WAIT.labels(lane).observe(seconds)


def limiter_parked(lane: str) -> None:
    LIMITER_PARKED.labels(lane).inc()


def observe_enqueue_to_sent(lane: str, seconds: float) -> None:
    ENQUEUE_TO_SENT.labels(lane).observe(seconds)


@contextmanager
def in_progress(lane: str) -> Iterator[None]:
    """Count a send as in progress while the block runs."""
    gauge = IN_PROGRESS.labels(lane)
    gauge.inc()
    try:
        yield
    finally:
        gauge.dec()


class _NeverLower:
    """A count that is reported as at least what was reported before. The failed checks are derived
    (asked - passed - error: counting them would cost a wrong check a round trip), so a check in
    flight at one scrape counts as failed there and, if it then passes, would make the counter go
    down: Prometheus reads that as a reset and ``rate()`` jumps by the whole count. Held instead,
    the figure is at most the checks in flight at one scrape too high, until wrong checks catch up."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # scrapes may run in parallel threads
        self._reported = 0

    def report(self, count: int) -> int:
        with self._lock:
            self._reported = max(self._reported, count)
            return self._reported


class RedisCollector(Collector):
    """Global figures read from Redis when scraped: queue depth per lane and of the check queue,
    check results, operators' overrides (``smsq admin``), and delivery receipts (by outcome,
    deliveries by result, carrier code and purpose, and the time from send to delivery)."""

    def __init__(self, client: redis.Redis, lanes: Iterable[str]) -> None:
        self._redis = client
        self._lanes = tuple(lanes)
        self._failed_checks = _NeverLower()

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily | HistogramMetricFamily]:
        depth = GaugeMetricFamily("smsq_queue_depth", "Messages waiting in a lane's queue", labels=["lane"])
        waiting = GaugeMetricFamily(
            "smsq_waiting_sends",
            "Sends parked until their lane's rate slot (not in any queue)",
            labels=["lane"],
        )
        check_queue = GaugeMetricFamily(
            "smsq_check_queue_depth", "Checks waiting for a check worker (queue smsq.check)"
        )
        checks = CounterMetricFamily("smsq_checks", "check_code results (global)", labels=["result"])
        admin = CounterMetricFamily(
            "smsq_admin_actions", "Operator overrides by smsq admin (global)", labels=["action"]
        )
        pumping = CounterMetricFamily(
            "smsq_pumping",
            "Pumping breaker events (global): trips and monitor_trips (a prefix and purpose tripped), "
            "refused (sends refused while tripped), monitored (sends that monitor mode let through)",
            labels=["event"],
        )
        conversion = CounterMetricFamily(
            "smsq_conversion",
            "Sends admitted and sends verified, by purpose (global): verified / sent is the conversion",
            labels=["purpose", "event"],
        )
        tripped = GaugeMetricFamily(
            "smsq_pumping_tripped", "Prefix and purpose pairs whose pumping breaker is tripped now (global)"
        )
        try:
            pipe = self._redis.pipeline(transaction=False)
            for lane in self._lanes:
                pipe.llen(constants.queue_for_lane(lane))
                pipe.zcard(constants.due_key(lane))
            for name in (
                "checks",
                "admin",
                "pumping",
                "conversion",
                "receipts",
                "deliveries",
                "delivery_time",
            ):
                pipe.hgetall(constants.stats_key(name))
            pipe.hkeys(constants.pumping_trips_key())
            pipe.llen(constants.CHECK_QUEUE)
            (
                *per_lane,
                check_counts,
                admin_counts,
                pumping_counts,
                conversion_raw,
                receipts,
                deliveries,
                delivery_time,
                trips,
                waiting_checks,
            ) = pipe.execute()
            in_force = _existing(self._redis, trips)
        except redis.RedisError:
            return
        for index, lane in enumerate(self._lanes):
            depth.add_metric([lane], float(per_lane[2 * index]))
            waiting.add_metric([lane], float(per_lane[2 * index + 1]))
        check_queue.add_metric([], float(waiting_checks))
        for result, count in check_results(check_counts).items():
            held = self._failed_checks.report(count) if result == "failed" else count
            checks.add_metric([result], float(held))
        for action in ADMIN_ACTIONS:
            admin.add_metric([action], float(admin_counts.get(action, 0)))
        for event in PUMPING_EVENTS:
            pumping.add_metric([event], float(pumping_counts.get(event, 0)))
        tripped.add_metric([], float(in_force))
        for purpose, counts in sorted(conversion_counts(conversion_raw).items()):
            for event, count in counts.items():
                conversion.add_metric([purpose, event], float(count))
        yield depth
        yield waiting
        yield check_queue
        yield checks
        yield admin
        yield pumping
        yield tripped
        yield conversion
        yield from receipt_families(receipts, deliveries, delivery_time)


def _existing(client: redis.Redis, keys: list[str]) -> int:
    """How many of ``keys`` exist (the trip keys still in their cool-down)."""
    return int(client.exists(*keys)) if keys else 0


def receipt_families(
    receipts: dict[str, str], deliveries: dict[str, str], delivery_time: dict[str, str]
) -> Iterator[CounterMetricFamily | HistogramMetricFamily]:
    """The receipt counters kept by receipts.lua, as metric families."""
    outcomes = CounterMetricFamily(
        "smsq_receipts", "Delivery receipts received, by what applying them did (global)", labels=["outcome"]
    )
    for outcome in ReceiptOutcome:
        outcomes.add_metric([outcome.value], float(receipts.get(outcome.value, 0)))
    results = CounterMetricFamily(
        "smsq_deliveries",
        "Sends whose carrier receipt said delivered or undelivered (global; a send overruled from "
        "undelivered to delivered counts in both)",
        labels=["result", "carrier_code", "purpose"],
    )
    for count in delivery_counts(deliveries):
        results.add_metric([count.result, count.carrier_code, count.purpose], float(count.count))
    timing = HistogramMetricFamily(
        "smsq_send_to_delivery_seconds",
        "From the provider's send to the carrier's delivery report, delivered sends (global)",
    )
    cumulative, buckets = 0.0, []
    for bound in (*constants.DELIVERY_TIME_BUCKETS_S, "+Inf"):
        cumulative += float(delivery_time.get(f"le:{bound}", 0))
        buckets.append((str(float(bound)) if bound != "+Inf" else "+Inf", cumulative))
    timing.add_metric([], buckets, sum_value=float(delivery_time.get("sum", 0)))
    yield outcomes
    yield results
    yield timing


def serve(host: str, port: int, client: redis.Redis, lanes: Iterable[str]) -> None:
    """Serve this host's ``/metrics`` on ``port`` (all pool processes, plus the Redis figures)."""
    registry = CollectorRegistry()
    # prometheus-client's own switch for multi-process mode (set by `smsq worker` for prefork)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        from prometheus_client import REGISTRY  # noqa: PLC0415

        registry = REGISTRY
    registry.register(RedisCollector(client, lanes))
    start_http_server(port, addr=host, registry=registry)
