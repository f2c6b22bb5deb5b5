"""Sends per second through K worker processes x C threads: N queued sends until every one is done.

- ``smsq``: N ``send_code()`` calls fill the lane's queue, then the smsq workers start consuming it;
  done when the per-minute outcome counters the workers write (``finish.lua``) add up to N; then
  every record is read in a pipeline to count the states;
- ``celery``: the same through bare Celery — ``bench.noop`` (:mod:`smsq.bench.noop_app`, smsq's
  worker settings, a task that only counts itself) with the same pool, processes and Redis;
- ``sdk``: no queue at all — K processes x C threads calling the SDK in a loop with one reused client
  per process, against the same emulator (its provider latency is 50 ms for every variant).

The workers are started and ready before the clock starts, consuming only an idle queue; the queue
is filled, then one ``add_consumer`` broadcast opens it to every worker at once, so neither worker
start-up nor the single producer thread's enqueue rate is in the figure (the enqueue rate is
reported beside it). The peak RSS of every worker process (and its children) is sampled.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import redis

from smsq.bench.common import (
    Bed,
    CpuMeter,
    Numbers,
    RssSampler,
    Workers,
    chunks,
    producer_app,
    progress,
    sdk_runtime,
    sdk_send_request,
)
from smsq.bench.noop_app import DONE_KEY, NOOP_QUEUE, NOOP_TASK
from smsq.devstack.processes import Stack

PROVIDER_LATENCY_MS = 50
PROCESSES = 2
CONCURRENCY = 64
POLL_S = 0.01
DONE_TIMEOUT_S = 240.0
#: The queue workers consume before the gate opens: nothing is ever published to it.
IDLE_QUEUE = "bench.idle"


def run(quick: bool) -> dict[str, Any]:
    """Measure the three variants with the same processes x threads; return rates and peak RSS."""
    count = 300 if quick else 4000
    with Stack() as stack:
        bed = Bed(stack, ["--latency-ms", str(PROVIDER_LATENCY_MS), "--rate-limit", "0"])
        with bed.producer():
            celery = _celery(bed, count)
            smsq = _smsq(bed, count)
        sdk = _sdk(bed, count)
    return {
        "params": {
            "sends": count,
            "processes": PROCESSES,
            "concurrency": CONCURRENCY,
            "pool": "threads",
            "provider_latency_ms": PROVIDER_LATENCY_MS,
        },
        "smsq": smsq,
        "celery": celery,
        "sdk": sdk,
    }


def _drain(
    bed: Bed, label: str, workers: Workers, queue: str, count: int, done: Callable[[], int]
) -> dict[str, Any]:
    """Open ``queue`` to every worker and wait until ``done()`` reaches ``count``."""
    app = producer_app()
    cpu = CpuMeter({"workers": workers.pids, "emulator": [bed.emulator_pid], "redis": [bed.redis_pid]})
    bar = progress(count, f"throughput {label}")
    seen = 0
    with RssSampler(workers.pids) as rss:
        cpu.start()
        started = time.perf_counter()
        app.control.add_consumer(queue, destination=workers.nodes, reply=True, limit=len(workers.nodes))
        while seen < count:
            now = done()
            bar.update(now - seen)
            seen = now
            if time.perf_counter() - started > DONE_TIMEOUT_S:
                raise TimeoutError(f"{label}: only {seen} of {count} done after {DONE_TIMEOUT_S:.0f} s")
            if seen < count:
                time.sleep(POLL_S)
        seconds = time.perf_counter() - started
        cpu.stop()
    bar.close()
    peaks = rss.peak_mb()
    return {
        "seconds": round(seconds, 3),
        "per_s": round(count / seconds, 1),
        "peak_rss_mb": peaks,
        "max_peak_rss_mb": max(peaks) if peaks else None,
        # where the machine's CPU went, per send: the figure that explains the rate
        "cpu_ms_per_send": cpu.ms_per(count),
    }


def _timed_fill(fill: Callable[[], object], count: int) -> float:
    started = time.perf_counter()
    fill()
    return round(count / (time.perf_counter() - started), 1)


def _celery(bed: Bed, count: int) -> dict[str, Any]:
    client = redis.Redis.from_url(bed.redis_url)
    client.delete(DONE_KEY)
    app = producer_app()
    workers = bed.workers(
        bed.env(),
        count=PROCESSES,
        concurrency=CONCURRENCY,
        queues=[IDLE_QUEUE],
        app="smsq.bench.noop_app",
        name="noop",
    )
    try:

        def fill() -> None:
            for _ in range(count):
                app.send_task(NOOP_TASK, args=[uuid.uuid4().hex], queue=NOOP_QUEUE)

        enqueue_per_s = _timed_fill(fill, count)
        result = _drain(bed, "celery", workers, NOOP_QUEUE, count, lambda: int(client.get(DONE_KEY) or 0))
    finally:
        workers.stop()
        client.close()
    return {**result, "enqueue_per_s": enqueue_per_s}


def _smsq(bed: Bed, count: int) -> dict[str, Any]:
    from producers import send_code  # noqa: PLC0415
    from producers.constants import minute_stats_key, record_key  # noqa: PLC0415

    client = redis.Redis.from_url(bed.redis_url, decode_responses=True)
    numbers = Numbers("137").many(count)
    first_minute = int(time.time() // 60) - 1

    def done() -> int:
        pipe = client.pipeline(transaction=False)
        for minute in range(first_minute, int(time.time() // 60) + 2):
            pipe.hmget(minute_stats_key(minute), "sent", "failed", "expired")
        return sum(int(value or 0) for row in pipe.execute() for value in row)

    workers = bed.workers(bed.env(), count=PROCESSES, concurrency=CONCURRENCY, queues=[IDLE_QUEUE])
    tickets: list[str] = []
    try:
        enqueue_per_s = _timed_fill(
            lambda: tickets.extend(send_code(number, purpose="bench").id for number in numbers), count
        )
        result = _drain(bed, "smsq", workers, "smsq.default", count, done)
    finally:
        workers.stop()
    states: dict[str, int] = {}
    for batch in chunks(tickets, 1000):
        pipe = client.pipeline(transaction=False)
        for ticket in batch:
            pipe.hget(record_key(ticket), "state")
        for state in pipe.execute():
            states[str(state)] = states.get(str(state), 0) + 1
    client.close()
    return {**result, "enqueue_per_s": enqueue_per_s, "states": states}


def _sdk_process(endpoint: str, numbers: list[str], threads: int, start_at: float, out: Any) -> None:
    from smsq.bench.common import Emulator  # noqa: PLC0415

    client = Emulator(endpoint).sdk_client()
    runtime = sdk_runtime()
    failures: list[int] = []

    def loop(mine: list[str]) -> None:
        for number in mine:
            body = client.send_sms_verify_code_with_options(sdk_send_request(number), runtime).body
            if body.code != "OK":
                failures.append(1)

    workers = [threading.Thread(target=loop, args=(numbers[i::threads],)) for i in range(threads)]
    time.sleep(max(0.0, start_at - time.time()))
    began, cpu = time.time(), time.process_time()
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    cpu = time.process_time() - cpu
    out.put(
        {"began": began, "ended": time.time(), "sends": len(numbers), "failed": len(failures), "cpu_s": cpu}
    )


def _sdk(bed: Bed, count: int) -> dict[str, Any]:
    numbers = Numbers("159").many(count)
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    start_at = time.time() + 4.0  # time for every process to import the SDK
    processes = [
        context.Process(
            target=_sdk_process,
            args=(bed.emulator.endpoint, numbers[i::PROCESSES], CONCURRENCY, start_at, out),
        )
        for i in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    cpu = CpuMeter({"emulator": [bed.emulator_pid]})
    cpu.start()
    bar = progress(PROCESSES, "throughput sdk (processes)")
    reports = []
    for _ in processes:
        reports.append(out.get(timeout=DONE_TIMEOUT_S))
        bar.update()
    bar.close()
    for process in processes:
        process.join()
    cpu.stop()
    per_send = {"senders": round(sum(r["cpu_s"] for r in reports) * 1000 / count, 3), **cpu.ms_per(count)}
    seconds = max(r["ended"] for r in reports) - min(r["began"] for r in reports)
    return {
        "seconds": round(seconds, 3),
        "per_s": round(count / seconds, 1),
        "failed": sum(r["failed"] for r in reports),
        "cpu_ms_per_send": per_send,
    }
