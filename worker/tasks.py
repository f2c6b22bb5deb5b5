"""The ``smsq.send_code`` task: rebuild the collaborators once per process, call the service."""

from __future__ import annotations

import functools
import logging
import uuid
from typing import Any

from celery import Task
from celery.exceptions import SoftTimeLimitExceeded

from producers.connections import get_redis
from producers.constants import QUEUE_PREFIX, SEND_TASK_NAME, TASK_VERSION
from producers.errors import ServiceUnavailable
from producers.keyring import get_keyring
from producers.provider import get_provider
from producers.settings import get_settings
from producers.store import store_for
from worker import metrics
from worker.app import app
from worker.delivery import Delivery, RunResult
from worker.leases import LeaseKeeper
from worker.limiter import UpstreamLimiter

logger = logging.getLogger("smsq.worker")

#: Runs that did not end the send: not counted as finished.
_NOT_FINISHED = frozenset({RunResult.PARKED, RunResult.BUSY})


@functools.cache
def _delivery() -> Delivery:
    settings = get_settings()
    client = get_redis()
    return Delivery(
        store_for(client),
        get_provider(),
        UpstreamLimiter.from_settings(settings, client),
        settings,
        leases=LeaseKeeper(client, settings.run_lease_s),
        keyring=get_keyring(),
    )


@app.task(name=SEND_TASK_NAME, bind=True, max_retries=0, acks_late=True, typing=False)
def send_code(self: Task, ticket: str, *_: Any, v: int = TASK_VERSION, **__: Any) -> str:
    """Deliver the send recorded under ``ticket`` (the task id). Returns a log-safe summary, the
    run's result and reason (``"sent ok"``): the ticket is the task id already, and Celery reprs the
    value twice per run (its log line, the task-succeeded event), where a dict costs 7x a string.

    ``v`` is the payload's schema version; a payload of another version (another release) ends the
    send with reason ``schema`` instead of failing on arguments it cannot read."""
    delivery = _delivery()
    if v != TASK_VERSION:
        delivery.give_up(ticket, "schema", token="")
        metrics.send_finished("unknown", "failed", "schema")
        return "failed schema"
    queue = str((self.request.delivery_info or {}).get("routing_key") or "")
    token = uuid.uuid4().hex
    try:
        with metrics.in_progress(queue.removeprefix(QUEUE_PREFIX) or "unknown"):
            outcome = delivery.deliver(ticket, token=token, lane=queue.removeprefix(QUEUE_PREFIX) or None)
    except ServiceUnavailable:
        # Redis failed mid-run: the send was handed back if Redis let us, else its lease lapses.
        # Either way the recovery sweep publishes it again once Redis answers (worker/recovery.py);
        # a retry message now could not even be published.
        logger.warning("send.handed_back ticket=%s reason=redis_unavailable", ticket)
        return "handed_back redis_unavailable"
    except Exception as exc:
        # Anything else (the soft time limit, a bug) still ends the send with a reason to look up.
        reason = "time_limit" if isinstance(exc, SoftTimeLimitExceeded) else "internal_error"
        delivery.give_up(ticket, reason, token=token)
        metrics.send_finished("unknown", "failed", reason)
        raise
    if outcome.result not in _NOT_FINISHED:
        metrics.send_finished(outcome.lane or "unknown", outcome.result, outcome.reason)
    return f"{outcome.result.value} {outcome.reason}"
