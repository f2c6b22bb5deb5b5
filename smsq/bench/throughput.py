"""Sends per second through K worker processes x C threads: N queued sends until every one is done.

- ``smsq``, ``naive``, ``noop``: the same N tasks through the same pool, processes, Redis, emulator
  and Celery settings (:mod:`smsq.bench.variants`), drained in interleaved rounds
  (:mod:`smsq.bench.drain`);
- ``sdk``: no queue at all — K processes x C threads calling the SDK in a loop with one reused client
  per process, against the same emulator (its provider latency is 50 ms for every variant).

smsq ÷ naive is the figure a user cares about: what smsq's limits, dedupe, lanes and statuses cost
over the task they would write themselves, in sends/s and in worker CPU per send.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from typing import Any

import redis

from smsq.bench.common import Bed, CpuMeter, Numbers, progress, sdk_runtime, sdk_send_request
from smsq.bench.drain import DONE_TIMEOUT_S, compare
from smsq.bench.variants import Naive, Noop, Smsq
from smsq.devstack.processes import Stack

PROVIDER_LATENCY_MS = 50
PROCESSES = 2
CONCURRENCY = 64
#: Time for every raw-SDK process to start, import the SDK and warm its threads up.
SDK_START_S = 6.0


def run(quick: bool) -> dict[str, Any]:
    """Measure the four variants with the same processes x threads; return rates, CPU, RSS."""
    count, rounds = (300, 2) if quick else (4000, 4)
    with Stack() as stack:
        bed = Bed(stack, ["--latency-ms", str(PROVIDER_LATENCY_MS), "--rate-limit", "0"])
        client = redis.Redis.from_url(bed.redis_url, decode_responses=True)
        with bed.producer():
            variants = [Smsq(client, Numbers("137")), Naive(client, Numbers("138")), Noop(client)]
            queued = compare(
                bed, variants, count, processes=PROCESSES, concurrency=CONCURRENCY, rounds=rounds
            )
        client.close()
        sdk = _sdk(bed, count)
    return {
        "params": {
            "sends": count,
            "rounds": rounds,
            "processes": PROCESSES,
            "concurrency": CONCURRENCY,
            "pool": "threads",
            "provider_latency_ms": PROVIDER_LATENCY_MS,
        },
        **queued,
        "sdk": sdk,
    }


def _sdk_process(
    endpoint: str, warm_up: list[str], numbers: list[str], threads: int, start_at: float, out: Any
) -> None:
    """Send ``numbers`` from ``threads`` threads sharing one client; each thread first sends one of
    ``warm_up`` (its connection), then all wait for ``start_at``, when the clock starts."""
    from alibabacloud_dypnsapi20170525.client import Client  # noqa: PLC0415

    from smsq.bench.common import Emulator  # noqa: PLC0415

    config = Emulator(endpoint).sdk_config()
    config.max_idle_conns = 128  # a connection per thread, as smsq's and the naive task's clients keep
    client = Client(config)
    runtime = sdk_runtime()
    failures: list[int] = []
    ready = threading.Barrier(threads + 1)

    def loop(first: str, mine: list[str]) -> None:
        client.send_sms_verify_code_with_options(sdk_send_request(first), runtime)
        ready.wait()
        for number in mine:
            body = client.send_sms_verify_code_with_options(sdk_send_request(number), runtime).body
            if body.code != "OK":
                failures.append(1)

    workers = [threading.Thread(target=loop, args=(warm_up[i], numbers[i::threads])) for i in range(threads)]
    for thread in workers:
        thread.start()
    time.sleep(max(0.0, start_at - time.time()))
    began, cpu = time.time(), time.process_time()
    ready.wait()
    for thread in workers:
        thread.join()
    cpu = time.process_time() - cpu
    out.put(
        {"began": began, "ended": time.time(), "sends": len(numbers), "failed": len(failures), "cpu_s": cpu}
    )


def _sdk(bed: Bed, count: int) -> dict[str, Any]:
    """The raw SDK loop: no queue, no Celery; each thread warmed up by one send before the clock."""
    numbers = Numbers("159").many(count)
    warm_up = Numbers("158")
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    start_at = time.time() + SDK_START_S
    processes = [
        context.Process(
            target=_sdk_process,
            args=(
                bed.emulator.endpoint,
                warm_up.many(CONCURRENCY),
                numbers[i::PROCESSES],
                CONCURRENCY,
                start_at,
                out,
            ),
        )
        for i in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    cpu = CpuMeter({"emulator": [bed.emulator_pid]})
    time.sleep(max(0.0, start_at - time.time()))
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
