"""The PNG of a chaos run: sends accepted and settled (final) over time, one panel per pool and
scenario, with kills, Redis restarts, outages and provider faults marked."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

_COLOURS = {"kill-worker": "tab:red", "kill-host": "darkred"}


def plot(report: Mapping[str, Any], path: Path) -> None:
    """Draw ``report`` into ``path``."""
    import matplotlib  # noqa: PLC0415 - a dev extra, loaded only for --plot

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    panels = [
        (pool, name, scenario)
        for pool, figures in report["pools"].items()
        for name, scenario in figures["scenarios"].items()
    ]
    columns = min(3, len(panels)) or 1
    rows = -(-len(panels) // columns) or 1
    figure, axes = plt.subplots(rows, columns, figsize=(6 * columns, 3.6 * rows), squeeze=False)
    for axis in axes.flat[len(panels) :]:
        axis.set_visible(False)
    for axis, (pool, name, scenario) in zip(axes.flat, panels, strict=False):
        _panel(axis, pool, name, scenario)
    figure.suptitle("smsq chaos: accepted sends and sends seen final, over time")
    figure.tight_layout(rect=(0, 0, 1, 0.98))  # leave the top strip to the title
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _panel(axis: Any, pool: str, name: str, scenario: Mapping[str, Any]) -> None:
    timeline = scenario["timeline"]
    for key, style in (("accepted", "tab:blue"), ("final", "tab:green")):
        times = timeline[key]
        axis.step(times, range(1, len(times) + 1), where="post", color=style, label=key)
    if timeline["provider_faults_until"] is not None:
        axis.axvspan(
            0, timeline["provider_faults_until"], color="orange", alpha=0.15, label="provider faults"
        )
    for event in timeline["events"]:
        if event["kind"] == "redis-outage":
            axis.axvspan(event["at"], event["until"], color="grey", alpha=0.3, label="Redis unreachable")
        elif event["kind"] == "redis-restart":
            axis.axvspan(event["at"], event["until"], color="tab:purple", alpha=0.3, label="Redis killed")
        else:
            axis.axvline(event["at"], color=_COLOURS.get(event["kind"], "black"), lw=1, label=event["kind"])
    verdict = "ok" if scenario["passed"] else "BROKEN"
    axis.set_title(f"{pool} / {name}: lost {scenario['lost']}, not final {scenario['unsettled']} ({verdict})")
    axis.set_xlabel("seconds after the load started")
    axis.set_ylabel("sends")
    handles, labels = axis.get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))
    axis.legend(unique.values(), unique.keys(), fontsize=7, loc="lower right")
