"""The report: the whole run as JSON-ready data (machine, versions, settings, per-scenario figures),
the table printed at the end, and the list of broken invariants that sets the exit status.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from producers.publisher import VISIBILITY_TIMEOUT_S
from smsq.bench.report import machine, versions
from smsq.chaos.bed import OPEN_LIMITS, BedConfig
from smsq.chaos.faults import PROVIDER_FAULTS, REDIS_DOWN_S, REDIS_OUTAGE_S
from smsq.chaos.monitor import RESTART_DELAY_S
from smsq.chaos.runner import RunConfig, run_pool
from smsq.devstack.processes import redis_server_binary


def run(config: RunConfig, say: Callable[[str], None]) -> dict[str, Any]:
    """Run every pool of ``config`` and return the report."""
    started = time.time()
    pools = {pool: run_pool(config, pool, say) for pool in config.pools}
    failed = [
        f"{pool}/{name}: {check}"
        for pool, figures in pools.items()
        for name, scenario in figures["scenarios"].items()
        for check, ok in scenario["invariants"].items()
        if not ok
    ]
    return {
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "runtime_s": round(time.time() - started, 1),
        "quick": config.quick,
        "machine": machine(),
        "versions": {**versions(), "redis-server": _redis_version()},
        "settings": _settings(config),
        "pools": pools,
        "failed": failed,
        "passed": not failed,
    }


def _settings(config: RunConfig) -> dict[str, Any]:
    bed = BedConfig()
    return {
        "scenarios": {
            s.name: {
                "summary": s.summary,
                "steps": [(st.at_s, st.fault) for st in s.steps],
                "provider_faults": s.provider_faults,
            }
            for s in config.scenarios
        },
        "pools": list(config.pools),
        "hosts_per_pool": config.hosts,
        "load": {
            "accepted_per_scenario": config.load.accepted,
            "rate_per_s": config.load.rate_per_s,
            "slow_lane_share": config.load.slow_share,
        },
        "lanes": dict(bed.lanes),
        "abuse_limits": OPEN_LIMITS,
        "provider_latency_ms": bed.provider_latency_ms,
        "provider_faults": PROVIDER_FAULTS,
        "redis": "embedded redis-server, AOF on, appendfsync everysec, fixed port (restartable)",
        "redis_restart": f"SIGKILL, {REDIS_DOWN_S:.0f} s down, started again from its AOF",
        "redis_outage": f"SIGSTOP for {REDIS_OUTAGE_S:.0f} s (connects and reads time out), then SIGCONT",
        "worker_restart_delay_s": RESTART_DELAY_S,
        "visibility_timeout_s": VISIBILITY_TIMEOUT_S,
        "watches_past_visibility_timeout": not config.quick,
        "seed": config.seed,
    }


def _redis_version() -> str | None:
    try:
        out = subprocess.run(  # noqa: S603 - our own binary, fixed arguments
            [redis_server_binary(), "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, RuntimeError, subprocess.SubprocessError):
        return None
    return next((part[2:] for part in out.split() if part.startswith("v=")), out.strip() or None)


_COLUMNS = (
    ("scenario", 15),
    ("accepted", 8),
    ("lost", 5),
    ("doubled", 7),
    ("false", 5),
    ("amb.unconf", 10),
    ("not final", 9),
    ("final chg", 9),
    ("kill->final", 11),
    ("held->final", 11),
    ("takeover", 9),
    ("slot->final", 11),
    ("refused down", 12),
    ("slowest", 8),
    ("exits", 5),
    ("ok", 3),
)


def table(report: Mapping[str, Any]) -> str:
    """The human summary: one table per pool, then the final states of every scenario."""
    lines: list[str] = []
    for pool, figures in report["pools"].items():
        shape = f"{figures['hosts']} hosts x {figures['concurrency']}"
        lines.append(f"\npool: {pool} ({shape}), logs: {figures['log_dir']}")
        lines.append("  ".join(name.ljust(width) for name, width in _COLUMNS))
        for name, s in figures["scenarios"].items():
            refused = s["refusals"]
            cells = (
                name,
                s["accepted"],
                s["lost"],
                s["doubled"],
                s["false_status"],
                s["ambiguous_unconfirmed"]["total"],
                s["unsettled"],
                s["final_changed"],
                _seconds(s["max_kill_to_final_s"], bool(s["kills"])),
                _seconds(s["max_held_to_final_s"], any(k["held"] for k in s["kills"])),
                _seconds(s["max_takeover_s"], any(k["takeover_known"] for k in s["kills"])),
                _seconds(s["max_slot_to_final_s"], any(k["held"] for k in s["kills"])),
                f"{refused['typed']}/{refused['while_redis_down']}" if s["redis"] else "-",
                f"{refused['slowest_s'] * 1000:.0f}ms" if s["redis"] else "-",
                len(s["worker_exits"]),
                "yes" if s["passed"] else "NO",
            )
            lines.append(
                "  ".join(str(cell).ljust(width) for cell, (_, width) in zip(cells, _COLUMNS, strict=True))
            )
        lines.append("final states (first seen), and what went wrong:")
        for name, s in figures["scenarios"].items():
            states = ", ".join(f"{label} {count}" for label, count in s["final_states"].items())
            lines.append(f"  {name}: {states}")
            for exit_ in s["worker_exits"]:
                lines.append(f"    worker exited by itself: {exit_['node']} {exit_['last_error']}")
            broken = [check for check, ok in s["invariants"].items() if not ok]
            if broken:
                lines.append(f"    broken: {'; '.join(broken)}")
    lines.append("")
    lines.append(
        "all invariants hold" if report["passed"] else f"{len(report['failed'])} invariant(s) broken"
    )
    return "\n".join(lines)


def _seconds(value: float | None, applies: bool) -> str:
    if not applies:
        return "-"
    return "never" if value is None else f"{value:.1f}s"


def write_json(report: Mapping[str, Any], path: Path) -> None:
    path.write_text(json.dumps(report, indent=1, default=str), encoding="utf-8")
