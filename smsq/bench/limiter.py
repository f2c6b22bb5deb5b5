"""Lane precision: the shared GCRA against the provider's flow control; lanes do not wait on each other.

``rate``: a lane limited to 50/s is kept saturated by 3 worker processes (threads) for ``duration_s``
(30 s; ``--quick`` 3 s) while the emulator allows that key 50 requests/s. From the emulator's own
times of accepted sends in the steady window: the average rate / 50 (target 0.95-1.00), the most
sends in any 1-second sliding window (target <= 55) and the ``Throttling`` answers (target 0).

``lanes``: lane ``a`` limited to 1/s with 100 sends queued, then single sends in lane ``b`` on the
same workers: the time from each ``send_code()`` to its record's ``sent_at`` (target < 1 s).

The queue is filled before the clock starts (workers ready, consuming an idle queue), then an
``add_consumer`` broadcast opens it; the first ``WARMUP_S`` seconds are left out of the window.
"""

from __future__ import annotations

import json
import statistics
import time
from typing import Any

import redis

from smsq.bench.common import Bed, Numbers, Workers, producer_app, progress, tell_workers
from smsq.devstack.processes import Stack

LANE_RATE = 50
LANES = {"default": f"{LANE_RATE}/second", "a": "1/second", "b": f"{LANE_RATE}/second"}
PROCESSES = 3
CONCURRENCY = 8
PROVIDER_LATENCY_MS = 5
WARMUP_S = 2.0
FILL_FACTOR = 1.3  # sends queued per send the window needs, so the lane never runs dry
IDLE_QUEUE = "bench.idle"
LANE_A_BACKLOG = 100


def run(quick: bool) -> dict[str, Any]:
    """Saturate the lane, then measure lane isolation; return the figures and the parameters."""
    duration_s = 3.0 if quick else 30.0
    with Stack() as stack:
        bed = Bed(stack, ["--latency-ms", str(PROVIDER_LATENCY_MS)])
        lanes_env = {"SMSQ_LANES": json.dumps(LANES), "SMSQ_ACCOUNT_RATE": "400/second"}
        with bed.producer(**lanes_env):
            workers = bed.workers(
                bed.env(**lanes_env),
                count=PROCESSES,
                concurrency=CONCURRENCY,
                queues=[IDLE_QUEUE, "smsq.a", "smsq.b"],
            )
            try:
                rate = _rate(bed, workers, duration_s)
                lanes = _lanes(bed, workers, probes=3 if quick else 5)
            finally:
                workers.stop()
    return {
        "params": {
            "lanes": LANES,
            "processes": PROCESSES,
            "concurrency": CONCURRENCY,
            "pool": "threads",
            "duration_s": duration_s,
            "warmup_s": WARMUP_S,
            "emulator_rate_limit": LANE_RATE,
            "provider_latency_ms": PROVIDER_LATENCY_MS,
            "lane_a_backlog": LANE_A_BACKLOG,
        },
        "rate": rate,
        "lanes": lanes,
    }


def max_in_window(stamps: list[float], window_s: float = 1.0) -> int:
    """The most timestamps in any half-open window ``[t, t + window_s)`` (sliding, exact)."""
    ordered = sorted(stamps)
    best, low = 0, 0
    for high, stamp in enumerate(ordered):
        while ordered[low] <= stamp - window_s:
            low += 1
        best = max(best, high - low + 1)
    return best


def _throttles(stats: dict[str, Any]) -> int:
    answers = stats.get("requests", {}).get("SendSmsVerifyCode", {})
    return sum(int(n) for outcome, n in answers.items() if str(outcome).startswith("Throttling"))


def _rate(bed: Bed, workers: Workers, duration_s: float) -> dict[str, Any]:
    from producers import send_code  # noqa: PLC0415

    count = int(FILL_FACTOR * LANE_RATE * (duration_s + WARMUP_S)) + 1
    bar = progress(count, "limiter fill")
    for number in Numbers("151").many(count):
        send_code(number, purpose="bench")
        bar.update()
    bar.close()
    bed.emulator.reset()
    bed.emulator.set_faults(rate_limit=LANE_RATE, latency_ms=PROVIDER_LATENCY_MS)
    app = producer_app()
    opened = time.time()
    tell_workers(app, "add_consumer", "smsq.default", workers.nodes)
    window = (opened + WARMUP_S, opened + WARMUP_S + duration_s)
    bar = progress(round(WARMUP_S + duration_s), "limiter window (s)")
    shown = 0
    while time.time() < window[1] + 0.2:
        time.sleep(0.25)
        elapsed = min(round(WARMUP_S + duration_s), int(time.time() - opened))
        bar.update(elapsed - shown)
        shown = elapsed
    bar.close()
    stats = bed.emulator.stats()
    # Stop feeding the lane; what workers already hold drains before the lanes measurement.
    tell_workers(app, "cancel_consumer", "smsq.default", workers.nodes)
    client = redis.Redis.from_url(bed.redis_url)
    backlog = int(client.llen("smsq.default"))
    client.delete("smsq.default")
    client.close()
    stamps = [t for t in stats["send_timestamps"] if window[0] <= t < window[1]]
    average = len(stamps) / duration_s
    return {
        "sends_queued": count,
        "sends_in_window": len(stamps),
        "average_per_s": round(average, 2),
        "ratio": round(average / LANE_RATE, 4),
        "max_1s_window": max_in_window(stamps),
        "throttling_answers": _throttles(stats),
        "backlog_left": backlog,
        "timestamps": [round(t - window[0], 4) for t in stamps],
    }


def _quiet(bed: Bed, timeout_s: float = 20.0) -> None:
    """Wait until the emulator has seen no new send for a second (the lane's leftovers ran out)."""
    deadline = time.monotonic() + timeout_s
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        seen = int(bed.emulator.stats()["send_requests"])
        if seen != last:
            last, since = seen, time.monotonic()
        elif time.monotonic() - since >= 1.0:
            return
        time.sleep(0.2)


def _lanes(bed: Bed, workers: Workers, probes: int) -> dict[str, Any]:
    from producers import send_code  # noqa: PLC0415
    from producers.constants import record_key  # noqa: PLC0415

    del workers  # the same workers, already consuming smsq.a and smsq.b
    _quiet(bed)
    bed.emulator.set_faults(rate_limit=500)  # only the lanes' own limiters may hold a send back now
    for number in Numbers("152").many(LANE_A_BACKLOG):
        send_code(number, purpose="bench", lane="a")
    time.sleep(1.5)  # lane a is now throttled by its 1/s limiter, its sends waiting or re-queued
    client = redis.Redis.from_url(bed.redis_url, decode_responses=True)
    delays = []
    bar = progress(probes, "limiter lanes")
    for number in Numbers("153").many(probes):
        queued_at = time.time()
        ticket = send_code(number, purpose="bench", lane="b").id
        sent_at = None
        while sent_at is None and time.time() - queued_at < 30:
            sent_at = client.hget(record_key(ticket), "sent_at")
            if sent_at is None:
                time.sleep(0.005)
        delays.append(float(sent_at) - queued_at if sent_at is not None else float("inf"))
        bar.update()
        time.sleep(0.3)
    bar.close()
    client.close()
    return {
        "lane_b_to_sent_s": [round(d, 4) for d in delays],
        "max_s": round(max(delays), 4),
        "median_s": round(statistics.median(delays), 4),
    }
