"""The runner: for each pool, one bed; on it, each scenario in turn (load + faults, then wait for the
sends to settle); then, in a full run, keep watching past the broker's visibility timeout, so that a
message Redis hands back late and rewrites a final state is caught; then judge every scenario.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from producers.process import reset_caches
from producers.publisher import VISIBILITY_TIMEOUT_S
from producers.settings import get_settings
from smsq.bench.common import Numbers, progress
from smsq.chaos.bed import BedConfig, ChaosBed
from smsq.chaos.faults import Injector
from smsq.chaos.judge import Window, judge
from smsq.chaos.ledger import Ledger
from smsq.chaos.load import Attempt, Load, LoadPlan
from smsq.chaos.monitor import ProcessMonitor
from smsq.chaos.scenarios import Scenario
from smsq.devstack.processes import running_stack

#: kombu's Redis transport looks for unacked messages older than the visibility timeout about every
#: ``unacked_restore_interval`` (10 s) x ``unacked_restore_throttle`` (10) per worker; a restored
#: message then runs within seconds. The full run watches this long past the timeout.
RESTORE_MARGIN_S = 160.0
#: After the load, how long a scenario waits at most for its sends to be final, beyond their
#: deadline (a send stuck ``sending`` reads ``failed/worker_lost`` 240 s after its last attempt).
SETTLE_AFTER_DEADLINE_S = 300.0
QUICK_SETTLE_S = 60.0

Say = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class RunConfig:
    """What one ``smsq chaos`` invocation runs."""

    scenarios: Sequence[Scenario]
    pools: Sequence[str]
    load: LoadPlan
    quick: bool
    hosts: int = 3
    seed: int = 7


@contextlib.contextmanager
def producer_env(env: Mapping[str, str]) -> Iterator[None]:
    """Configure this process as an smsq producer of the bed for the duration of the block."""
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    reset_caches()
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        reset_caches()


def run_pool(config: RunConfig, pool: str, say: Say) -> dict[str, Any]:
    """Every scenario of ``config`` on a fresh bed with ``pool`` workers; the pool's figures."""
    concurrency = 3 if pool == "prefork" else 4
    with running_stack() as stack:
        bed = ChaosBed(
            stack, BedConfig(pool=pool, hosts=config.hosts, concurrency=concurrency, seed=config.seed)
        )
        say(f"[{pool}] starting Redis (AOF), the emulator and {config.hosts} x smsq worker -P {pool} ...")
        bed.start()
        with producer_env(bed.env()):
            ledger, monitor = Ledger(bed.emulator), ProcessMonitor(bed)
            injector = Injector(bed, config.seed)
            ledger.start()
            monitor.start()
            numbers = Numbers()
            runs = []
            try:
                for scenario in config.scenarios:
                    say(f"[{pool}] {scenario.name}: {scenario.summary}")
                    runs.append(_run_scenario(scenario, config, bed, ledger, injector, numbers, pool))
                watched = _watch_past_visibility(injector, pool) if not config.quick else None
            finally:
                monitor.stop()
                ledger.stop()
        everyone = dict(ledger.entries)
        messages = list(ledger.messages.values())
        scenarios: dict[str, Any] = {}
        for index, (window, attempts) in enumerate(runs):
            until = runs[index + 1][0].started_at if index + 1 < len(runs) else float("inf")
            events = [e for e in injector.events if window.started_at <= e.started_at < until]
            exits = [x for x in monitor.exits if window.started_at <= x.at < until]
            scenarios[window.scenario.name] = judge(
                window, ledger.of(window.scenario.name), attempts, messages, events, exits, everyone
            )
        records = stack.log_dir / "chaos-records.json"
        _write_records(records, ledger, runs, injector, monitor)
        return {
            "pool": pool,
            "records": str(records),
            "concurrency": concurrency,
            "hosts": config.hosts,
            "log_dir": str(stack.log_dir),
            "scenarios": scenarios,
            "worker_restarts": monitor.restarts,
            "watched_until_s_after_last_fault": watched,
            "outbox_may_have_gaps": ledger.outbox_gap,
            "status_lookup_errors": ledger.status_errors,
            "emulator_stats": _safe(bed.emulator.stats),
        }


def _run_scenario(
    scenario: Scenario,
    config: RunConfig,
    bed: ChaosBed,
    ledger: Ledger,
    injector: Injector,
    numbers: Numbers,
    pool: str,
) -> tuple[Window, list[Attempt]]:
    if scenario.provider_faults:
        injector.provider_faults(True)
    faults_over = threading.Event()
    load = Load(config.load, numbers.take, lambda attempt: ledger.add(attempt, scenario.name), faults_over)
    load.start()
    steps = [threading.Timer(step.at_s, injector.run, args=(step.fault,)) for step in scenario.steps]
    for timer in steps:
        timer.daemon = True
        timer.start()
    for timer in steps:
        timer.join()
    faults_over.set()
    load.join()
    load_ended = time.time()
    healthy_from = load.started_at
    if scenario.provider_faults:
        injector.provider_faults(False)
        healthy_from = time.time()
    deadline_s = float(get_settings().send_deadline_s)
    settle_s = QUICK_SETTLE_S if config.quick else deadline_s + SETTLE_AFTER_DEADLINE_S
    _wait_until_settled(ledger, scenario.name, load.accepted, settle_s, f"[{pool}] {scenario.name} settling")
    window = Window(scenario, load.started_at, load_ended, time.time(), healthy_from, deadline_s)
    return window, list(load.attempts)


def _wait_until_settled(ledger: Ledger, scenario: str, accepted: int, cap_s: float, label: str) -> None:
    """Wait (with a progress bar) until every accepted send is final, or ``cap_s`` passed."""
    bar = progress(accepted, label)
    deadline = time.monotonic() + cap_s
    done = 0
    while time.monotonic() < deadline:
        pending = ledger.pending(scenario)
        bar.update(accepted - pending - done)
        done = accepted - pending
        if pending == 0:
            break
        time.sleep(0.5)
    bar.close()


def _watch_past_visibility(injector: Injector, pool: str) -> float:
    """Keep the bed and the ledger running until the visibility timeout (plus kombu's restore
    cadence) has passed since the last fault; return how long after it the watch ended."""
    last_fault = max((event.ended_at for event in injector.events), default=time.time())
    until = last_fault + VISIBILITY_TIMEOUT_S + RESTORE_MARGIN_S
    total = max(0, round(until - time.time()))
    bar = progress(total, f"[{pool}] watching past the {VISIBILITY_TIMEOUT_S} s visibility timeout")
    while time.time() < until:
        time.sleep(1.0)
        bar.update(1)
    bar.close()
    return round(time.time() - last_fault, 1)


def _write_records(
    path: Path,
    ledger: Ledger,
    runs: Sequence[tuple[Window, list[Attempt]]],
    injector: Injector,
    monitor: ProcessMonitor,
) -> None:
    """Everything the judge saw, as evidence (phones reduced to how many SMS reached them)."""
    sms: Counter[str] = Counter(message["phone"] for message in ledger.messages.values())
    out_ids: Counter[str] = Counter(m["out_id"] for m in ledger.messages.values() if m.get("out_id"))
    entries = [
        {
            **{k: v for k, v in asdict(entry).items() if k != "phone"},
            "sms_to_phone": sms[entry.phone],
            "sms_with_out_id": out_ids[entry.ticket],
        }
        for entry in ledger.entries.values()
    ]
    attempts = [
        {"scenario": window.scenario.name, **{k: v for k, v in asdict(a).items() if k != "phone"},
         "sms_to_phone": sms[a.phone]}
        for window, attempts in runs
        for a in attempts
    ]  # fmt: skip
    data = {
        "entries": entries,
        "attempts": attempts,
        "faults": [asdict(event) for event in injector.events],
        "exits": [asdict(x) for x in monitor.exits],
    }
    path.write_text(json.dumps(data, default=str), encoding="utf-8")


def _safe(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except OSError as exc:
        return {"error": str(exc)}
