"""Queued tasks of several variants through K worker processes x C threads each, measured in rounds.

:func:`compare` starts every variant's workers at once (each group consuming only an idle queue) and
warms each group up: two tasks per pool slot, so every thread has opened its connections and every
lazy import and client is built (smsq loads the SDK on its first send, the naive task when it is
imported). Then, round after round, each variant in a shuffled order drains one batch: the batch is
queued, one ``add_consumer`` broadcast opens the queue to the variant's workers, the clock runs
until every task is done, and the queue is closed again. Drift on a shared machine (another job,
CPU frequency) so hits every variant alike, and the per-round figures show how much there was.

Measured while a batch drains: CPU seconds of the variant's worker processes, the emulator and
Redis; peak RSS per worker process; Redis round trips and commands per task (the benchmark's own
polling left out). Neither worker start-up nor the single producer thread's enqueue rate is in the
rate (the enqueue rate is reported beside it).
"""

from __future__ import annotations

import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from smsq.bench.common import Bed, CpuMeter, RssSampler, Workers, producer_app, progress, tell_workers
from smsq.bench.redis_calls import RedisCalls
from smsq.bench.variants import Variant

POLL_S = 0.01
DONE_TIMEOUT_S = 240.0
#: The queue workers consume while closed: nothing is ever published to it.
IDLE_QUEUE = "bench.idle"
#: Longer than kombu's Redis BRPOP timeout (1 s), so a closed queue is no longer read.
BRPOP_LAPSE_S = 1.5


@dataclass
class _Totals:
    """What one variant's batches added up to."""

    tasks: int = 0
    seconds: float = 0.0
    enqueue_seconds: float = 0.0
    cpu_s: Counter[str] = field(default_factory=Counter)
    round_trips: int = 0
    commands: Counter[str] = field(default_factory=Counter)
    usec: Counter[str] = field(default_factory=Counter)
    peaks_mb: list[float] = field(default_factory=list)
    rounds: list[dict[str, float]] = field(default_factory=list)


def compare(
    bed: Bed,
    variants: list[Variant],
    count: int,
    *,
    processes: int,
    concurrency: int,
    rounds: int,
    seed: int = 7,
) -> dict[str, dict[str, Any]]:
    """Drain ``count`` tasks of every variant in ``rounds`` interleaved batches; figures by variant."""
    batch = max(1, count // rounds)
    groups: dict[str, Workers] = {}
    try:
        for variant in variants:
            groups[variant.name] = bed.workers(
                bed.env(),
                count=processes,
                concurrency=concurrency,
                queues=[IDLE_QUEUE],
                app=variant.app,
                name=variant.name,
            )
        for variant in variants:
            _drain(bed, variant, groups[variant.name], 2 * processes * concurrency, "warm-up")
            variant.forget()
        totals = {variant.name: _Totals() for variant in variants}
        shuffler = random.Random(seed)
        for index in range(rounds):
            order = list(variants)
            shuffler.shuffle(order)
            for variant in order:
                label = f"{variant.name} x{processes}, round {index + 1}/{rounds}"
                _drain(bed, variant, groups[variant.name], batch, label, totals[variant.name])
    finally:
        for group in groups.values():
            group.stop()
    return {variant.name: {**_figures(totals[variant.name]), **variant.figures()} for variant in variants}


def _drain(
    bed: Bed, variant: Variant, workers: Workers, count: int, label: str, totals: _Totals | None = None
) -> None:
    """Queue ``count`` tasks, open the queue to ``workers``, wait until all are done, close it.
    Adds what was measured to ``totals`` (a warm-up passes none)."""
    app = producer_app()
    variant.rebase()
    started = time.perf_counter()
    variant.fill(count)
    enqueue_seconds = time.perf_counter() - started
    cpu = CpuMeter({"workers": workers.pids, "emulator": [bed.emulator_pid], "redis": [bed.redis_pid]})
    calls = RedisCalls(variant.client)
    variant.polls = 0
    variant.poll_commands.clear()
    bar = progress(count, f"throughput {label}")
    seen = 0
    with RssSampler(workers.pids) as rss:
        calls.start()
        cpu.start()
        started = time.perf_counter()
        tell_workers(app, "add_consumer", variant.queue, workers.nodes)
        while seen < count:
            now = variant.done()
            bar.update(now - seen)
            seen = now
            if time.perf_counter() - started > DONE_TIMEOUT_S:
                raise TimeoutError(f"{label}: only {seen} of {count} done after {DONE_TIMEOUT_S:.0f} s")
            if seen < count:
                time.sleep(POLL_S)
        seconds = time.perf_counter() - started
        cpu.stop()
        calls.stop()
    bar.close()
    tell_workers(app, "cancel_consumer", variant.queue, workers.nodes)
    # A BRPOP already waiting still names the queue until it times out (1 s in kombu's Redis
    # transport): let it lapse before the next batch is queued.
    time.sleep(BRPOP_LAPSE_S)
    if totals is None:
        return
    totals.tasks += count
    totals.seconds += seconds
    totals.enqueue_seconds += enqueue_seconds
    totals.cpu_s.update(cpu.spent)
    totals.round_trips += calls.round_trips - variant.polls
    for name, (calls_made, usec) in calls.commands.items():
        totals.commands[name] += calls_made - variant.poll_commands.get(name, 0)
        totals.usec[name] += usec
    peaks = rss.peak_mb()
    totals.peaks_mb = [max(pair) for pair in zip(peaks, totals.peaks_mb or peaks, strict=True)]
    totals.rounds.append(
        {
            "per_s": round(count / seconds, 1),
            "worker_cpu_ms_per_send": round(cpu.spent["workers"] * 1000 / count, 3),
        }
    )


def _figures(totals: _Totals) -> dict[str, Any]:
    """The JSON figures of one variant from its batches."""
    n, seconds = totals.tasks, totals.seconds
    commands = {name: round(calls / n, 3) for name, calls in sorted(totals.commands.items()) if calls > 0}
    return {
        "sends": n,
        "seconds": round(seconds, 3),
        "per_s": round(n / seconds, 1),
        "peak_rss_mb": totals.peaks_mb,
        "max_peak_rss_mb": max(totals.peaks_mb) if totals.peaks_mb else None,
        # where the machine's CPU went, per task: the figure that explains the rate
        "cpu_ms_per_send": {name: round(spent * 1000 / n, 3) for name, spent in totals.cpu_s.items()},
        # cores busy on average while draining (1.0 = one core all the time)
        "cores_busy": {name: round(spent / seconds, 2) for name, spent in totals.cpu_s.items()},
        "redis_per_send": {
            "round_trips": round(totals.round_trips / n, 3),
            "commands": commands,
            "commands_total": round(sum(commands.values()), 3),
            # a script's microseconds include those of the commands it ran: do not add them up
            "usec": {name: round(usec / n, 2) for name, usec in sorted(totals.usec.items())},
        },
        "enqueue_per_s": round(n / totals.enqueue_seconds, 1),
        # each batch on its own: the spread says how much the machine drifted during the run
        "rounds": totals.rounds,
    }
