"""One PNG of a benchmark report: latency distributions, enqueue steps, throughput against the naive
task, worker CPU per send, the scale curve, memory, limiter precision, and the receipt receiver under
load and through a Redis outage.

matplotlib is a dev extra and is imported only here, only when a plot is asked for.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

_COLOURS = {
    "smsq": "#1f77b4",
    "celery": "#ff7f0e",
    "noop": "#ff7f0e",
    "lpush": "#2ca02c",
    "naive": "#8c564b",
    "seed": "#d62728",
    "sdk": "#9467bd",
    "receipts": "#1f77b4",
}


def _ecdf(
    ax: Any,
    samples: dict[str, list[float]],
    title: str,
    labels: dict[str, str] | None = None,
    linestyle: str = "-",
) -> None:
    for name, values in samples.items():
        if not values:
            continue
        ordered = sorted(values)
        n = len(ordered)
        ax.step(
            ordered,
            [(i + 1) / n for i in range(n)],
            where="post",
            label=f"{(labels or {}).get(name, name)} (n={n})",
            color=_COLOURS.get(name),
            linestyle=linestyle,
        )
    ax.set_xscale("log")
    ax.set_xlabel("latency, ms (log)")
    ax.set_ylabel("fraction of calls")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")


def _missing(ax: Any, title: str, why: str = "not run") -> None:
    ax.set_title(title)
    ax.text(0.5, 0.5, why, ha="center", va="center", transform=ax.transAxes)
    ax.set_axis_off()


def _bars(
    ax: Any,
    labels: list[str],
    values: list[float],
    title: str,
    ylabel: str,
    line: float | None = None,
    fmt: str = "%.1f",
) -> None:
    bars = ax.bar(labels, values, color=[_COLOURS.get(label.split()[0], "#7f7f7f") for label in labels])
    ax.bar_label(bars, fmt=fmt, fontsize=8)
    if line is not None:
        ax.axhline(line, color="black", linestyle="--", linewidth=1)
    ax.set_title(title)
    ax.set_ylabel(ylabel)


def _ok(results: dict[str, Any], name: str) -> bool:
    return name in results and "error" not in results[name]


def plot(report: dict[str, Any], path: Path) -> None:
    """Draw the report's figures into ``path`` (PNG)."""
    import matplotlib  # noqa: PLC0415 - a dev extra, only needed for --plot

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    results = report["benchmarks"]
    fig, axes = plt.subplots(4, 3, figsize=(19, 20))
    (enqueue_ax, steps_ax, check_ax), (rate_ax, cpu_ax, scale_ax) = axes[:2]
    (rss_ax, limiter_ax, emulator_ax), (load_ax, outage_ax, stored_ax) = axes[2:]
    parts = (
        ("enqueue", (enqueue_ax, steps_ax), _enqueue),
        ("check", (check_ax,), _check),
        ("throughput", (rate_ax, cpu_ax, rss_ax), _throughput),
        ("scale", (scale_ax,), _scale),
        ("limiter", (limiter_ax,), _limiter),
        ("emulator", (emulator_ax,), _emulator),
        ("receipts", (load_ax, outage_ax, stored_ax), _receipts),
    )
    for name, part_axes, draw in parts:
        if _ok(results, name):
            draw(results, *part_axes)
        else:
            for ax in part_axes:
                _missing(ax, name)
    mode = "quick" if report.get("quick") else "full"
    fig.suptitle(
        f"smsq bench ({mode}) — {report['machine']['cpu_count']} CPU, {report['machine']['cpu_model']}"
    )
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    fig.savefig(path, dpi=80)
    plt.close(fig)


def _enqueue(results: dict[str, Any], ecdf_ax: Any, steps_ax: Any) -> None:
    enqueue = results["enqueue"]
    _ecdf(ecdf_ax, enqueue["samples_ms"], "enqueue: send_code() vs baselines")
    steps = enqueue.get("steps", {})
    names = [name for name in ("parse", "rules", "message", "admit", "other") if name in steps]
    _bars(
        steps_ax,
        [*names, "send_code()", "celery send_task"],
        [steps[name]["p50_ms"] for name in names]
        + [enqueue["latency"]["smsq"]["p50_ms"], enqueue["latency"]["celery"]["p50_ms"]],
        "send_code() steps, p50 (target: send_code <= 1.3x send_task)",
        "ms",
        fmt="%.3f",
    )
    steps_ax.axhline(1.3 * enqueue["latency"]["celery"]["p50_ms"], color="black", linestyle="--", linewidth=1)
    steps_ax.tick_params(axis="x", labelrotation=20)


def _check(results: dict[str, Any], ax: Any) -> None:
    runs = results["check"]["runs"]
    ordered = sorted(runs.items(), key=lambda item: int(item[0]))
    for (latency, run), style in zip(ordered, ("-", "--", ":"), strict=False):
        _ecdf(
            ax,
            {name: run["samples_ms"][name] for name in ("worker", "direct", "bare", "sdk")},
            "check: check_code() (worker, direct) vs bare RPC and raw SDK",
            labels={
                "worker": f"worker mode @{latency} ms",
                "direct": f"direct @{latency} ms, +{run['overhead_p50_ms']:.3f} ms p50",
                "bare": f"bare RPC @{latency} ms",
                "sdk": f"sdk @{latency} ms",
            },
            linestyle=style,
        )


def _throughput(results: dict[str, Any], rate_ax: Any, cpu_ax: Any, rss_ax: Any) -> None:
    t = results["throughput"]
    shape = f"{t['params']['processes']} processes x {t['params']['concurrency']} threads"
    _bars(
        rate_ax,
        ["smsq", "naive task", "noop celery", "sdk loop"],
        [t["smsq"]["per_s"], t["naive"]["per_s"], t["noop"]["per_s"], t["sdk"]["per_s"]],
        f"throughput ({shape}); target smsq >= 0.8x naive",
        "sends per second",
        line=0.8 * t["naive"]["per_s"],
    )
    _bars(
        cpu_ax,
        ["smsq", "naive task", "noop celery"],
        [t[name]["cpu_ms_per_send"]["workers"] for name in ("smsq", "naive", "noop")],
        "worker CPU per send; target smsq <= 1.3x naive",
        "CPU ms per send (worker processes)",
        line=1.3 * t["naive"]["cpu_ms_per_send"]["workers"],
    )
    labels, values = [], []
    for name, label in (("smsq", "smsq"), ("naive", "naive"), ("noop", "noop")):
        for index, peak in enumerate(t[name]["peak_rss_mb"]):
            labels.append(f"{label} {index}")
            values.append(peak)
    _bars(rss_ax, labels, values, "peak RSS per worker process (target 150 MB)", "MB", line=150)
    rss_ax.tick_params(axis="x", labelrotation=20)


def _scale(results: dict[str, Any], ax: Any) -> None:
    curve = results["scale"]["curve"]
    for name, points in curve.items():
        if not points:
            continue
        xs = [point["processes"] for point in points]
        ys = [point["per_s"] for point in points]
        ax.plot(xs, ys, marker="o", color=_COLOURS.get(name), label=name)
        ideal = [ys[0] * x / xs[0] for x in xs]
        ax.plot(xs, ideal, linestyle=":", color=_COLOURS.get(name), linewidth=1)
        for x, y, point in zip(xs, ys, points, strict=True):
            ax.annotate(
                f"{point['efficiency']:.2f}", (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8
            )
    ax.set_xscale("log", base=2)
    ax.set_xticks(
        results["scale"]["params"]["processes"], [str(n) for n in results["scale"]["params"]["processes"]]
    )
    ax.set_xlabel("worker processes")
    ax.set_ylabel("sends per second")
    ax.set_title("scale: sends/s (dotted: linear from the first point; labels: efficiency)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")


def _limiter(results: dict[str, Any], ax: Any) -> None:
    rate = results["limiter"]["rate"]
    stamps = sorted(rate["timestamps"])
    # sends in the 1-second window ending at each send
    counts, low = [], 0
    for high, stamp in enumerate(stamps):
        while stamps[low] <= stamp - 1.0:
            low += 1
        counts.append(high - low + 1)
    ax.plot(stamps, counts, color=_COLOURS["smsq"], linewidth=1, label="sends in trailing 1 s")
    ax.axhline(50, color="black", linestyle="--", linewidth=1, label="lane limit 50/s")
    ax.axhline(55, color="#d62728", linestyle=":", linewidth=1, label="target max 55")
    ax.set_xlabel("seconds into the steady window")
    ax.set_ylabel("sends")
    ax.set_title(
        f"limiter: {rate['average_per_s']:.1f}/s average, max {rate['max_1s_window']} in 1 s, "
        f"{rate['throttling_answers']} Throttling"
    )
    ax.legend(fontsize=8, loc="lower right")
    ax.set_ylim(0, max([60, *counts]) + 5)


def _emulator(results: dict[str, Any], ax: Any) -> None:
    labels, values = ["emulator requests/s"], [float(results["emulator"].get("requests_per_s") or 0)]
    if _ok(results, "throughput"):
        labels.append("smsq sends/s")
        values.append(float(results["throughput"]["smsq"]["per_s"]))
    _bars(ax, labels, values, "emulator capacity vs smsq's send rate", "per second")


def _receipts(results: dict[str, Any], load_ax: Any, outage_ax: Any, stored_ax: Any) -> None:
    """The receipt receiver: answer times under load, the outage answer vs the limits, what was stored."""
    bench = results["receipts"]
    params, load, outage = bench["params"], bench["load"], bench["outage"]
    _ecdf(
        load_ax,
        bench["samples_ms"],
        f"receipts: {params['rate_per_s']} pushes/s x {params['batch_size']}, answers (p99 target 100 ms)",
    )
    load_ax.axvline(100, color="black", linestyle="--", linewidth=1)
    _bars(
        outage_ax,
        ["receipts 503 (max)", "deadline", "Alibaba limit"],
        [outage["probe_max_ms"], params["deadline_s"] * 1000, 700.0],
        f"Redis frozen: answers {outage['probe_statuses']}; all delivered "
        f"{outage['delivered_after_redis_back_s']} s after it is back",
        "ms",
    )
    names = sorted(load["stored"])
    _bars(
        stored_ax,
        names,
        [float(load["stored"][name]) for name in names],
        "receipts stored, by outcome",
        "receipts",
    )
