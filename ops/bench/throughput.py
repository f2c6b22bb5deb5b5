"""Sends per second end to end: enqueue N, wait until every one is done, on K workers x C threads.

- ``smsq``: ``send_code()`` N times into running smsq workers; done when the per-minute outcome
  counters the workers write (``finish.lua``) add up to N; afterwards every record is read in a
  pipeline to count the states;
- ``celery``: the same N through bare Celery — ``bench.noop`` (:mod:`ops.bench.noop_app`, smsq's
  worker settings, a task that only counts itself) with the same pool, processes and Redis;
- ``sdk``: no queue at all — K processes x C threads calling the SDK in a loop with one reused client
  per process, against the same emulator (its provider latency is 50 ms for every variant).

The peak RSS of every worker process (and its children) is sampled during its run.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
import uuid
from typing import Any

import redis

from ops.bench.common import Bed, Numbers, RssSampler, chunks, progress, sdk_runtime, sdk_send_request
from ops.bench.noop_app import DONE_KEY, NOOP_QUEUE, NOOP_TASK
from producers.cli.stack import Child, Stack

PROVIDER_LATENCY_MS = 50
PROCESSES = 2
CONCURRENCY = 64
POLL_S = 0.01
DONE_TIMEOUT_S = 240.0


def run(quick: bool) -> dict[str, Any]:
    """Measure the three variants with the same processes x threads; return rates and peak RSS."""
    count = 300 if quick else 3000
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


def _wait(label: str, count: int, done: Any, started: float) -> float:
    """Poll ``done()`` until it reaches ``count``; return the time it did."""
    bar = progress(count, f"throughput {label}")
    seen = 0
    try:
        while seen < count:
            now = done()
            bar.update(now - seen)
            seen = now
            if time.perf_counter() - started > DONE_TIMEOUT_S:
                raise TimeoutError(f"{label}: only {seen} of {count} done after {DONE_TIMEOUT_S:.0f} s")
            if seen < count:
                time.sleep(POLL_S)
        return time.perf_counter()
    finally:
        bar.close()


def _result(count: int, started: float, enqueued: float, finished: float, rss: RssSampler) -> dict[str, Any]:
    seconds = finished - started
    peaks = rss.peak_mb()
    return {
        "seconds": round(seconds, 3),
        "enqueue_s": round(enqueued - started, 3),
        "per_s": round(count / seconds, 1),
        "peak_rss_mb": peaks,
        "max_peak_rss_mb": max(peaks) if peaks else None,
    }


def _stop(children: list[Child]) -> None:
    for child in children:
        child.stop(timeout_s=20)


def _celery(bed: Bed, count: int) -> dict[str, Any]:
    from celery import Celery  # noqa: PLC0415

    from producers.publisher import broker_options  # noqa: PLC0415
    from producers.settings import get_settings  # noqa: PLC0415

    client = redis.Redis.from_url(bed.redis_url)
    client.delete(DONE_KEY)
    app = Celery("bench-producer", set_as_current=False)
    app.conf.update(broker_options(get_settings()))
    app.send_task("bench.warmup", queue="bench.warmup")  # open the producer's connection first
    children = bed.workers(
        bed.env(), count=PROCESSES, concurrency=CONCURRENCY, queues=[NOOP_QUEUE], app="ops.bench.noop_app",
        name="noop",
    )  # fmt: skip
    try:
        with RssSampler([c.process.pid for c in children]) as rss:
            started = time.perf_counter()
            for _ in range(count):
                app.send_task(NOOP_TASK, args=[uuid.uuid4().hex], queue=NOOP_QUEUE)
            enqueued = time.perf_counter()
            finished = _wait("celery", count, lambda: int(client.get(DONE_KEY) or 0), started)
    finally:
        _stop(children)
        client.close()
    return _result(count, started, enqueued, finished, rss)


def _smsq(bed: Bed, count: int) -> dict[str, Any]:
    from producers import send_code  # noqa: PLC0415
    from producers.constants import minute_stats_key, record_key  # noqa: PLC0415

    client = redis.Redis.from_url(bed.redis_url, decode_responses=True)
    numbers = Numbers("137").many(count)
    send_code(Numbers("138").take(), purpose="warmup")  # open the producer's connections first
    first_minute = int(time.time() // 60) - 1

    def done() -> int:
        pipe = client.pipeline(transaction=False)
        minutes = range(first_minute, int(time.time() // 60) + 2)
        for minute in minutes:
            pipe.hmget(minute_stats_key(minute), "sent", "failed", "expired")
        return sum(int(value or 0) for row in pipe.execute() for value in row)

    children = bed.workers(bed.env(), count=PROCESSES, concurrency=CONCURRENCY, queues=["smsq.default"])
    try:
        baseline = done()  # the warm-up send
        with RssSampler([c.process.pid for c in children]) as rss:
            started = time.perf_counter()
            tickets = [send_code(number, purpose="bench").id for number in numbers]
            enqueued = time.perf_counter()
            finished = _wait("smsq", count, lambda: done() - baseline, started)
    finally:
        _stop(children)
    states: dict[str, int] = {}
    for batch in chunks(tickets, 1000):
        pipe = client.pipeline(transaction=False)
        for ticket in batch:
            pipe.hget(record_key(ticket), "state")
        for state in pipe.execute():
            states[str(state)] = states.get(str(state), 0) + 1
    client.close()
    return {**_result(count, started, enqueued, finished, rss), "states": states}


def _sdk_process(endpoint: str, numbers: list[str], threads: int, start_at: float, out: Any) -> None:
    from ops.bench.common import Emulator  # noqa: PLC0415

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
    began = time.time()
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    out.put({"began": began, "ended": time.time(), "sends": len(numbers), "failed": len(failures)})


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
    bar = progress(PROCESSES, "throughput sdk (processes)")
    reports = []
    for _ in processes:
        reports.append(out.get(timeout=DONE_TIMEOUT_S))
        bar.update()
    bar.close()
    for process in processes:
        process.join()
    seconds = max(r["ended"] for r in reports) - min(r["began"] for r in reports)
    return {
        "seconds": round(seconds, 3),
        "per_s": round(count / seconds, 1),
        "failed": sum(r["failed"] for r in reports),
    }
