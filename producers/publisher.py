"""Publish ``smsq.send_code`` (and check calls) through Celery by name: backends never import ``worker``.

A small producer-side Celery app is built once per process with the same serialisation and
broker options as the workers (``worker.celeryconfig`` reuses :func:`broker_options`).
"""

from __future__ import annotations

import datetime as dt
import functools
import threading
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from producers.constants import CHECK_QUEUE, SEND_TASK_NAME, TASK_VERSION, queue_for_lane
from producers.errors import ServiceUnavailable
from producers.settings import Settings, get_settings

if TYPE_CHECKING:
    from celery import Celery

#: Kombu's Redis transport re-queues an unacked message older than this. It is only the backstop:
#: the recovery sweep (worker/recovery.py) re-publishes a dead worker's sends within seconds. It
#: must outlast a message's longest legitimate stay in a live worker (waiting for a pool slot, then
#: a run of at most TASK_TIME_LIMIT_S), or a live send would be handed out twice (harmless, but work).
VISIBILITY_TIMEOUT_S = 600


def broker_options(settings: Settings) -> dict[str, Any]:
    """Celery settings that producers and workers must share."""
    return {
        "broker_url": settings.broker_dsn,
        "broker_transport_options": {
            "visibility_timeout": VISIBILITY_TIMEOUT_S,
            # bounded socket waits: a publish on a half-open connection must fail, not hang
            "socket_timeout": settings.redis_timeout_s,
            "socket_connect_timeout": settings.redis_connect_timeout_s,
        },
        "task_serializer": "json",
        "accept_content": ["json"],
        "result_serializer": "json",
        # a task-sent event per publish, so Flower shows queued sends before a worker takes them
        "task_send_sent_event": True,
        "broker_connection_retry_on_startup": True,
        **broker_transport(settings.broker_dsn, "producers.transport:Transport"),
    }


def broker_transport(broker_url: str, transport: str) -> dict[str, Any]:
    """``transport`` (smsq's kombu Redis transport, see producers/transport.py) for a plain
    ``redis://`` broker. Only that scheme: kombu reads TLS defaults from ``rediss://`` and other
    options from other schemes, so they keep kombu's own."""
    if urlsplit(broker_url).scheme == "redis":
        return {"broker_transport": transport}
    return {}


_lock = threading.Lock()


def producer_app(*, sent_events: bool = True) -> Celery:
    """The producer-side Celery app of this process (also used to ping workers). Celery loads on
    the first publish, so importing ``producers`` stays cheap.

    ``sent_events=False`` is the app of RPC calls: a check lives for milliseconds, so its task-sent
    event would only add a Redis round trip while a person waits; Flower still sees the call from
    the worker's events (received, started, succeeded)."""
    with _lock:  # Celery's lazy modules fail when two threads import them at once
        return _build_app(sent_events)


@functools.cache
def _build_app(sent_events: bool) -> Celery:
    from celery import Celery  # noqa: PLC0415

    app = Celery("smsq-producer" if sent_events else "smsq-rpc", set_as_current=False)
    app.conf.update(broker_options(get_settings()), task_send_sent_event=sent_events)
    return app


def send_options(
    ticket: str, *, lane: str, masked_phone: str, purpose: str, expires_at: float
) -> dict[str, Any]:
    """``send_task`` arguments of the send of ``ticket`` on its lane: the task carries no phone
    number, only the ticket; logs, events and Flower show the masked number instead."""
    queue = queue_for_lane(lane)
    return {
        "name": SEND_TASK_NAME,
        "args": [ticket],
        "kwargs": {"v": TASK_VERSION},
        "task_id": ticket,
        "queue": queue,
        "routing_key": queue,
        "expires": dt.datetime.fromtimestamp(expires_at, tz=dt.UTC),
        "argsrepr": repr((ticket,)),
        "kwargsrepr": repr({"phone": masked_phone, "lane": lane, "purpose": purpose}),
    }


def publish_send(ticket: str, *, lane: str, masked_phone: str, purpose: str, expires_at: float) -> None:
    """Queue the send of ``ticket`` on its lane (see :func:`send_options`)."""
    try:
        producer_app().send_task(
            **send_options(
                ticket, lane=lane, masked_phone=masked_phone, purpose=purpose, expires_at=expires_at
            ),
            retry=True,
            retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.1, "interval_max": 0.2},
        )
    except Exception as exc:  # kombu/redis raise many types when the broker is down
        raise ServiceUnavailable("the broker did not accept the send") from exc


def call_options(
    task_name: str, *, token: str, kwargs: dict[str, Any], kwargsrepr: dict[str, Any], expires: dt.datetime
) -> dict[str, Any]:
    """``send_task`` arguments of an RPC call (a check, a ping) on the check queue, its token as
    task id; events and Flower show ``kwargsrepr``, never ``kwargs`` (which hold the sealed number
    and code)."""
    return {
        "name": task_name,
        "args": [token],
        "kwargs": kwargs,
        "task_id": token,
        "queue": CHECK_QUEUE,
        "routing_key": CHECK_QUEUE,
        "expires": expires,
        "argsrepr": repr((token,)),
        "kwargsrepr": repr(kwargsrepr),
    }


def publish_call(options: dict[str, Any]) -> None:
    """Queue an RPC call on the check queue, given its :func:`call_options`."""
    try:
        producer_app(sent_events=False).send_task(
            **options,
            # one quick retry on a broken connection: the caller's whole wait is a second or two
            retry=True,
            retry_policy={"max_retries": 1, "interval_start": 0, "interval_step": 0.05, "interval_max": 0.05},
        )
    except Exception as exc:  # kombu/redis raise many types when the broker is down
        raise ServiceUnavailable("the broker did not accept the check") from exc


def reset_app() -> None:
    """Forget the producer app (see :func:`producers.process.reset_caches`)."""
    _build_app.cache_clear()
