"""Recovery: every accepted send is run again, by a live worker, when whoever held it is gone.

The send records are the truth; the broker's messages are only a way to hand sends out. Every send
not yet final sits in an index (``smsq:inflight``) scored by when someone should next look at it.
Whoever holds a send pushes that time back: the run calling the provider (its lease, renewed by
worker/leases.py), the worker that reserved its message (its heartbeat, below), the rate slot it is
parked for. Every worker process runs a sweep on Celery's own timer; in one atomic script call at a
time, the sweep

1. reaps the workers that stopped beating and queues the sends they held for re-publishing
   (a worker killed with sends prefetched or running: Sidekiq's "orphans", found by the living);
2. publishes the parked sends whose rate slot has come (the scheduler: no ETA message ever waits
   inside a worker, so none is hoarded and none dies with it);
3. reconciles the index: a send nobody vouched for is published again, whether its message died
   with a worker, sits in a dead worker's unacked copy, or was lost by the broker between its pop
   and its unacked write. A send past its deadline ends ``expired`` instead.

Publishing twice is harmless: ``claim.lua``'s lease lets one run through, and a run that finds the
send final does nothing. Kombu's visibility timeout stays as the backstop it was designed to be.
"""

from __future__ import annotations

import logging
import os
from typing import Any, ClassVar

import redis
from celery import bootsteps
from celery.worker import state as worker_state
from prometheus_client import Counter

from producers import constants
from producers.errors import ServiceUnavailable
from producers.publisher import publish_send
from producers.scripts import Scripts
from producers.settings import Settings, get_settings

log = logging.getLogger("smsq.recovery")

#: A worker process beats this often...
HEARTBEAT_S = 2.0
#: ...and is dead after this long without a beat (its sends are handed out again).
DEAD_AFTER_S = 8.0
#: How often each worker process sweeps (several workers share the work; each call is atomic).
SWEEP_EVERY_S = 0.5
#: At most this many sends per script call, so one sweep never blocks Redis for long.
BATCH = 200
#: Timeouts of the sweep's own Redis client: an outage must not stall the worker's event loop.
REDIS_TIMEOUT_S = 1.0

RECOVERED = Counter("smsq_recovered_sends", "Sends published again by the recovery sweep", ["why"])
REAPED = Counter("smsq_reaped_workers", "Worker processes found dead by the recovery sweep")


class Sweeper:
    """One worker process's heartbeat and share of the recovery sweep."""

    def __init__(self, client: redis.Redis, settings: Settings, worker_id: str) -> None:
        self._client = client
        self._scripts = Scripts(client, "worker")
        self._settings = settings
        self.worker_id = worker_id
        # LLEN of a lane's queue means something only when the broker is this Redis
        self._queue_prefix = constants.QUEUE_PREFIX if settings.broker_dsn == settings.redis_dsn else ""

    def beat(self, held: list[str] | None = None) -> None:
        """Say this worker is alive, and which sends it holds (reserved or running)."""
        tickets = _held_sends() if held is None else held
        self._scripts.run(
            "heartbeat",
            [constants.workers_key(), constants.held_key(self.worker_id), constants.inflight_key()],
            [self.worker_id, int(DEAD_AFTER_S * 1000), int(DEAD_AFTER_S * 10_000), *tickets],
        )

    def leave(self) -> None:
        """Stop being a live worker on a warm shutdown: Celery hands its reserved messages back to
        the queue, and a run it had to cut short lets its lease lapse."""
        pipe = self._client.pipeline(transaction=True)
        pipe.zrem(constants.workers_key(), self.worker_id)
        pipe.delete(constants.held_key(self.worker_id))
        try:
            pipe.execute()
        except redis.RedisError as exc:
            raise ServiceUnavailable("Redis is unavailable") from exc

    def sweep(self) -> int:
        """One sweep: reap the dead, publish the due, re-publish the lost. Returns sends published."""
        reaped = self._scripts.run(
            "reap",
            [constants.workers_key(), constants.orphans_key()],
            [int(DEAD_AFTER_S * 1000), constants.held_key(""), constants.record_key("")],
        )
        if reaped:
            REAPED.inc(len(reaped))
            log.warning("recovery.reaped workers=%s", ",".join(reaped))
        published = 0
        grace_ms = constants.DISPATCH_GRACE_S * 1000
        lookahead_ms = int(self._settings.limiter_max_sleep_s * 1000)
        for lane in self._settings.lanes:
            due = self._scripts.run(
                "due",
                [constants.due_key(lane), constants.inflight_key()],
                [lookahead_ms, BATCH, constants.record_key(""), grace_ms],
            )
            for ticket, masked, purpose, deadline_at in due:
                published += self._publish(ticket, lane, masked, purpose, deadline_at, "slot")
        lost = self._scripts.run(
            "reconcile",
            [constants.inflight_key(), constants.orphans_key()],
            [
                BATCH,
                grace_ms,
                constants.record_key(""),
                constants.lease_key(""),
                self._queue_prefix,
                constants.minute_stats_key(""),
            ],
        )
        for ticket, lane, masked, purpose, deadline_at in lost:
            published += self._publish(ticket, lane, masked, purpose, deadline_at, "unheld")
        return published

    def _publish(self, ticket: str, lane: str, masked: str, purpose: str, deadline_at: str, why: str) -> int:
        try:
            publish_send(
                ticket, lane=lane, masked_phone=masked, purpose=purpose, expires_at=float(deadline_at)
            )
        except ServiceUnavailable:
            return 0  # the index still has it: the next sweep tries again
        RECOVERED.labels(why).inc()
        if why != "slot":
            log.info("recovery.republished ticket=%s lane=%s phone=%s", ticket, lane, masked)
        return 1


def _held_sends() -> list[str]:
    """The smsq sends this worker process holds now: reserved (prefetched) or running."""
    for _ in range(3):  # the sets change under us while the consumer works; copy them again
        try:
            requests = [*worker_state.reserved_requests, *worker_state.active_requests]
            break
        except RuntimeError:
            continue
    else:
        return []
    return [str(request.id) for request in requests if request.name == constants.SEND_TASK_NAME]


def recovery_client(settings: Settings) -> redis.Redis:
    """The sweep's own Redis client, with short timeouts: it runs on the worker's event loop."""
    return redis.Redis.from_url(
        settings.redis_dsn,
        decode_responses=True,
        socket_connect_timeout=REDIS_TIMEOUT_S,
        socket_timeout=REDIS_TIMEOUT_S,
    )


class RecoveryStep(bootsteps.StartStopStep):
    """The worker step that beats and sweeps on Celery's own timer (the event loop's, with prefork)."""

    requires: ClassVar[set[str]] = {"celery.worker.components:Timer"}

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self.sweeper: Sweeper | None = None
        self.timers: list[Any] = []

    def start(self, parent: Any) -> None:
        settings = get_settings()
        self.sweeper = Sweeper(recovery_client(settings), settings, f"{parent.hostname}/{os.getpid()}")
        self.timers = [
            parent.timer.call_repeatedly(HEARTBEAT_S, self._guarded, (self.sweeper.beat,)),
            parent.timer.call_repeatedly(SWEEP_EVERY_S, self._guarded, (self.sweeper.sweep,)),
        ]
        self._guarded(self.sweeper.beat)

    def stop(self, parent: Any) -> None:
        for timer in self.timers:
            timer.cancel()
        self.timers = []
        if self.sweeper is not None:
            self._guarded(self.sweeper.leave)

    @staticmethod
    def _guarded(call: Any) -> None:
        try:
            call()
        except ServiceUnavailable:
            log.warning("recovery.skipped: Redis is unavailable")
