"""``smsq chaos``: kill workers, hosts and Redis under load and judge what reached the phones
(``smsq.chaos``)."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

import click

from producers.constants import NO_CLOUD_PROBES

#: Scenario names, in the order a full run plays them (``smsq.chaos.scenarios.SCENARIOS``).
NAMES = (
    "baseline",
    "kill-worker",
    "kill-host",
    "redis-restart",
    "redis-outage",
    "provider-faults",
    "combined",
)


def _say(line: str) -> None:
    click.echo(line, err=True)


@click.command()
@click.argument("scenarios", nargs=-1, type=click.Choice(NAMES))
@click.option(
    "--pool",
    type=click.Choice(["threads", "prefork", "both"]),
    default=None,
    help="Worker pool to test [default: both; threads with --quick].",
)
@click.option(
    "--quick",
    is_flag=True,
    help="One kill mid-call and one Redis restart (or the named scenarios with a small load), "
    "without watching past the visibility timeout: about a minute.",
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write machine, versions, settings and every scenario's figures here.",
)
@click.option(
    "--plot",
    "plot_path",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Draw sends settled over time, with kill and outage markers, into this PNG (needs matplotlib).",
)
def chaos(
    scenarios: tuple[str, ...], pool: str | None, quick: bool, json_path: Path | None, plot_path: Path | None
) -> None:
    """Run real workers against a private Redis (AOF) and the emulator, break things under load, and
    judge every accepted send from the outbox and the status lookup alone.

    SCENARIOS: any of baseline, kill-worker, kill-host, redis-restart, redis-outage, provider-faults,
    combined (all at once) [default: every one]. Exit status 1 when an invariant breaks (lost,
    doubled, false status, a send never final, a final state that changed, a worker that exited by
    itself, a vanished record, an untyped refusal); timings are reported, never asserted.
    """
    os.environ.update(NO_CLOUD_PROBES)  # before the SDK loads anywhere
    if plot_path is not None and importlib.util.find_spec("matplotlib") is None:
        raise click.UsageError("--plot needs matplotlib: pip install 'smsq[dev]'")
    if importlib.util.find_spec("psutil") is None:
        raise click.UsageError("smsq chaos needs psutil: pip install 'smsq[dev]'")
    scenarios_module: Any = importlib.import_module("smsq.chaos.scenarios")
    runner: Any = importlib.import_module("smsq.chaos.runner")
    report_module: Any = importlib.import_module("smsq.chaos.report")
    if quick and not scenarios:
        chosen = [scenarios_module.QUICK]
    else:
        chosen = [scenarios_module.SCENARIOS[name] for name in (scenarios or NAMES)]
    if pool is None:
        pool = "threads" if quick else "both"
    pools = ["threads", "prefork"] if pool == "both" else [pool]
    config = runner.RunConfig(
        scenarios=chosen,
        pools=pools,
        load=scenarios_module.QUICK_LOAD if quick else scenarios_module.FULL_LOAD,
        quick=quick,
        hosts=2 if quick else 3,
    )
    report: dict[str, Any] = report_module.run(config, _say)
    click.echo(report_module.table(report))
    click.echo(f"\nchaos took {report['runtime_s']:.0f} s")
    if json_path is not None:
        report_module.write_json(report, json_path)
        click.echo(f"JSON: {json_path}")
    if plot_path is not None:
        importlib.import_module("smsq.chaos.plots").plot(report, plot_path)
        click.echo(f"plot: {plot_path}")
    if not report["passed"]:
        for failure in report["failed"]:
            _say(f"broken: {failure}")
        sys.exit(1)
