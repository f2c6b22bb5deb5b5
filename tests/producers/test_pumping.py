"""The pumping breaker: a prefix whose sends never verify is refused for a cool-down that lifts
itself; monitor mode only reports; the safe lists bypass it; an operator can lift it."""

from __future__ import annotations

import logging
import uuid

import pytest
import redis

from producers import RateLimited, SendState, send_code
from producers.keyring import get_keyring
from producers.pumping import ANY_PURPOSE, Breaker, breaker_id, breaker_keys, trips, unblock
from producers.receipts import Receipt, ReceiptBatch
from producers.settings import get_settings
from producers.store import AdmissionOutcome, RecordStore, conversion_counts
from tests.conftest import clear_process_caches

PREFIX = "1351111"


def number(prefix: str = PREFIX) -> str:
    return f"{prefix}{uuid.uuid4().int % 10**4:04d}"


@pytest.fixture
def breaker_env(smsq_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, redis_client: redis.Redis) -> None:
    """Only the breaker limits sends (10 sends judged, 20 % conversion); nothing is consumed. Two
    purposes are configured, so the breaker counts each apart."""
    for name, value in {
        "SMSQ_PURPOSES": '{"login": {}, "signup": {}}',
        "SMSQ_PHONE_LIMITS": "",
        "SMSQ_PREFIX_LIMITS": "",
        "SMSQ_IP_LIMITS": "",
        "SMSQ_PUMPING_MIN_SENDS": "10",
        "SMSQ_PUMPING_COOLDOWN_S": "600",
        "SMSQ_LANES": '{"default": "50/second", "parked": "1/second"}',
    }.items():
        monkeypatch.setenv(name, value)
    clear_process_caches()


def verify(client: redis.Redis, ticket: str, phone: str) -> None:
    """What a worker and a passing check record: sent, then verified."""
    store, keyring = RecordStore(client), get_keyring()
    store.finish(ticket, SendState.SENT, live_code_keys=keyring.live_code_keys(phone), code_ttl_s=300)
    store.check_passed(ticket, live_code_keys=keyring.live_code_keys(phone))


def test_a_prefix_whose_sends_never_verify_is_refused_with_its_rule_and_other_prefixes_are_not(
    breaker_env: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "smsq")
    for _ in range(10):
        send_code(number(), lane="parked")
    with pytest.raises(RateLimited) as refused:
        send_code(number(), lane="parked")
    assert refused.value.rule == f"pumping:{PREFIX}"
    assert 590 < refused.value.retry_after <= 600
    send_code(number("1352222"), lane="parked")  # another prefix
    send_code(number(), purpose="signup", lane="parked")  # another purpose of the same prefix
    messages = [record.getMessage() for record in caplog.records]
    tripped = [message for message in messages if "pumping.tripped" in message]
    breaker = breaker_id(get_keyring(), PREFIX)
    assert tripped == [f"pumping.tripped breaker={breaker} purpose=login mode=enforce"]
    # the block's prefix is in no line: beside a masked number of the block (135****2222, logged
    # with every refusal) it would spell that whole number
    assert [message for message in messages if PREFIX in message] == []
    assert any("send.rejected phone=135****" in message for message in messages)


def test_sends_that_verify_keep_the_breaker_closed(breaker_env: None, redis_client: redis.Redis) -> None:
    for _ in range(30):
        phone = number()
        ticket = send_code(phone, lane="parked")
        verify(redis_client, ticket.id, phone)
    assert redis_client.hgetall("smsq:stats:pumping") == {}
    send_code(number(), purpose="signup", lane="parked")
    counts = conversion_counts(redis_client.hgetall("smsq:stats:conversion"))
    assert counts == {"login": {"sent": 30, "verified": 30}, "signup": {"sent": 1, "verified": 0}}


def test_monitor_mode_logs_and_counts_a_trip_and_refuses_nothing(
    breaker_env: None,
    monkeypatch: pytest.MonkeyPatch,
    redis_client: redis.Redis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("SMSQ_PUMPING_MODE", "monitor")
    clear_process_caches()
    caplog.set_level(logging.INFO, "smsq")
    for _ in range(15):
        send_code(number(), lane="parked")  # never refused
    stats = redis_client.hgetall("smsq:stats:pumping")
    assert stats == {"monitor_trips": "1", "monitored": "5"}  # the 11th trips; it and 4 more reported
    assert redis_client.hget("smsq:stats:monitored", "pumping") == "5"
    messages = [record.getMessage() for record in caplog.records]
    assert (
        f"pumping.tripped breaker={breaker_id(get_keyring(), PREFIX)} purpose=login mode=monitor" in messages
    )
    assert [message for message in messages if PREFIX in message] == []
    assert sum("send.limit_monitored" in line and "rule=pumping" in line for line in messages) == 5
    assert [(trip.prefix, trip.mode) for trip in trips(redis_client, get_keyring())] == [(PREFIX, "monitor")]


@pytest.mark.parametrize(
    ("variable", "value"), [("SMSQ_PUMPING_SAFE_PREFIXES", PREFIX), ("SMSQ_SAFE_NUMBERS", "13511110000")]
)
def test_the_safe_lists_bypass_the_breaker(
    breaker_env: None, monkeypatch: pytest.MonkeyPatch, redis_client: redis.Redis, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    clear_process_caches()
    for _ in range(30):
        send_code("13511110000", lane="parked")
    assert redis_client.hgetall("smsq:stats:pumping") == {}


def admit(store: RecordStore, breaker: Breaker, now_ms: int, ticket: str | None = None) -> AdmissionOutcome:
    return store.admit(
        ticket=ticket or uuid.uuid4().hex, sealed_phone="x", masked="x", purpose="login", lane="default",
        rules=(), useful_life_s=60, record_ttl_s=600, breaker=breaker, now_ms=now_ms,
    ).outcome  # fmt: skip


@pytest.mark.parametrize(("delivered", "outcome"), [(3, "limited"), (8, "ok")])
def test_with_receipts_judged_a_prefix_whose_sends_are_not_delivered_trips_once_they_are_a_minute_old(
    breaker_env: None,
    monkeypatch: pytest.MonkeyPatch,
    redis_client: redis.Redis,
    delivered: int,
    outcome: str,
) -> None:
    monkeypatch.setenv("SMSQ_PUMPING_MIN_DELIVERY", "0.5")
    clear_process_caches()
    store = RecordStore(redis_client)
    breaker = Breaker.for_send(get_settings(), get_keyring(), number(), "login")
    assert breaker is not None
    start = 1_800_000_000_000
    tickets = [uuid.uuid4().hex for _ in range(10)]
    for ticket in tickets:
        assert admit(store, breaker, start, ticket) == "ok"
        store.finish(ticket, SendState.SENT, live_code_keys=("smsq:last:test",), code_ttl_s=300, now_ms=start)
    for ticket in tickets[:3]:  # enough verify for the conversion rule (30 % >= 20 %)
        store.check_passed(ticket, live_code_keys=())
    receipts = [Receipt(ticket, index < delivered, "DELIVERED") for index, ticket in enumerate(tickets)]
    store.apply_receipts(ReceiptBatch(tuple(receipts)), now_ms=start + 5000)
    # within a minute of the sends their receipts may still be on the way: not judged yet
    assert admit(store, breaker, start + 30_000) == "ok"
    assert admit(store, breaker, start + 61_000) == outcome


def test_the_cool_down_lifts_itself_and_doubles_with_each_repeat(
    breaker_env: None, redis_client: redis.Redis
) -> None:
    store, settings = RecordStore(redis_client), get_settings()
    breaker = Breaker.for_send(settings, get_keyring(), number(), "login")
    assert breaker is not None
    trip_key = breaker.keys[3]
    start = 1_800_000_000_000
    for repeat, cooldown_s in enumerate((600, 1200, 2400)):
        now = start + repeat * 10_000_000
        outcomes = [admit(store, breaker, now + i) for i in range(11)]
        assert outcomes == ["ok"] * 10 + ["limited"]
        # the trip key's TTL is the cool-down: this repeat's, doubled from the last
        assert cooldown_s * 1000 - 5000 < redis_client.pttl(trip_key) <= cooldown_s * 1000
        redis_client.delete(trip_key)  # what the TTL does once the cool-down ends
        assert admit(store, breaker, now + 20) == "ok"  # lifted: a fresh window


def test_an_operator_unblocks_a_prefix_and_the_next_send_goes_out(
    breaker_env: None, redis_client: redis.Redis
) -> None:
    for _ in range(10):
        send_code(number(), lane="parked")
    with pytest.raises(RateLimited):
        send_code(number(), lane="parked")
    assert unblock(redis_client, get_keyring(), PREFIX) == ["login"]
    send_code(number(), lane="parked")
    *_, trip_key, strikes = breaker_keys(get_keyring(), PREFIX, "login")
    assert not redis_client.exists(trip_key, strikes)
    assert trips(redis_client, get_keyring()) == []
    assert redis_client.hget("smsq:stats:admin", "unblock") == "1"


def test_no_breaker_key_names_the_prefix(breaker_env: None, redis_client: redis.Redis) -> None:
    for _ in range(10):
        send_code(number(), lane="parked")
    with pytest.raises(RateLimited):
        send_code(number(), lane="parked")
    keys = redis_client.keys("smsq:pump:*")
    assert len(keys) >= 3
    assert not any(PREFIX in key for key in keys)
    assert all(PREFIX not in value for value in redis_client.hvals("smsq:pump:trips"))


def test_a_trip_stays_in_force_and_liftable_when_the_hash_keys_are_swapped(
    breaker_env: None, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rotating SMSQ_HASH_KEYS (runbook: add the new key second, then swap) must not lift a tripped
    breaker while `smsq admin breakers` and smsq_pumping_tripped still show it tripped."""
    old = get_settings().hash_keys
    new_key = "f" * 64
    for _ in range(10):
        send_code(number(), lane="parked")
    with pytest.raises(RateLimited):
        send_code(number(), lane="parked")
    monkeypatch.setenv("SMSQ_HASH_KEYS", ",".join([new_key, *(key.get_secret_value() for key in old)]))
    clear_process_caches()
    with pytest.raises(RateLimited) as refused:
        send_code(number(), lane="parked")
    assert refused.value.rule == f"pumping:{PREFIX}"
    assert [trip.prefix for trip in trips(redis_client, get_keyring())] == [PREFIX]
    assert unblock(redis_client, get_keyring(), PREFIX) == ["login"]
    assert trips(redis_client, get_keyring()) == []
    send_code(number(), lane="parked")


def test_without_configured_purposes_every_purpose_of_a_prefix_counts_together(
    breaker_env: None,
    monkeypatch: pytest.MonkeyPatch,
    redis_client: redis.Redis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """With SMSQ_PURPOSES unset any name is a purpose: a new name for every send must not open a
    new count (a caller passing user input through as the purpose would never trip)."""
    monkeypatch.delenv("SMSQ_PURPOSES")
    clear_process_caches()
    caplog.set_level(logging.INFO, "smsq")
    for n in range(10):
        send_code(number(), purpose=f"p{n}", lane="parked")
    with pytest.raises(RateLimited) as refused:
        send_code(number(), purpose="p10", lane="parked")
    assert refused.value.rule == f"pumping:{PREFIX}"
    with pytest.raises(RateLimited):
        send_code(number(), lane="parked")  # the default purpose too
    breaker = breaker_id(get_keyring(), PREFIX)
    messages = [record.getMessage() for record in caplog.records]
    assert f"pumping.tripped breaker={breaker} purpose={ANY_PURPOSE} mode=enforce" in messages
    assert [(trip.prefix, trip.purpose) for trip in trips(redis_client, get_keyring())] == [
        (PREFIX, ANY_PURPOSE)
    ]
    assert unblock(redis_client, get_keyring(), PREFIX) == [ANY_PURPOSE]
    send_code(number(), purpose="p11", lane="parked")
