"""Sends per second as worker processes grow, for smsq, the naive task and the no-op task.

``smsq bench scale --processes 1,2,4,8``: at each process count N, the variants of
:mod:`smsq.bench.variants` drain ``sends_per_process x N`` queued tasks each through N worker
processes of ``CONCURRENCY`` threads, in interleaved rounds (:mod:`smsq.bench.drain`), on one
Redis and one emulator (50 ms provider latency).
Scaling efficiency at N is ``rate(N) / (N / N0 x rate(N0))`` with N0 the smallest count measured
(1 unless told otherwise): 1.0 is linear. ``cores_busy`` says where the machine's cores went at
each point, so a curve that flattens can be read: workers short of cores, or the emulator (one
process) or Redis saturated. Nothing here depends on this machine: the default process counts
are the powers of two up to its CPU count.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import redis

from smsq.bench.common import Bed, Numbers
from smsq.bench.drain import compare
from smsq.bench.variants import Naive, Noop, Smsq
from smsq.devstack.processes import Stack

PROVIDER_LATENCY_MS = 50
CONCURRENCY = 64
VARIANTS = ("smsq", "naive", "noop")


def default_processes(cpu_count: int | None = None) -> list[int]:
    """1, 2, 4, ... up to the machine's CPU count (at least 1 and 2)."""
    cpus = max(2, cpu_count or os.cpu_count() or 2)
    counts = [1]
    while counts[-1] * 2 <= cpus:
        counts.append(counts[-1] * 2)
    return counts


def run(quick: bool, processes: Sequence[int] | None = None) -> dict[str, Any]:
    """Measure every variant at every process count; return the curves with their efficiency."""
    counts = sorted(set(processes or default_processes()))
    if not counts or counts[0] < 1:
        raise ValueError("process counts must be positive")
    per_process, rounds = (150, 2) if quick else (1000, 3)
    curve: dict[str, list[dict[str, Any]]] = {name: [] for name in VARIANTS}
    with Stack() as stack:
        bed = Bed(stack, ["--latency-ms", str(PROVIDER_LATENCY_MS), "--rate-limit", "0"])
        client = redis.Redis.from_url(bed.redis_url, decode_responses=True)
        numbers = {"smsq": Numbers("137"), "naive": Numbers("138")}
        with bed.producer():
            for n in counts:
                variants = [Smsq(client, numbers["smsq"]), Naive(client, numbers["naive"]), Noop(client)]
                results = compare(
                    bed, variants, per_process * n, processes=n, concurrency=CONCURRENCY, rounds=rounds
                )
                for name, result in results.items():
                    curve[name].append(_point(n, result))
        client.close()
    for points in curve.values():
        add_efficiency(points)
    return {
        "params": {
            "processes": counts,
            "concurrency": CONCURRENCY,
            "sends_per_process": per_process,
            "rounds": rounds,
            "pool": "threads",
            "provider_latency_ms": PROVIDER_LATENCY_MS,
            "cpu_count": os.cpu_count(),
        },
        "curve": curve,
    }


def _point(processes: int, result: dict[str, Any]) -> dict[str, Any]:
    point = {
        "processes": processes,
        "sends": result["sends"],
        "per_s": result["per_s"],
        "worker_cpu_ms_per_send": result["cpu_ms_per_send"]["workers"],
        "cores_busy": result["cores_busy"],
        "redis_round_trips_per_send": result["redis_per_send"]["round_trips"],
        "max_peak_rss_mb": result["max_peak_rss_mb"],
        "rounds": result["rounds"],
    }
    if "states" in result:
        point["states"] = result["states"]
    return point


def add_efficiency(points: list[dict[str, Any]]) -> None:
    """Scaling efficiency of every point against the first (smallest process count)."""
    if not points:
        return
    base = points[0]
    for point in points:
        ideal = base["per_s"] * point["processes"] / base["processes"]
        point["efficiency"] = round(point["per_s"] / ideal, 3) if ideal else None
