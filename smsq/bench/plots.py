"""One PNG of a benchmark report: latency distributions, throughput, memory, limiter precision, and
the receipt receiver under load and through a Redis outage.

matplotlib is a dev extra and is imported only here, only when a plot is asked for.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

_COLOURS = {
    "smsq": "#1f77b4",
    "celery": "#ff7f0e",
    "lpush": "#2ca02c",
    "seed": "#d62728",
    "sdk": "#9467bd",
    "receipts": "#1f77b4",
}


def _ecdf(ax: Any, samples: dict[str, list[float]], title: str) -> None:
    for name, values in samples.items():
        if not values:
            continue
        ordered = sorted(values)
        n = len(ordered)
        ax.step(
            ordered,
            [(i + 1) / n for i in range(n)],
            where="post",
            label=f"{name} (n={n})",
            color=_COLOURS.get(name),
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
    ax: Any, labels: list[str], values: list[float], title: str, ylabel: str, line: float | None = None
) -> None:
    bars = ax.bar(labels, values, color=[_COLOURS.get(label.split()[0], "#7f7f7f") for label in labels])
    ax.bar_label(bars, fmt="%.1f", fontsize=8)
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
    fig, axes = plt.subplots(3, 3, figsize=(18, 15))
    (enqueue_ax, check_ax, rate_ax), (rss_ax, limiter_ax, emulator_ax), receipt_axes = axes

    if _ok(results, "enqueue"):
        _ecdf(enqueue_ax, results["enqueue"]["samples_ms"], "enqueue: send_code() vs baselines")
    else:
        _missing(enqueue_ax, "enqueue")
    if _ok(results, "check"):
        _ecdf(check_ax, results["check"]["samples_ms"], "check: check_code() vs raw SDK")
    else:
        _missing(check_ax, "check")
    if _ok(results, "throughput"):
        t = results["throughput"]
        shape = f"{t['params']['processes']} processes x {t['params']['concurrency']} threads"
        _bars(
            rate_ax,
            ["smsq", "celery no-op", "sdk loop"],
            [t["smsq"]["per_s"], t["celery"]["per_s"], t["sdk"]["per_s"]],
            f"throughput ({shape})",
            "sends per second",
        )
        labels = [f"smsq {i}" for i in range(len(t["smsq"]["peak_rss_mb"]))]
        labels += [f"celery no-op {i}" for i in range(len(t["celery"]["peak_rss_mb"]))]
        _bars(
            rss_ax,
            labels,
            t["smsq"]["peak_rss_mb"] + t["celery"]["peak_rss_mb"],
            "peak RSS per worker process (target 150 MB)",
            "MB",
            line=150,
        )
        rss_ax.tick_params(axis="x", labelrotation=20)
    else:
        _missing(rate_ax, "throughput")
        _missing(rss_ax, "worker RSS")
    if _ok(results, "limiter"):
        rate = results["limiter"]["rate"]
        stamps = sorted(rate["timestamps"])
        # sends in the 1-second window ending at each send
        counts, low = [], 0
        for high, stamp in enumerate(stamps):
            while stamps[low] <= stamp - 1.0:
                low += 1
            counts.append(high - low + 1)
        limiter_ax.plot(stamps, counts, color=_COLOURS["smsq"], linewidth=1, label="sends in trailing 1 s")
        limiter_ax.axhline(50, color="black", linestyle="--", linewidth=1, label="lane limit 50/s")
        limiter_ax.axhline(55, color="#d62728", linestyle=":", linewidth=1, label="target max 55")
        limiter_ax.set_xlabel("seconds into the steady window")
        limiter_ax.set_ylabel("sends")
        limiter_ax.set_title(
            f"limiter: {rate['average_per_s']:.1f}/s average, max {rate['max_1s_window']} in 1 s, "
            f"{rate['throttling_answers']} Throttling"
        )
        limiter_ax.legend(fontsize=8, loc="lower right")
        limiter_ax.set_ylim(0, max([60, *counts]) + 5)
    else:
        _missing(limiter_ax, "limiter")
    if _ok(results, "emulator"):
        emu = results["emulator"]
        labels, values = ["emulator requests/s"], [float(emu.get("requests_per_s") or 0)]
        if _ok(results, "throughput"):
            labels.append("smsq sends/s")
            values.append(float(results["throughput"]["smsq"]["per_s"]))
        _bars(emulator_ax, labels, values, "emulator capacity vs smsq's send rate", "per second")
    else:
        _missing(emulator_ax, "emulator")
    _receipts(results, *receipt_axes)
    mode = "quick" if report.get("quick") else "full"
    fig.suptitle(
        f"smsq bench ({mode}) — {report['machine']['cpu_count']} CPU, {report['machine']['cpu_model']}"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _receipts(results: dict[str, Any], load_ax: Any, outage_ax: Any, stored_ax: Any) -> None:
    """The receipt receiver: answer times under load, the outage answer vs the limits, what was stored."""
    if not _ok(results, "receipts"):
        for ax, title in (
            (load_ax, "receipts"),
            (outage_ax, "receipts outage"),
            (stored_ax, "receipts stored"),
        ):
            _missing(ax, title)
        return
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
