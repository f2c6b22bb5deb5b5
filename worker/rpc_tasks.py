"""The tasks of ``SMSQ_CHECK_MODE=worker`` (:mod:`producers.rpc`): ``smsq.check_code`` and the
no-op ``smsq.ping``, both on the check queue. Each rebuilds its collaborators and calls
:mod:`worker.checks`.

A person waits on every one of these, so Celery's own task events (``task-received`` before the
task runs, ``task-started`` as it starts: a Redis round trip each, about half of a bare round trip
on a busy host) are off for them (``send_events=False``), and the same events are sent once the
answer is pushed, off the caller's wait, in one message: Flower still lists every call, with
``argsrepr`` and ``kwargsrepr`` (the token and the masked number) as the arguments.

They keep the late ack of every smsq task, so the ack too happens after the answer. A redelivery (a
worker died mid-check) arrives long after its deadline, and ``rpc_claim.lua`` refuses it without
asking the provider.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from celery import Task

from producers.connections import get_redis
from producers.constants import CHECK_TASK_NAME, CHECK_TASK_VERSION, PING_TASK_NAME
from producers.keyring import get_keyring
from producers.rpc import rpc_calls_for
from producers.settings import get_settings
from worker.app import app
from worker.checks import answer_check, answer_ping

logger = logging.getLogger("smsq.worker")


@app.task(name=CHECK_TASK_NAME, bind=True, send_events=False, typing=False)
def check_code(
    self: Task, token: str, *_: Any, v: int = 0, sealed: str = "", deadline_ms: int = 0, **__: Any
) -> str:
    """Ask the provider about the check sealed in ``sealed`` for the caller waiting on ``token``;
    returns what happened (never the verdict, the number or the code)."""
    if v != CHECK_TASK_VERSION:
        logger.warning("check.skipped token=%s reason=schema", token)
        return "schema"
    return _announced(
        self,
        lambda: answer_check(
            rpc_calls_for(get_redis()),
            get_keyring(),
            get_settings(),
            token=token,
            sealed=sealed,
            deadline_ms=int(deadline_ms),
        ),
    )


@app.task(name=PING_TASK_NAME, bind=True, send_events=False, typing=False)
def ping(self: Task, token: str, *_: Any, deadline_ms: int = 0, **__: Any) -> str:
    """Answer on the check path without asking anyone (a bare RPC round trip)."""
    calls, settings = rpc_calls_for(get_redis()), get_settings()
    return _announced(self, lambda: answer_ping(calls, settings, token=token, deadline_ms=int(deadline_ms)))


def _announced(task: Task, run: Callable[[], str]) -> str:
    """``run()``, then the task events Celery would have sent (received, started, succeeded or
    failed), all after the answer is out."""
    started = time.monotonic()
    try:
        outcome = run()
    except Exception as exc:
        _send_events(task, "task-failed", exception=f"{type(exc).__name__}: {exc}", traceback="")
        raise
    _send_events(task, "task-succeeded", result=repr(outcome), runtime=time.monotonic() - started)
    return outcome


def _send_events(task: Task, last: str, **fields: Any) -> None:
    """Best effort, as Celery's own: a monitor's events are never worth failing the call."""
    if not task.app.conf.worker_send_task_events:
        return
    try:
        _dispatch(task, last, fields)
    except Exception as exc:  # the broker failed in between: the answer is out all the same
        logger.warning("check.events_lost token=%s error=%s", task.request.id, type(exc).__name__)


def _dispatch(task: Task, last: str, fields: dict[str, Any]) -> None:
    """The three events in one message (Celery's ``task.multi`` batch, which Flower reads as three):
    one publish instead of three, while the next caller may already be waiting on this worker."""
    request, app = task.request, task.app
    with app.amqp.producer_pool.acquire(block=True) as producer:
        dispatcher = app.events.Dispatcher(
            producer.connection,
            hostname=request.hostname,
            channel=producer.channel,
            buffer_while_offline=False,
            buffer_group={"task"},
            buffer_limit=3,
        )
        with dispatcher:
            dispatcher.send(
                "task-received",
                uuid=request.id,
                name=task.name,
                args=request.get("argsrepr") or "()",
                kwargs=request.get("kwargsrepr") or "{}",
                root_id=request.root_id,
                parent_id=request.parent_id,
                retries=request.retries,
                eta=None,
                expires=request.expires,
            )
            dispatcher.send("task-started", uuid=request.id)
            dispatcher.send(last, uuid=request.id, **fields)
            dispatcher.flush()
