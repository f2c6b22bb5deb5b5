"""The plain-text table of a benchmark report: the figures a person reads first, then every target."""

from __future__ import annotations

from typing import Any

from smsq.bench.report import CHECK_LATENCIES_MS, async_burst, check_latency, div, get, worker_cpu

_HEADER = ("benchmark", "figure", "smsq", "baseline", "value", "ratio")
_QUANTILES = ("p50", "p95", "p99")
#: Step of ``send_code()`` -> how the table names it.
_STEPS = {
    "parse": "phone parse",
    "rules": "abuse rules",
    "message": "Celery message",
    "admit": "Lua admission",
    "other": "the rest",
}


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


class _Rows:
    """Rows of (benchmark, figure, smsq, baseline, value, ratio)."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, ...]] = [_HEADER]

    def add(
        self,
        bench: str,
        figure: str,
        smsq: Any,
        base: str,
        value: Any,
        ratio: Any = None,
        unit: str = "x",
        digits: int = 2,
    ) -> None:
        shown = "" if ratio is None else f"{ratio:g}{unit}"
        self.rows.append((bench, figure, _fmt(smsq, digits), base, _fmt(value, digits), shown))

    def text(self) -> str:
        widths = [max(len(row[i]) for row in self.rows) for i in range(len(_HEADER))]
        lines = [
            "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
            for row in self.rows
        ]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(lines)


def table(report: dict[str, Any]) -> str:
    """The figures a person reads first, as a plain-text table, then every target's verdict."""
    results = report["benchmarks"]
    rows = _Rows()
    for name, result in results.items():
        if "error" in result:
            rows.add(name, "FAILED", result["error"][:70], "", None)

    def ok(name: str) -> bool:
        return name in results and "error" not in results[name]

    for name, part in (
        ("enqueue", _enqueue),
        ("throughput", _throughput),
        ("scale", _scale),
        ("check", _check),
        ("limiter", _limiter),
        ("emulator", _emulator),
        ("receipts", _receipts),
        ("pumping", _pumping),
        ("async", _async),
    ):
        if ok(name):
            part(rows, results, report["ratios"])
    lines = [rows.text(), "", "targets:"]
    for t in report["targets"]:
        verdict = {True: "met", False: "NOT MET", None: "not measured"}[t["met"]]
        value = "-" if t["value"] is None else f"{t['value']:g}"
        lines.append(f"  [{verdict}] {t['name']}: {value}" + (f"  (gap: {t['gap']})" if t["gap"] else ""))
    return "\n".join(lines)


def _enqueue(rows: _Rows, results: dict[str, Any], r: dict[str, Any]) -> None:
    def lat(variant: str, q: str) -> Any:
        return get(results, "enqueue", "latency", variant, f"{q}_ms")

    for base, key in (("celery", "smsq_over_celery"), ("lpush", "smsq_over_lpush")):
        for q in _QUANTILES:
            ratio = r.get(f"enqueue_{q}_{key}")
            rows.add("enqueue", f"{q} ms vs {base}", lat("smsq", q), base, lat(base, q), ratio, digits=3)
    for q in ("p50", "p99"):
        ratio = r.get(f"enqueue_{q}_seed_over_smsq")
        rows.add("enqueue", f"{q} ms vs seed", lat("smsq", q), "seed", lat("seed", q), ratio, "x faster", 3)
    send_task = lat("celery", "p50")
    for step, label in _STEPS.items():
        p50 = get(results, "enqueue", "steps", step, "p50_ms")
        rows.add(
            "enqueue", f"step p50 ms: {label}", p50, "send_task", send_task, div(p50, send_task), digits=3
        )


def _throughput(rows: _Rows, results: dict[str, Any], r: dict[str, Any]) -> None:
    t = results["throughput"]
    shape = f"{t['params']['processes']}x{t['params']['concurrency']} threads"
    smsq = t["smsq"]
    rate = smsq["per_s"]
    rows.add(
        "throughput",
        f"sends/s, {shape}",
        rate,
        "naive task",
        t["naive"]["per_s"],
        r["throughput_smsq_over_naive"],
    )
    rows.add(
        "throughput", "sends/s", rate, "celery no-op", t["noop"]["per_s"], r["throughput_smsq_over_noop"]
    )
    rows.add("throughput", "sends/s", rate, "raw SDK loop", t["sdk"]["per_s"], r["throughput_smsq_over_sdk"])
    for base, label in (("naive", "naive task"), ("noop", "celery no-op")):
        rows.add(
            "throughput",
            "worker CPU ms/send",
            worker_cpu(results, "smsq"),
            label,
            worker_cpu(results, base),
            r[f"throughput_worker_cpu_smsq_over_{base}"],
        )
    cpu_all = {name: sum(t[name]["cpu_ms_per_send"].values()) for name in ("smsq", "naive")}
    rows.add(
        "throughput",
        "CPU ms/send, workers+Redis+emulator",
        cpu_all["smsq"],
        "naive task",
        cpu_all["naive"],
        div(cpu_all["smsq"], cpu_all["naive"]),
    )
    for figure, key in (("Redis round trips/send", "round_trips"), ("Redis commands/send", "commands_total")):
        value = smsq["redis_per_send"][key]
        base = t["naive"]["redis_per_send"][key]
        rows.add("throughput", figure, value, "naive task", base, div(value, base))
    rows.add(
        "throughput",
        "peak RSS MB/process",
        smsq["max_peak_rss_mb"],
        "celery no-op",
        t["noop"]["max_peak_rss_mb"],
        r["throughput_rss_smsq_over_noop"],
    )
    rows.add(
        "throughput",
        "enqueue/s, 1 thread",
        smsq["enqueue_per_s"],
        "send_task",
        t["noop"]["enqueue_per_s"],
        div(smsq["enqueue_per_s"], t["noop"]["enqueue_per_s"]),
    )


def _scale(rows: _Rows, results: dict[str, Any], r: dict[str, Any]) -> None:
    del r
    curve = results["scale"]["curve"]
    by_processes = {name: {point["processes"]: point for point in points} for name, points in curve.items()}
    for n in results["scale"]["params"]["processes"]:
        smsq = by_processes["smsq"].get(n, {})
        shape = f"{n} process{'es' if n > 1 else ''}"
        for base in ("naive", "noop"):
            other = by_processes[base].get(n, {})
            rate, base_rate = smsq.get("per_s"), other.get("per_s")
            rows.add("scale", f"sends/s, {shape}", rate, base, base_rate, div(rate, base_rate))
        cpu = smsq.get("worker_cpu_ms_per_send")
        base_cpu = by_processes["naive"].get(n, {}).get("worker_cpu_ms_per_send")
        rows.add("scale", f"worker CPU ms/send, {shape}", cpu, "naive", base_cpu, div(cpu, base_cpu))
        for base in ("naive", "noop"):
            efficiency = by_processes[base].get(n, {}).get("efficiency")
            rows.add("scale", f"efficiency at {n}", smsq.get("efficiency"), base, efficiency, digits=3)


def _check(rows: _Rows, results: dict[str, Any], r: dict[str, Any]) -> None:
    for ms in CHECK_LATENCIES_MS:
        for variant, base, key in (
            ("direct", "sdk", "smsq_over_sdk"),
            ("direct", "seed", "smsq_over_seed"),
            ("worker", "bare", "worker_over_bare"),
            ("worker", "direct", "worker_over_direct"),
        ):
            for q in _QUANTILES:
                rows.add(
                    "check",
                    f"{variant} {q} ms vs {base}, provider {ms} ms",
                    check_latency(results, ms, variant, q),
                    base,
                    check_latency(results, ms, base, q),
                    r.get(f"check_{q}_{key}_at_{ms}ms"),
                    digits=3,
                )
        overhead = get(results, "check", "runs", str(ms), "overhead_p50_ms")
        rows.add("check", f"direct overhead ms p50, provider {ms} ms", overhead, "target", 0.25, digits=3)
        rows.add(
            "check",
            f"  of which one Redis round trip, provider {ms} ms",
            get(results, "check", "runs", str(ms), "latency", "redis", "p50_ms"),
            "beyond it",
            get(results, "check", "runs", str(ms), "overhead_beyond_round_trip_p50_ms"),
            digits=3,
        )
        floors = get(results, "check", "runs", str(ms), "worker_breakdown_p50_ms")
        for base in ("bare", "direct"):
            rows.add(
                "check",
                f"  worker p50 floor vs {base}, provider {ms} ms",
                None,
                base,
                None,
                floors.get(f"floor_worker_over_{base}") if isinstance(floors, dict) else None,
                digits=3,
            )
    for phase in ("backlog", "idle_after"):
        rows.add(
            "check",
            f"worker p99 ms, {phase} vs idle before",
            get(results, "check", "backlog", "latency", phase, "worker", "p99_ms"),
            "idle",
            get(results, "check", "backlog", "latency", "idle_before", "worker", "p99_ms"),
            None,
            digits=3,
        )
    growth = get(results, "check", "backlog", "p99_growth_ms", "worker")
    rows.add("check", "worker p99 growth ms with the backlog", growth, "target", 5, digits=3)


def _limiter(rows: _Rows, results: dict[str, Any], r: dict[str, Any]) -> None:
    del r
    rate, lanes = results["limiter"]["rate"], results["limiter"]["lanes"]
    seconds = results["limiter"]["params"]["duration_s"]
    rows.add("limiter", f"sends/s over {seconds:g} s", rate["average_per_s"], "lane limit", 50, rate["ratio"])
    rows.add("limiter", "max sends in any 1 s", rate["max_1s_window"], "target", 55)
    rows.add("limiter", "Throttling answers", rate["throttling_answers"], "target", 0)
    rows.add("limiter", "lane b to sent, s (max)", lanes["max_s"], "target <", 1)


def _emulator(rows: _Rows, results: dict[str, Any], r: dict[str, Any]) -> None:
    rows.add(
        "emulator",
        "signed requests/s",
        results["emulator"].get("requests_per_s"),
        "smsq sends/s",
        get(results, "throughput", "smsq", "per_s"),
        r.get("emulator_over_throughput_smsq"),
    )


def _receipts(rows: _Rows, results: dict[str, Any], r: dict[str, Any]) -> None:
    load, outage = results["receipts"]["load"], results["receipts"]["outage"]
    for q in _QUANTILES:
        rows.add("receipts", f"{q} ms, 20 pushes/s x 100", load["latency"].get(f"{q}_ms"), "target", 100)
    rows.add(
        "receipts",
        "pushes/s achieved",
        load["achieved_per_s"],
        "offered",
        load["offered_per_s"],
        r.get("receipts_achieved_over_offered"),
    )
    rows.add("receipts", "max ms to 503, Redis frozen", outage["probe_max_ms"], "Alibaba limit", 700)
    rows.add(
        "receipts",
        "s to delivered after Redis back",
        outage["delivered_after_redis_back_s"],
        "retry 0.6 s",
        0.6,
    )


def _pumping(rows: _Rows, results: dict[str, Any], r: dict[str, Any]) -> None:
    bench = results["pumping"]
    attack, inside, others = bench["attack"], bench["prefix_users"], bench["other_users"]
    no_breaker = attack["no_breaker_spent"]
    rows.add(
        "pumping", "attack SMS before first trip", attack["spent_before_first_trip"], "no breaker", no_breaker
    )
    rows.add(
        "pumping",
        f"attack SMS in all ({attack['trips']} trips)",
        attack["spent_total"],
        "no breaker",
        no_breaker,
        r.get("pumping_attack_spent_over_no_breaker"),
    )
    rows.add("pumping", f"prefix users refused of {inside['users']}", inside["refused_by_breaker"], "", None)
    rows.add("pumping", f"other users refused of {others['users']}", others["refused"], "target", 0)
    rows.add("pumping", "s to lift after the attack", bench["lifted_after_attack_s"], "", None)


def _async(rows: _Rows, results: dict[str, Any], r: dict[str, Any]) -> None:
    for kind in ("check", "send", "checkworker"):
        call = {"checkworker": "check_code, worker mode,"}.get(kind, f"{kind}_code")
        for figure, label in (
            ("total", "burst of 100, ms"),
            ("loop_lag", "loop lag ms"),
            ("loop_lag_own", "loop lag (own work) ms"),
        ):
            for q in _QUANTILES:
                rows.add(
                    "async",
                    f"a{call} {label} {q}",
                    async_burst(results, kind, "async", figure, q),
                    "threads",
                    async_burst(results, kind, "threads", figure, q),
                    r.get(f"async_{kind}_{figure}_p50_async_over_threads") if q == "p50" else None,
                )
        for q in _QUANTILES if kind != "checkworker" else ():
            rows.add(
                "async",
                f"a{kind}_code one call {q} ms",
                get(results, "async", "per_call", f"{kind}_async", f"{q}_ms"),
                f"{kind}_code",
                get(results, "async", "per_call", f"{kind}_sync", f"{q}_ms"),
                r.get(f"async_{kind}_per_call_p50_async_over_sync") if q == "p50" else None,
                digits=3,
            )
