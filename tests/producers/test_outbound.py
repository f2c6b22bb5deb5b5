"""A send's message rides in its admission script, and a check's in its reservation's: what Celery would
publish, queued atomically."""

from __future__ import annotations

import base64
import datetime as dt
import json
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from producers import CheckResult, RateLimited, ServiceUnavailable, check_code, send_code
from producers.constants import CHECK_QUEUE, CHECK_TASK_NAME
from producers.outbound import rides_with_admission
from producers.publisher import call_options, publish_call, publish_send
from smsq.devstack.processes import Stack
from tests.conftest import clear_process_caches, record_sent, use_settings

LANE = "parked"  # no worker consumes it: messages stay for the test to read


@pytest.fixture
def producer(
    smsq_env: dict[str, str], redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> redis.Redis:
    use_settings(monkeypatch, {"SMSQ_LANES": json.dumps({"default": "50/second", LANE: "1/second"})})
    redis_client.delete(f"smsq.{LANE}")
    return redis_client


class Events:
    """Every task-sent event PUBLISHed on this database while it listens (workers of other tests
    may publish their own: :meth:`of` keeps one ticket's)."""

    def __init__(self, client: redis.Redis) -> None:
        db = client.connection_pool.connection_kwargs["db"]
        self._pubsub = client.pubsub()
        self._pubsub.psubscribe(f"/{db}.celeryev/task.sent")
        self._pubsub.get_message(timeout=1)  # the subscription's confirmation
        self.seen: list[dict[str, Any]] = []

    def drain(self) -> list[dict[str, Any]]:
        while (message := self._pubsub.get_message(timeout=0.3)) is not None:
            if message["type"] == "pmessage":
                self.seen.append({"channel": message["channel"], **json.loads(message["data"])})
        return self.seen

    def of(self, *tickets: str) -> list[dict[str, Any]]:
        return [event for event in self.drain() if _event_fields(event)["uuid"] in tickets]

    def close(self) -> None:
        self._pubsub.close()


@pytest.fixture
def events(producer: redis.Redis) -> Iterator[Events]:
    listener = Events(producer)
    yield listener
    listener.close()


def _pop(client: redis.Redis) -> dict[str, Any]:
    raw = client.rpop(f"smsq.{LANE}")
    assert raw is not None, "no message was queued"
    return dict(json.loads(raw))


def _comparable(message: dict[str, Any]) -> dict[str, Any]:
    """A message without what differs between two publishes of one send: the delivery tag, and
    the expiry instant (each publish reads the clock)."""
    copy = json.loads(json.dumps(message))
    for name in ("delivery_tag", "expiration"):
        assert copy["properties"].pop(name)
    assert copy["headers"].pop("expires")
    return dict(copy)


def _event_fields(event: dict[str, Any]) -> dict[str, Any]:
    body = json.loads(base64.b64decode(event["body"]))
    for moment in ("timestamp", "clock", "local_received"):
        body.pop(moment, None)
    return {"channel": event["channel"], **body}


def test_the_script_queues_the_message_and_event_celery_would_publish(
    producer: redis.Redis, events: Events, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same send published by Celery itself and by the admission script: the same message on
    the same queue, and the same task-sent event on the same topic."""
    assert rides_with_admission()
    ticket = send_code("13511112201", lane=LANE, purpose="login")
    by_script = _pop(producer)
    [script_event] = events.of(ticket.id)
    expires_at = time.time() + 10
    publish_send(ticket.id, lane=LANE, masked_phone="135****2201", purpose="login", expires_at=expires_at)
    by_celery = _pop(producer)
    [_, celery_event] = events.of(ticket.id)

    assert _comparable(by_script) == _comparable(by_celery)
    script_fields, celery_fields = _event_fields(script_event), _event_fields(celery_event)
    assert script_fields.pop("expires") and celery_fields.pop("expires")
    assert script_fields == celery_fields
    assert script_fields["type"] == "task-sent" and script_fields["uuid"] == ticket.id
    assert "13511112201" not in json.dumps([by_script, script_event])


def test_a_refused_or_duplicate_send_queues_nothing_and_announces_nothing(
    producer: redis.Redis, events: Events, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = send_code("13511112202", lane=LANE, idempotency_key="k-1")
    again = send_code("13511112202", lane=LANE, idempotency_key="k-1")
    assert again.duplicate and again.id == first.id
    with pytest.raises(RateLimited):  # one send per number a minute
        send_code("13511112202", lane=LANE)
    assert producer.llen(f"smsq.{LANE}") == 1
    assert len(list(producer.scan_iter("smsq:send:*"))) == 1  # neither wrote a record
    announced = [_event_fields(event) for event in events.drain()]
    assert [fields["uuid"] for fields in announced if fields["queue"] == f"smsq.{LANE}"] == [first.id]


def test_sends_from_many_threads_each_queue_their_own_message(producer: redis.Redis) -> None:
    """The recording channel is shared: each thread must get its own message back, never another's."""
    tickets: list[str] = []

    def send(index: int) -> None:
        tickets.append(send_code(f"135111130{index:02d}", lane=LANE).id)

    threads = [threading.Thread(target=send, args=(index,)) for index in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    queued = [json.loads(raw)["headers"]["id"] for raw in producer.lrange(f"smsq.{LANE}", 0, -1)]
    assert sorted(queued) == sorted(tickets) and len(set(queued)) == 16
    for ticket in tickets:
        assert producer.hget(f"smsq:send:{ticket}", "state") == "queued"


@pytest.fixture(scope="module")
def other_redis() -> Iterator[str]:
    """A Redis server of this module's own, as a broker that is not the store: another database of
    the shared server would be one the test run does not own."""
    with Stack() as stack:
        yield stack.redis()


def test_the_same_store_written_another_way_still_rides_and_another_server_does_not(
    producer: redis.Redis, redis_url: str, other_redis: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    base, db = redis_url.rsplit("/", 1)
    # the same server and database with an empty user part (a query option, the spelling it once
    # had here, is no broker option: the settings refuse it at load)
    use_settings(monkeypatch, {"SMSQ_BROKER_URL": f"{base.replace('://', '://:@', 1)}/{db}"})
    assert rides_with_admission()
    use_settings(monkeypatch, {"SMSQ_BROKER_URL": other_redis})
    assert not rides_with_admission()


def test_with_another_broker_the_send_is_published_after_its_admission(
    producer: redis.Redis, other_redis: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A broker that is not the store (here another Redis server) gets the message from Celery."""
    broker_url = other_redis
    lane = "elsewhere-" + uuid.uuid4().hex[:8]  # a queue of our own on that other server
    use_settings(
        monkeypatch,
        {"SMSQ_BROKER_URL": broker_url, "SMSQ_LANES": json.dumps({"default": "50/second", lane: "1/second"})},
    )
    broker = redis.Redis.from_url(broker_url)
    try:
        ticket = send_code("13511112203", lane=lane)
        assert producer.llen(f"smsq.{lane}") == 0
        [raw] = broker.lrange(f"smsq.{lane}", 0, -1)
        assert json.loads(raw)["headers"]["id"] == ticket.id
    finally:
        broker.delete(f"smsq.{lane}")
        broker.close()
        clear_process_caches()


@pytest.fixture
def lonely_check_env(
    smsq_env: dict[str, str], processes: Stack, monkeypatch: pytest.MonkeyPatch
) -> Iterator[redis.Redis]:
    """Worker mode on a Redis of its own that no check worker serves: a check's message stays."""
    lonely_url = processes.redis()
    worker_mode = {"SMSQ_REDIS_URL": lonely_url, "SMSQ_CHECK_MODE": "worker", "SMSQ_CHECK_TIMEOUT_S": "0.3"}
    use_settings(monkeypatch, worker_mode)
    client = redis.Redis.from_url(lonely_url, decode_responses=True)
    yield client
    client.close()


def test_a_checks_reservation_queues_the_message_celery_would_publish(lonely_check_env: redis.Redis) -> None:
    """In worker mode the check task rides in the reservation's script (check_begin.lua)."""
    client = lonely_check_env
    record_sent(client, "13511114401")
    with pytest.raises(ServiceUnavailable, match="no check worker answered"):
        check_code("13511114401", "123456")
    [raw] = client.lrange(CHECK_QUEUE, 0, -1)
    by_script = json.loads(raw)
    [token], kwargs, _ = json.loads(base64.b64decode(by_script["body"]))
    assert set(kwargs) == {"v", "sealed", "deadline_ms"}
    publish_call(
        call_options(
            CHECK_TASK_NAME,
            token=token,
            kwargs=kwargs,
            kwargsrepr={"phone": "135****4401"},
            expires=dt.datetime.fromtimestamp(time.time() + 5, tz=dt.UTC),
        )
    )
    by_celery = json.loads(client.lpop(CHECK_QUEUE))
    assert _comparable(by_script) == _comparable(by_celery)
    assert "13511114401" not in raw and "123456" not in raw
    assert [client.get(key) for key in client.scan_iter("smsq:checks:*")] == ["0"]  # given back


def test_a_refused_check_queues_nothing(
    lonely_check_env: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = lonely_check_env
    assert check_code("13511114402", "123456") == CheckResult(False, 0)  # no live code
    use_settings(monkeypatch, {"SMSQ_CHECK_IP_LIMITS": "1/minute"})
    record_sent(client, "13511114403")
    with pytest.raises(ServiceUnavailable):
        check_code("13511114403", "123456", client_ip="203.0.113.9")
    with pytest.raises(RateLimited):
        check_code("13511114403", "123456", client_ip="203.0.113.9")
    assert client.llen(CHECK_QUEUE) == 1  # only the one admitted check's
