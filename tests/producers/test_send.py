"""send_code validates, limits, records and publishes; bad input queues nothing."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest
import redis

from producers import (
    InvalidArgument,
    InvalidPhoneNumber,
    RateLimited,
    SendState,
    ServiceUnavailable,
    UnknownLane,
    asend_code,
    get_status,
    send_code,
)
from producers.store import RecordStore
from smsq.net import free_port
from tests.conftest import clear_process_caches, limit_log_key


def _queued_messages(client: redis.Redis, queue: str = "smsq.default") -> list[dict]:
    return [json.loads(raw) for raw in client.lrange(queue, 0, -1)]


@pytest.fixture
def producer(
    smsq_env: dict[str, str], redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> redis.Redis:
    """A producer whose messages stay in Redis: it publishes to a lane no worker consumes."""
    monkeypatch.setenv("SMSQ_LANES", '{"default": "50/second", "parked": "1/second"}')
    clear_process_caches()
    redis_client.delete("smsq.parked")
    return redis_client


def test_a_send_returns_a_queued_ticket_and_publishes_only_the_ticket(producer: redis.Redis) -> None:
    ticket = send_code("+86 135-1111-2222", lane="parked")
    assert ticket.state is SendState.QUEUED
    assert ticket.masked_phone == "135****2222"
    messages = _queued_messages(producer, "smsq.parked")
    assert len(messages) == 1
    message = messages[0]
    assert message["headers"]["id"] == ticket.id
    assert message["headers"]["task"] == "smsq.send_code"
    assert "13511112222" not in json.dumps(message)
    body = json.loads(base64.b64decode(message["body"]))
    assert body[0] == [ticket.id]
    assert "135****2222" in message["headers"]["kwargsrepr"]
    assert message["headers"]["expires"] is not None


def test_the_status_of_a_new_send_is_queued_with_a_masked_phone(producer: redis.Redis) -> None:
    ticket = send_code("13511112223", lane="parked", purpose="signup")
    status = get_status(ticket.id)
    assert status.state is SendState.QUEUED
    assert status.masked_phone == "135****2223"
    assert status.purpose == "signup"
    assert status.lane == "parked"


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"phone": "12345"}, InvalidPhoneNumber),
        ({"phone": "+1 415 555 2671"}, InvalidPhoneNumber),
        ({"phone": "13511112222", "lane": "nope"}, UnknownLane),
        ({"phone": "13511112222", "purpose": "bad purpose!"}, InvalidArgument),
        ({"phone": "13511112222", "client_ip": "999.1.1.1"}, InvalidArgument),
        ({"phone": "13511112222", "idempotency_key": "has space"}, InvalidArgument),
    ],
)
def test_bad_input_raises_a_typed_error_and_records_and_queues_nothing(
    producer: redis.Redis, kwargs: dict, error: type[Exception]
) -> None:
    with pytest.raises(error):
        send_code(**kwargs)
    for pattern in ("smsq:send:*", "smsq:idem:*", "smsq:limit:*"):
        assert list(producer.scan_iter(pattern)) == []
    assert producer.llen("smsq.parked") == 0


def test_a_repeated_idempotency_key_returns_the_original_ticket_and_queues_once(
    producer: redis.Redis,
) -> None:
    first = send_code("13511112224", lane="parked", idempotency_key="order-42")
    second = send_code("13511112224", lane="parked", idempotency_key="order-42")
    assert second.id == first.id
    assert second.duplicate and not first.duplicate
    assert producer.llen("smsq.parked") == 1


def test_a_second_send_to_one_number_within_a_minute_is_refused_naming_the_rule(
    producer: redis.Redis,
) -> None:
    send_code("13511112225", lane="parked")
    with pytest.raises(RateLimited) as info:
        send_code("13511112225", lane="parked")
    assert info.value.rule == "phone:1/minute"
    assert 58 <= info.value.retry_after <= 60
    assert producer.llen("smsq.parked") == 1


def test_a_refused_send_counts_nothing_so_other_rules_are_unaffected(producer: redis.Redis) -> None:
    send_code("13511112226", lane="parked", client_ip="10.0.0.1")
    with pytest.raises(RateLimited):
        send_code("13511112226", lane="parked", client_ip="10.0.0.1")
    # the refused attempt did not count against the IP
    assert producer.zcard(limit_log_key("ip", "10.0.0.1")) == 1


def test_a_rule_in_monitor_mode_logs_and_counts_but_lets_the_send_through(
    producer: redis.Redis, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("SMSQ_MONITOR_RULES", "phone")
    clear_process_caches()
    caplog.set_level("INFO", logger="smsq")
    send_code("13511112227", lane="parked")
    second = send_code("13511112227", lane="parked")
    assert second.state is SendState.QUEUED
    assert producer.llen("smsq.parked") == 2
    assert producer.hget("smsq:stats:monitored", "phone:1/minute") == "1"
    assert any(
        "send.limit_monitored" in r.getMessage() and "phone:1/minute" in r.getMessage()
        for r in caplog.records
    )
    assert all("13511112227" not in r.getMessage() for r in caplog.records)


def test_numbers_on_the_safe_list_bypass_the_limits(
    producer: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMSQ_SAFE_NUMBERS", "13511112228")
    clear_process_caches()
    for _ in range(3):
        send_code("13511112228", lane="parked")
    assert producer.llen("smsq.parked") == 3


def test_an_idempotency_key_reused_for_another_number_is_simply_another_key(producer: redis.Redis) -> None:
    """Finding 5: a key is scoped to its number, so it is no oracle for another number's send."""
    first = send_code("13511112230", lane="parked", idempotency_key="signup-7")
    other = send_code("13511112231", lane="parked", idempotency_key="signup-7")
    assert other.id != first.id and not other.duplicate and other.masked_phone == "135****2231"
    assert producer.llen("smsq.parked") == 2


def test_an_idempotency_key_reused_for_another_purpose_never_returns_that_send(
    producer: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Finding 5: the same key for another purpose answered the login send; now it is another key."""
    monkeypatch.setenv("SMSQ_SAFE_NUMBERS", "13511112238")  # two sends to one number in a minute
    clear_process_caches()
    login = send_code("13511112238", lane="parked", purpose="login", idempotency_key="k-9")
    reset = send_code("13511112238", lane="parked", purpose="reset", idempotency_key="k-9")
    assert reset.id != login.id and not reset.duplicate and reset.purpose == "reset"


def test_an_idempotency_key_lives_about_as_long_as_its_code_and_names_neither_key_nor_number(
    producer: redis.Redis,
) -> None:
    """Finding 5: a day-long global key outlived every send it could dedupe."""
    send_code("13511112239", lane="parked", idempotency_key="order-77")
    [key] = list(producer.scan_iter("smsq:idem:*"))
    assert "order-77" not in key and "13511112239" not in key and "1351111" not in key
    assert 0 < producer.ttl(key) <= 300  # SMSQ_CODE_TTL_S


def test_a_send_the_broker_refuses_fails_and_gives_back_its_limits_and_key(
    producer: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMSQ_BROKER_URL", f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    clear_process_caches()
    with pytest.raises(ServiceUnavailable):
        send_code("13511112232", lane="parked", idempotency_key="k-1")
    [record] = [producer.hgetall(key) for key in producer.scan_iter("smsq:send:*")]
    assert (record["state"], record["reason"]) == ("failed", "publish_failed")
    assert producer.zcard(limit_log_key("phone", "13511112232")) == 0
    assert list(producer.scan_iter("smsq:idem:*")) == []
    assert "sealed_phone" not in record  # a failed send keeps not even the sealed number


def test_a_send_whose_publish_reply_was_lost_after_a_worker_took_it_goes_on(
    producer: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The broker took the message and a worker claimed the send, then the publish's reply was
    lost: the caller gets its ticket, and the running send is not failed under the worker."""
    import producers.send

    published = producers.send.publish_send

    def reply_lost(ticket: str, **options: object) -> None:
        published(ticket, **options)  # type: ignore[arg-type]
        assert RecordStore(producer).claim(ticket, lease_s=30, token="worker").outcome == "claimed"
        raise ServiceUnavailable("Redis is unavailable")

    monkeypatch.setattr(producers.send, "publish_send", reply_lost)
    # the async API publishes after the admission (the sync one has the admission queue it)
    ticket = asyncio.run(asend_code("13511112240", lane="parked", idempotency_key="k-2"))

    assert ticket.state is SendState.SENDING
    assert get_status(ticket.id).state is SendState.SENDING
    assert len(_queued_messages(producer, "smsq.parked")) == 1
    assert producer.zcard(limit_log_key("phone", "13511112240")) == 1  # it still counts
    again = send_code("13511112240", lane="parked", idempotency_key="k-2")
    assert again.duplicate and again.id == ticket.id  # a retry with the key finds the same send


@pytest.fixture
def two_per_hour(
    smsq_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, redis_client: redis.Redis
) -> None:
    monkeypatch.setenv("SMSQ_LANES", '{"default": "50/second", "parked": "1/second"}')
    monkeypatch.setenv("SMSQ_IP_LIMITS", "2/hour")
    clear_process_caches()
    redis_client.delete("smsq.parked")


@pytest.mark.usefixtures("two_per_hour")
@pytest.mark.parametrize(
    "addresses",
    [
        ["2001:db8::1", "2001:db8::2", "2001:db8::3", "2001:db8::ffff:4"],
        ["203.0.113.7", "::ffff:203.0.113.7", "::ffff:cb00:7107", "2002:cb00:7107::9"],
        ["fe80::1%x", "fe80::1%y", "fe80::2%eth0", "fe80::3"],
    ],
)
def test_one_person_cannot_multiply_their_send_budget_by_changing_address(addresses: list[str]) -> None:
    """Finding 4: each of these got its own budget, so 6 of 6 sends passed under 2/hour."""
    accepted = 0
    for n, address in enumerate(addresses):
        try:
            send_code(f"1351111{n:04d}", lane="parked", client_ip=address)
            accepted += 1
        except RateLimited as refused:
            assert refused.rule == "ip:2/hour"
    assert accepted == 2


def test_a_purposes_own_limits_replace_the_global_purpose_limits_for_its_sends(
    producer: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMSQ_PHONE_LIMITS", "")
    monkeypatch.setenv("SMSQ_PURPOSE_LIMITS", "100/hour")
    monkeypatch.setenv("SMSQ_PURPOSES", json.dumps({"login": {}, "reset": {"limits": "2/hour"}}))
    clear_process_caches()
    for index in range(2):
        send_code(f"1351111300{index}", lane="parked", purpose="reset")
    with pytest.raises(RateLimited) as refused:
        send_code("13511113009", lane="parked", purpose="reset")
    assert refused.value.rule == "purpose:2/hour"
    for index in range(3):  # login keeps the global purpose limit
        send_code(f"1351111301{index}", lane="parked", purpose="login")
