"""N queued tasks of one variant through K worker processes x C threads, measured until all are done.

The variants run on the same pool, process count, threads, Redis, emulator and Celery settings
(``worker.celeryconfig``), so what differs is the task's own work:

- ``smsq``: ``send_code()`` fills the lane's queue; smsq's workers (``worker.app``) claim, take a
  token from the shared limiter, call the provider, record the outcome; done when the per-minute
  outcome counters they write (``finish.lua``) add up to N;
- ``naive``: the seed's send in a Celery task (:mod:`smsq.bench.naive_app`): the SDK through one
  client per process, tenacity on transient errors, one ``INCR`` to count itself done;
- ``noop``: a task that only counts itself done (:mod:`smsq.bench.noop_app`): Celery's own cost.

The workers start and are ready before the clock starts, consuming only an idle queue. Each variant
first drains a warm-up batch (two tasks per pool slot, so every thread has opened its connections
and every lazy import and client is built: smsq loads the SDK on its first send, the naive task
when it is imported), then the workers stop consuming; the measured batch is queued, and one
``add_consumer`` broadcast opens it to every worker at once. So neither start-up nor the single
producer thread's enqueue rate is in the figure (the enqueue rate is reported beside it).
Measured while the queue drains: CPU seconds of the worker processes, the emulator and Redis;
peak RSS per worker process; Redis round trips and commands per task.
"""

from __future__ import annotations

import time
import uuid
from abc import ABC, abstractmethod
from collections import Counter
from typing import Any

import redis

from smsq.bench.common import (
    Bed,
    CpuMeter,
    Numbers,
    RssSampler,
    chunks,
    producer_app,
    progress,
    tell_workers,
)
from smsq.bench.naive_app import DONE_KEY as NAIVE_DONE_KEY
from smsq.bench.naive_app import NAIVE_QUEUE, NAIVE_TASK
from smsq.bench.noop_app import DONE_KEY as NOOP_DONE_KEY
from smsq.bench.noop_app import NOOP_QUEUE, NOOP_TASK
from smsq.bench.redis_calls import RedisCalls

POLL_S = 0.01
DONE_TIMEOUT_S = 240.0
#: The queue workers consume before the gate opens: nothing is ever published to it.
IDLE_QUEUE = "bench.idle"
#: Longer than kombu's Redis BRPOP timeout (1 s), so a closed queue is no longer read.
BRPOP_LAPSE_S = 1.5


class Variant(ABC):
    """One kind of task: its Celery app and queue, how to queue N of them, how many are done."""

    name: str
    app: str
    queue: str

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self._base = 0
        #: round trips and commands the benchmark's own polling sent to the bed's Redis
        self.polls = 0
        self.poll_commands: Counter[str] = Counter()

    @abstractmethod
    def fill(self, count: int) -> None:
        """Queue ``count`` tasks (no worker consumes the queue yet)."""

    @abstractmethod
    def finished(self) -> int:
        """Tasks of this variant done in this Redis so far (one round trip, into ``poll_commands``)."""

    def done(self) -> int:
        """Tasks done since the last :meth:`rebase`."""
        self.polls += 1
        return self.finished() - self._base

    def rebase(self) -> None:
        """Count from here on (after a warm-up): done tasks, polls and figures start again."""
        self._base = self.finished()
        self.polls = 0
        self.poll_commands.clear()

    def figures(self) -> dict[str, Any]:
        """Figures only this variant has, read after the run."""
        return {}


class _Counted(Variant):
    """A bench task that counts itself done with one ``INCR`` of ``done_key``."""

    done_key: str
    task: str

    def __init__(self, client: redis.Redis) -> None:
        super().__init__(client)
        self._producer = producer_app()

    def args(self) -> list[str]:
        return [uuid.uuid4().hex]

    def fill(self, count: int) -> None:
        for _ in range(count):
            self._producer.send_task(self.task, args=self.args(), queue=self.queue)

    def finished(self) -> int:
        self.poll_commands["get"] += 1
        return int(self.client.get(self.done_key) or 0)


class Noop(_Counted):
    name, app, queue = "noop", "smsq.bench.noop_app", NOOP_QUEUE
    done_key, task = NOOP_DONE_KEY, NOOP_TASK


class Naive(_Counted):
    name, app, queue = "naive", "smsq.bench.naive_app", NAIVE_QUEUE
    done_key, task = NAIVE_DONE_KEY, NAIVE_TASK

    def __init__(self, client: redis.Redis, numbers: Numbers) -> None:
        super().__init__(client)
        self._numbers = numbers

    def args(self) -> list[str]:
        return [self._numbers.take()]


class Smsq(Variant):
    """smsq's own send path; the process must be configured as a producer of the bed."""

    name, app, queue = "smsq", "worker.app", "smsq.default"

    def __init__(self, client: redis.Redis, numbers: Numbers) -> None:
        super().__init__(client)
        self._numbers = numbers
        self._first_minute = int(time.time() // 60) - 1
        self.tickets: list[str] = []

    def fill(self, count: int) -> None:
        from producers import send_code  # noqa: PLC0415

        self.tickets.extend(send_code(number, purpose="bench").id for number in self._numbers.many(count))

    def finished(self) -> int:
        from producers.constants import minute_stats_key  # noqa: PLC0415

        pipe = self.client.pipeline(transaction=False)
        for minute in range(self._first_minute, int(time.time() // 60) + 2):
            pipe.hmget(minute_stats_key(minute), "sent", "failed", "expired")
            self.poll_commands["hmget"] += 1
        return sum(int(value or 0) for row in pipe.execute() for value in row)

    def rebase(self) -> None:
        super().rebase()
        self.tickets.clear()

    def figures(self) -> dict[str, Any]:
        """How many of this run's sends ended in each state."""
        from producers.constants import record_key  # noqa: PLC0415

        states: dict[str, int] = {}
        for batch in chunks(self.tickets, 1000):
            pipe = self.client.pipeline(transaction=False)
            for ticket in batch:
                pipe.hget(record_key(ticket), "state")
            for state in pipe.execute():
                states[str(state)] = states.get(str(state), 0) + 1
        return {"states": states}


def measure(bed: Bed, variant: Variant, count: int, *, processes: int, concurrency: int) -> dict[str, Any]:
    """Start the variant's workers, warm them up, queue ``count`` tasks, open the queue, measure
    until all are done."""
    workers = bed.workers(
        bed.env(),
        count=processes,
        concurrency=concurrency,
        queues=[IDLE_QUEUE],
        app=variant.app,
        name=variant.name,
    )
    try:
        _warm_up(variant, workers.nodes, 2 * processes * concurrency)
        started = time.perf_counter()
        variant.fill(count)
        enqueue_per_s = round(count / (time.perf_counter() - started), 1)
        result = _drain(bed, variant, workers.pids, workers.nodes, count, f"{variant.name} x{processes}")
    finally:
        workers.stop()
    return {**result, "enqueue_per_s": enqueue_per_s, **variant.figures()}


def _warm_up(variant: Variant, nodes: list[str], count: int) -> None:
    """Run ``count`` tasks through the workers, close their queue again, and count from zero."""
    app = producer_app()
    variant.rebase()
    variant.fill(count)
    tell_workers(app, "add_consumer", variant.queue, nodes)
    deadline = time.perf_counter() + DONE_TIMEOUT_S
    while variant.done() < count:
        if time.perf_counter() > deadline:
            raise TimeoutError(f"{variant.name}: the warm-up did not finish in {DONE_TIMEOUT_S:.0f} s")
        time.sleep(POLL_S)
    tell_workers(app, "cancel_consumer", variant.queue, nodes)
    # A BRPOP already waiting still names the queue until it times out (1 s in kombu's Redis
    # transport): let it lapse before the measured batch is queued.
    time.sleep(BRPOP_LAPSE_S)
    variant.rebase()


def _drain(
    bed: Bed, variant: Variant, pids: list[int], nodes: list[str], count: int, label: str
) -> dict[str, Any]:
    """Open the variant's queue to every worker and wait until ``count`` tasks are done."""
    app = producer_app()
    cpu = CpuMeter({"workers": pids, "emulator": [bed.emulator_pid], "redis": [bed.redis_pid]})
    calls = RedisCalls(variant.client)
    bar = progress(count, f"throughput {label}")
    seen = 0
    with RssSampler(pids) as rss:
        calls.start()
        cpu.start()
        started = time.perf_counter()
        tell_workers(app, "add_consumer", variant.queue, nodes)
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
    peaks = rss.peak_mb()
    return {
        "seconds": round(seconds, 3),
        "per_s": round(count / seconds, 1),
        "peak_rss_mb": peaks,
        "max_peak_rss_mb": max(peaks) if peaks else None,
        # where the machine's CPU went, per task: the figure that explains the rate
        "cpu_ms_per_send": cpu.ms_per(count),
        # cores busy on average while draining (1.0 = one core all the time)
        "cores_busy": {name: round(spent / seconds, 2) for name, spent in cpu.spent.items()},
        "redis_per_send": calls.per(count, own_round_trips=variant.polls, own_commands=variant.poll_commands),
    }
