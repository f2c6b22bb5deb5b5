"""The answers counted against a code stay exact when calls overlap with a pass or a new code, and
they belong to that code: nothing counted against one code can move another's count."""

from __future__ import annotations

import uuid

import redis

from producers.keyring import Keyring
from producers.records import SendState
from producers.store import CheckOutcome, CheckReservation, LimitRule, RecordStore
from tests.conftest import TEST_ENCRYPTION_KEY, TEST_HASH_KEY

KEYRING = Keyring([TEST_HASH_KEY.encode()], [TEST_ENCRYPTION_KEY.encode()])


def sent(store: RecordStore, phone: str) -> str:
    """Record a code as sent to ``phone``, as a worker does once the provider accepted it."""
    ticket = uuid.uuid4().hex
    store.admit(
        ticket=ticket,
        sealed_phone=KEYRING.seal(phone),
        masked="x",
        purpose="login",
        lane="default",
        rules=(),
        useful_life_s=60,
        record_ttl_s=600,
    )
    store.finish(ticket, SendState.SENT, live_code_keys=KEYRING.live_code_keys(phone), code_ttl_s=300)
    return ticket


def begin(store: RecordStore, phone: str, rules: tuple[LimitRule, ...] = ()) -> CheckReservation:
    return store.begin_check(live_code_keys=KEYRING.live_code_keys(phone), rules=rules, max_failures=5)


def test_a_refund_after_the_counter_was_cleared_never_goes_below_zero(redis_client: redis.Redis) -> None:
    store = RecordStore(redis_client)
    phone = "13511112233"
    ticket = sent(store, phone)
    assert begin(store, phone) == CheckReservation(CheckOutcome.OK, ticket, 1)
    assert begin(store, phone) == CheckReservation(CheckOutcome.OK, ticket, 2)
    store.check_passed(ticket, live_code_keys=KEYRING.live_code_keys(phone))  # a concurrent pass
    store.refund_check(ticket)  # the other call got no answer and gives its reservation back
    assert not redis_client.exists(f"smsq:checks:{ticket}")
    # the code is used up: the number has no live code until the next send
    assert begin(store, phone).outcome is CheckOutcome.NO_CODE
    fresh = sent(store, phone)
    for used in range(1, 6):
        assert begin(store, phone) == CheckReservation(CheckOutcome.OK, fresh, used)
    assert begin(store, phone).outcome is CheckOutcome.LOCKED


def test_a_refund_gives_back_exactly_one_reservation(redis_client: redis.Redis) -> None:
    store = RecordStore(redis_client)
    phone = "13511112234"
    ticket = sent(store, phone)
    begin(store, phone)
    begin(store, phone)
    store.refund_check(ticket)
    assert redis_client.get(f"smsq:checks:{ticket}") == "1"
    # the count lives exactly as long as its code
    assert 0 < redis_client.pttl(f"smsq:checks:{ticket}") <= 300_000


def test_a_refund_from_before_a_new_send_cannot_give_the_new_code_a_sixth_guess(
    redis_client: redis.Redis,
) -> None:
    """Finding 3c: a check that began against the old code and got no answer gives its reservation
    back after a new code went out; that refund must not lower the new code's count."""
    store = RecordStore(redis_client)
    phone = "13511112235"
    old = sent(store, phone)
    in_flight = begin(store, phone)
    assert in_flight.ticket == old
    new = sent(store, phone)  # the attacker triggers a new send while the old check is in flight
    for used in range(1, 6):
        assert begin(store, phone) == CheckReservation(CheckOutcome.OK, new, used)
    store.refund_check(in_flight.ticket)  # the old check's call failed: its reservation comes back
    locked = begin(store, phone)
    assert locked.outcome is CheckOutcome.LOCKED and locked.ticket == new
    assert 0 < locked.retry_after_s <= 300


def test_a_new_code_starts_with_its_full_share_and_the_old_count_dies_with_its_code(
    redis_client: redis.Redis,
) -> None:
    store = RecordStore(redis_client)
    phone = "13511112236"
    old = sent(store, phone)
    for _ in range(5):
        begin(store, phone)
    assert begin(store, phone).outcome is CheckOutcome.LOCKED
    new = sent(store, phone)
    assert begin(store, phone) == CheckReservation(CheckOutcome.OK, new, 1)
    assert redis_client.get(f"smsq:checks:{old}") == "5"  # untouched, and gone with the old code
    assert 0 < redis_client.pttl(f"smsq:checks:{old}") <= 300_000


def test_a_check_without_a_live_code_counts_against_the_callers_limits_only(
    redis_client: redis.Redis,
) -> None:
    """Finding 2b: checking a number that has no code can never lock it."""
    store = RecordStore(redis_client)
    phone = "13511112237"
    ip_log = KEYRING.limit_keys("check_ip", "203.0.113.7")[0]
    rules = (LimitRule("check_ip:3/hour", ip_log, 3, 3600),)
    for _ in range(3):
        assert begin(store, phone, rules).outcome is CheckOutcome.NO_CODE
    limited = begin(store, phone, rules)
    assert (limited.outcome, limited.rule) == (CheckOutcome.LIMITED, "check_ip:3/hour")
    assert redis_client.zcard(ip_log) == 3
    assert list(redis_client.scan_iter("smsq:checks:*")) == []
    ticket = sent(store, phone)
    assert begin(store, phone) == CheckReservation(CheckOutcome.OK, ticket, 1)  # nothing was held against it
