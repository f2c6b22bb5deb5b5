"""``smsq bench``: smsq against baselines measured in the same run (``smsq.bench``)."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

import click

from producers.constants import NO_CLOUD_PROBES

#: Benchmark names, in the order ``all`` runs them (``smsq.bench.BENCHMARKS`` maps them to modules).
NAMES = ("enqueue", "throughput", "scale", "check", "limiter", "emulator", "receipts", "pumping", "async")


def _say(line: str) -> None:
    click.echo(line, err=True)


def _process_counts(ctx: click.Context, param: click.Parameter, value: str | None) -> list[int] | None:
    """``1,2,4,8`` -> [1, 2, 4, 8]."""
    del ctx
    if value is None:
        return None
    try:
        counts = sorted({int(item) for item in value.split(",") if item.strip()})
    except ValueError:
        raise click.BadParameter(
            "a comma-separated list of process counts, e.g. 1,2,4,8", param=param
        ) from None
    if not counts or counts[0] < 1:
        raise click.BadParameter("process counts must be 1 or more", param=param)
    return counts


@click.command()
@click.argument("which", type=click.Choice([*NAMES, "all"]), default="all")
@click.option("--quick", is_flag=True, help="A short run of every benchmark (what the test suite runs).")
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write machine, versions, settings, every figure and ratio here.",
)
@click.option(
    "--plot",
    "plot_path",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Draw latencies, throughput, scaling, the limiter and receipts into this PNG (needs matplotlib).",
)
@click.option(
    "--processes",
    callback=_process_counts,
    metavar="N,N,...",
    help="Worker process counts for scale (default: 1, 2, 4, ... up to this machine's CPU count).",
)
def bench(
    which: str, quick: bool, json_path: Path | None, plot_path: Path | None, processes: list[int] | None
) -> None:
    """Measure smsq against baselines from the same run on a private Redis and emulator.

    WHICH is one of enqueue, throughput, scale, check, limiter, emulator, receipts, pumping, async, or
    all (the default). Every figure is reported as a ratio against its baseline, with each target
    met or not; nothing here fails on a timing. The exit status is 1 only when a benchmark could not run.
    """
    # Before the SDK loads anywhere: never probe a metadata address or a CLI profile.
    os.environ.update(NO_CLOUD_PROBES)
    if plot_path is not None and importlib.util.find_spec("matplotlib") is None:
        raise click.UsageError("--plot needs matplotlib: pip install 'smsq[dev]'")
    if processes and which not in ("scale", "all"):
        raise click.UsageError("--processes applies to scale (and all) only")
    report_module: Any = importlib.import_module("smsq.bench.report")
    names = list(NAMES) if which == "all" else [which]
    options = {"scale": {"processes": processes}} if processes else {}
    report: dict[str, Any] = report_module.run_benchmarks(names, quick, _say, options)
    click.echo(importlib.import_module("smsq.bench.table").table(report))
    click.echo(f"\nbench {which}{' --quick' if quick else ''} took {report['runtime_s']:.0f} s")
    if json_path is not None:
        report_module.write_json(report, json_path)
        click.echo(f"JSON: {json_path}")
    if plot_path is not None:
        importlib.import_module("smsq.bench.plots").plot(report, plot_path)
        click.echo(f"plot: {plot_path}")
    failed = [name for name, result in report["benchmarks"].items() if "error" in result]
    if failed:
        for name in failed:
            _say(report["benchmarks"][name]["traceback"])
        _say(f"failed: {', '.join(failed)}")
        sys.exit(1)
