"""Worker-side hooks: the data keys at start, expired messages, the metrics server, the heartbeat file."""

from __future__ import annotations

import pathlib
from typing import Any

from celery import signals

from producers.connections import get_redis
from producers.constants import CHECK_QUEUE, SEND_TASK_NAME
from producers.errors import ConfigurationError
from producers.keyring import get_keyring
from producers.logs import log_event
from producers.records import SendState
from producers.settings import get_settings
from producers.store import store_for
from worker import metrics


@signals.worker_init.connect
def _require_data_keys(**_: Any) -> None:
    """Refuse to start without the data keys: such a worker could open no send it takes.
    (SystemExit, because Celery logs and ignores any Exception a signal handler raises.)"""
    try:
        get_keyring()
    except ConfigurationError as exc:
        raise SystemExit(f"smsq: configuration error: {exc}") from None


@signals.celeryd_init.connect
def _check_worker_tracks_no_unacked(conf: Any = None, options: Any = None, **_: Any) -> None:
    """A check worker (its one queue is the check queue) turns Redis ack emulation off: tracking
    each message for redelivery costs a round trip before every check, and a redelivered check
    would come long after its caller's deadline, to be refused by rpc_claim.lua anyway."""
    queues = (options or {}).get("queues") or []
    names = queues.split(",") if isinstance(queues, str) else list(queues)
    if conf is not None and names == [CHECK_QUEUE]:
        conf.broker_transport_options = {**conf.broker_transport_options, "ack_emulation": False}


@signals.task_revoked.connect
def _record_expired(sender: Any = None, request: Any = None, expired: bool = False, **_: Any) -> None:
    """A message that reached a worker after its ``expires`` ends the send as ``expired``."""
    if not expired or request is None or getattr(sender, "name", None) != SEND_TASK_NAME:
        return
    ticket = str(request.id)
    state = store_for(get_redis()).finish(
        ticket, SendState.EXPIRED, live_code_keys=(), code_ttl_s=1, fields={"reason": "deadline_passed"}
    )
    log_event("send.expired", ticket=ticket, state=state)


@signals.worker_ready.connect
def _start_metrics_server(**_: Any) -> None:
    settings = get_settings()
    if settings.metrics_port:
        metrics.serve(settings.metrics_host, settings.metrics_port, get_redis(), settings.lanes)


@signals.heartbeat_sent.connect
def _touch_heartbeat(**_: Any) -> None:
    pathlib.Path(get_settings().heartbeat_file).touch()
