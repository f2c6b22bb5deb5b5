"""The check worker: it tracks no unacked messages, its queue depth is exported, and it asks the
provider in the scheme that travels sealed with the check."""

from __future__ import annotations

import json
import time
import uuid
from types import SimpleNamespace

import pytest
import redis
from prometheus_client import REGISTRY

from producers.constants import CHECK_QUEUE, rpc_reply_key
from producers.keyring import get_keyring
from producers.process import reset_caches
from producers.provider import DypnsapiProvider
from producers.rpc import Answer, Reply, rpc_calls_for, seal_check
from producers.settings import get_settings
from producers.store import RecordStore
from tests.conftest import EmulatorHandle
from tests.worker.test_purpose_delivery import PURPOSES, admit
from worker.checks import answer_check
from worker.delivery import Delivery
from worker.limiter import UpstreamLimiter
from worker.metrics import RedisCollector
from worker.signals import _check_worker_tracks_no_unacked


@pytest.mark.parametrize(
    ("queues", "emulated"),
    [
        (["smsq.check"], False),
        ("smsq.check", False),
        (["smsq.default"], True),
        (["smsq.default", "smsq.check"], True),
    ],
)
def test_only_a_check_worker_turns_ack_emulation_off(queues: object, emulated: bool) -> None:
    conf = SimpleNamespace(broker_transport_options={"visibility_timeout": 600})
    _check_worker_tracks_no_unacked(conf=conf, options={"queues": queues})
    assert conf.broker_transport_options.get("ack_emulation", True) is emulated
    assert conf.broker_transport_options["visibility_timeout"] == 600


def test_every_host_exports_how_many_checks_wait_for_a_check_worker(redis_client: redis.Redis) -> None:
    redis_client.delete(CHECK_QUEUE)
    redis_client.rpush(CHECK_QUEUE, "a", "b", "c")
    try:
        families = {family.name: family for family in RedisCollector(redis_client, ["default"]).collect()}
        assert [sample.value for sample in families["smsq_check_queue_depth"].samples] == [3.0]
    finally:
        redis_client.delete(CHECK_QUEUE)


def test_a_check_worker_asks_in_the_scheme_that_travels_sealed_with_the_check(
    smsq_env: dict[str, str], emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A code sent for a purpose with a scheme of its own passes only when checked in that scheme."""
    monkeypatch.setenv("SMSQ_PURPOSES", json.dumps(PURPOSES))
    monkeypatch.setenv("SMSQ_LANES", '{"default": "1000/second"}')
    reset_caches()
    settings = get_settings()
    client = redis.Redis.from_url(settings.redis_dsn, decode_responses=True)
    limiter = UpstreamLimiter.from_settings(settings, client)
    sender = Delivery(RecordStore(client), DypnsapiProvider(settings), limiter, settings)
    phone = f"135{uuid.uuid4().int % 10**8:08d}"
    assert sender.deliver(admit(sender, phone, "reset"), token="t").result == "sent"
    code = emulator.messages(phone)[0]["code"]

    def ask(scheme: str) -> Reply:
        token = uuid.uuid4().hex
        sealed = seal_check(get_keyring(), phone, code, scheme)
        deadline_ms = int(time.time() * 1000) + 5000
        outcome = answer_check(
            rpc_calls_for(client),
            get_keyring(),
            settings,
            token=token,
            sealed=sealed,
            deadline_ms=deadline_ms,
        )
        assert outcome == "answered"
        popped = client.blpop([rpc_reply_key(token)], timeout=1)
        assert popped is not None
        return Reply.from_text(popped[1])

    assert ask(settings.default_scheme).answer is Answer.FAILED
    assert ask("reset").answer is Answer.PASSED


def test_a_check_the_provider_fails_is_counted_by_its_error_code(
    smsq_env: dict[str, str], emulator: EmulatorHandle
) -> None:
    """The runbook sends operators to "Provider errors by code" with action="check"."""
    settings = get_settings()
    client = redis.Redis.from_url(settings.redis_dsn, decode_responses=True)

    def errors_counted() -> float:
        value = REGISTRY.get_sample_value(
            "smsq_provider_errors_total", {"action": "check", "code": "InternalError"}
        )
        return value or 0.0

    before = errors_counted()
    emulator.set_faults(error_500_rate=1.0)
    token = uuid.uuid4().hex
    outcome = answer_check(
        rpc_calls_for(client),
        get_keyring(),
        settings,
        token=token,
        sealed=seal_check(get_keyring(), "13522224444", "123456", settings.default_scheme),
        deadline_ms=int(time.time() * 1000) + 5000,
    )
    assert outcome == "answered"
    assert errors_counted() == before + 1
    client.delete(rpc_reply_key(token))
