"""The kinds of queued task the throughput and scale benchmarks compare, and how each is counted.

Every variant runs on the same pool, process count, threads, Redis, emulator and Celery settings
(``worker.celeryconfig``), so what differs is the task's own work:

- ``smsq``: ``send_code()`` fills the lane's queue; smsq's workers (``worker.app``) claim, take a
  token from the shared limiter, call the provider, record the outcome; counted by the per-minute
  outcome counters they write (``finish.lua``);
- ``naive``: the seed's send in a Celery task (:mod:`smsq.bench.naive_app`): the SDK through one
  client per process, tenacity on transient errors, one ``INCR`` to count itself done;
- ``noop``: a task that only counts itself done (:mod:`smsq.bench.noop_app`): Celery's own cost.

:mod:`smsq.bench.drain` measures them.
"""

from __future__ import annotations

import time
import uuid
from abc import ABC, abstractmethod
from collections import Counter
from typing import Any

import redis

from smsq.bench.common import Numbers, chunks, producer_app
from smsq.bench.naive_app import DONE_KEY as NAIVE_DONE_KEY
from smsq.bench.naive_app import NAIVE_QUEUE, NAIVE_TASK
from smsq.bench.noop_app import DONE_KEY as NOOP_DONE_KEY
from smsq.bench.noop_app import NOOP_QUEUE, NOOP_TASK


class Variant(ABC):
    """One kind of task: its Celery app and queue, how to queue N of them, how many are done."""

    name: str
    app: str
    queue: str

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self._base = 0
        #: round trips and commands the benchmark's own polling sent (the drain zeroes them as it starts)
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
        """Count done tasks from here on."""
        self._base = self.finished()

    def forget(self) -> None:
        """Start the figures of :meth:`figures` again (after a warm-up); the base has none."""
        return None

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

    def forget(self) -> None:
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
