"""The wrong-answer counter stays exact when calls overlap with a pass or a new code."""

from __future__ import annotations

import redis

from producers.store import RecordStore


def test_a_refund_after_the_counter_was_cleared_never_goes_below_zero(redis_client: redis.Redis) -> None:
    store = RecordStore(redis_client)
    phone = "13511112233"
    assert store.begin_check(phone, max_failures=5, window_s=300) == (True, 1)
    assert store.begin_check(phone, max_failures=5, window_s=300) == (True, 2)
    store.check_passed(phone)  # a concurrent pass clears the counter
    store.refund_check(phone)  # the other call got no answer and gives its reservation back
    assert not redis_client.exists(f"smsq:checks:{phone}")
    for used in range(1, 6):
        assert store.begin_check(phone, max_failures=5, window_s=300) == (True, used)
    allowed, _ = store.begin_check(phone, max_failures=5, window_s=300)
    assert not allowed


def test_a_refund_gives_back_exactly_one_reservation(redis_client: redis.Redis) -> None:
    store = RecordStore(redis_client)
    phone = "13511112234"
    store.begin_check(phone, max_failures=5, window_s=300)
    store.begin_check(phone, max_failures=5, window_s=300)
    store.refund_check(phone)
    assert redis_client.get(f"smsq:checks:{phone}") == "1"
    assert 0 < redis_client.pttl(f"smsq:checks:{phone}") <= 300_000
