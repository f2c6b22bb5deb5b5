"""The naive baseline of the throughput benchmark: the seed article's send, moved into a Celery task.

``python -m celery -A smsq.bench.naive_app worker -Q bench.naive -P threads ...``

What a developer would write instead of smsq: a task that takes the phone number, builds the
``SendSmsVerifyCode`` request, calls the official SDK through one client per process, and retries
transient failures (throttling, 5xx, no connection) with tenacity. No limits, no dedupe, no lanes,
no statuses. The client gets the same endpoint, keys, timeouts and connection pool as smsq's
adapter (``producers.provider``), so a misconfigured pool is never what the comparison measures.
Every Celery setting (broker, serialisation, late ack, prefetch, events) is
``worker.celeryconfig``'s, as for smsq's own workers. Like the no-op task, it counts itself done
with one ``INCR``, so the benchmark can tell when every task ran.
"""

from __future__ import annotations

import functools
import os
from typing import Any

from alibabacloud_dypnsapi20170525.client import Client
from alibabacloud_tea_openapi import exceptions as sdk_errors
from alibabacloud_tea_openapi import models as open_api_models
from celery import Celery
from Tea.exceptions import UnretryableException
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from producers.connections import get_redis
from producers.settings import get_settings
from smsq.bench.common import sdk_runtime, sdk_send_request
from worker.celeryconfig import celery_settings

NAIVE_TASK = "bench.naive_send"
NAIVE_QUEUE = "bench.naive"
DONE_KEY = "bench:naive:done"
#: What a hand-written task would retry: throttling, server errors, and requests that never got through.
TRANSIENT = (sdk_errors.ThrottlingException, sdk_errors.ServerException, UnretryableException)

app = Celery("smsq-bench-naive")
app.conf.update(celery_settings(get_settings()))
app.conf.update(task_default_queue=NAIVE_QUEUE)


class SendRefused(Exception):
    """Raised when the provider answered with a ``Code`` other than ``OK``."""


@functools.cache
def _client(pid: int) -> Any:
    """One SDK client per process, reused by every thread (``pid`` keys the cache)."""
    del pid
    settings = get_settings()
    assert settings.access_key_id is not None and settings.access_key_secret is not None
    return Client(
        open_api_models.Config(
            access_key_id=settings.access_key_id.get_secret_value(),
            access_key_secret=settings.access_key_secret.get_secret_value(),
            endpoint=settings.aliyun_endpoint,
            protocol=settings.aliyun_protocol,
            connect_timeout=int(settings.connect_timeout_s * 1000),
            read_timeout=int(settings.send_read_timeout_s * 1000),
            max_idle_conns=128,
        )
    )


@retry(
    retry=retry_if_exception_type(TRANSIENT),
    wait=wait_random_exponential(multiplier=0.5, max=10),
    stop=stop_after_attempt(5),
    reraise=True,
)
def send_verify_code(phone: str) -> str:
    """Send one verification SMS; return the provider's BizId."""
    client = _client(os.getpid())
    body = client.send_sms_verify_code_with_options(sdk_send_request(phone), sdk_runtime()).body
    if body.code != "OK":
        raise SendRefused(f"provider answered {body.code}")
    return str(body.model.biz_id or "")


@app.task(name=NAIVE_TASK)  # type: ignore[untyped-decorator]  # Celery ships no type hints
def naive_send(phone: str) -> None:
    """Send the code, then count the task done."""
    send_verify_code(phone)
    get_redis().incr(DONE_KEY)
