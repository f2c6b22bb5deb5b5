"""Unit tests of the bounded in-memory state, with a fake clock."""

from __future__ import annotations

import random

import pytest

from smsq.emulator import errors
from smsq.emulator.clock import FakeClock
from smsq.emulator.state import NONCE_WINDOW_S, Limits, NonceMemory, SendRequest, Stats, Store


def _request(phone: str, **changes: object) -> SendRequest:
    fields: dict[str, object] = {
        "phone": phone,
        "sign_name": "速通互联验证码",
        "template_code": "100001",
        "template_param": {"code": "##code##", "min": "5"},
        "scheme_name": "默认方案",
        "code_length": 4,
        "code_type": 1,
        "valid_time_s": 300,
        "interval_s": 60,
        "duplicate_policy": 1,
        "out_id": None,
        "access_key_id": "k",
        "request_id": "r",
    }
    fields.update(changes)
    return SendRequest(**fields)  # type: ignore[arg-type]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def _store(clock: FakeClock, **limits: int) -> Store:
    return Store(clock, random.Random(1), Limits(**limits))


def test_expired_codes_fail_and_are_swept_away(clock: FakeClock) -> None:
    store = _store(clock)
    codes = [store.send(_request(f"1351234{i:04d}"), None).code for i in range(50)]
    assert store.sizes()["codes"] == 50
    clock.advance(299)
    assert store.check("13512340000", "默认方案", str(codes[0]), case_sensitive=True)
    clock.advance(2)
    assert not store.check("13512340001", "默认方案", str(codes[1]), case_sensitive=True)
    store.sweep()
    assert store.sizes()["codes"] == 0
    assert store.sizes()["frequency_entries"] == 0


def test_the_interval_blocks_a_resend_until_it_has_passed(clock: FakeClock) -> None:
    store = _store(clock)
    store.send(_request("13512345678"), None)
    clock.advance(59)
    with pytest.raises(errors.BizFrequency):
        store.send(_request("13512345678"), None)
    clock.advance(1)
    assert store.send(_request("13512345678"), None).code


def test_the_daily_cap_resets_at_midnight_beijing_time(clock: FakeClock) -> None:
    store = _store(clock)
    for _ in range(2):
        store.send(_request("13512345678", interval_s=0), 2)
    with pytest.raises(errors.BusinessLimitControl):
        store.send(_request("13512345678", interval_s=0), 2)
    clock.advance(24 * 3600)
    assert store.send(_request("13512345678", interval_s=0), 2).code


def test_the_outbox_keeps_only_the_newest_messages(clock: FakeClock) -> None:
    store = _store(clock, outbox_size=10)
    for i in range(25):
        store.send(_request(f"1351234{i:04d}"), None)
    phones = [m.phone for m in store.messages()]
    assert phones == [f"1351234{i:04d}" for i in range(24, 14, -1)]


def test_code_and_number_tables_never_grow_past_their_limits(clock: FakeClock) -> None:
    store = _store(clock, max_codes=100, max_numbers=100)
    for i in range(1000):
        store.send(_request(f"1351{i:07d}"), None)
    sizes = store.sizes()
    assert sizes["codes"] == 100
    assert sizes["frequency_entries"] == sizes["daily_entries"] == 100


def test_nonces_are_remembered_for_the_replay_window_only(clock: FakeClock) -> None:
    nonces = NonceMemory(clock, limit=1000)
    assert nonces.first_use("k", "n1")
    assert not nonces.first_use("k", "n1")
    assert nonces.first_use("other-key", "n1")
    clock.advance(NONCE_WINDOW_S + 1)
    assert nonces.first_use("k", "n2")
    assert len(nonces) == 1  # n1 has aged out
    assert nonces.first_use("k", "n1")


def test_nonce_memory_is_capped(clock: FakeClock) -> None:
    nonces = NonceMemory(clock, limit=50)
    for i in range(500):
        nonces.first_use("k", f"n{i}")
    assert len(nonces) == 50


def test_send_timestamps_are_a_bounded_ring() -> None:
    stats = Stats(max_send_timestamps=5)
    for i in range(12):
        stats.send_timestamps.append(float(i))
    assert stats.as_dict()["send_timestamps"] == [7.0, 8.0, 9.0, 10.0, 11.0]


def test_a_nonce_is_kept_while_its_future_time_stamp_is_still_accepted(clock: FakeClock) -> None:
    """A request dated 14 minutes ahead (client clock fast) is accepted until 29 minutes from now;
    its nonce must be remembered that long, or the same signed request passes a second time."""
    nonces = NonceMemory(clock, limit=1000)
    signed_at = clock.now() + 14 * 60
    assert nonces.first_use("k", "n1", signed_at)
    clock.advance(NONCE_WINDOW_S + 1)  # the date (now 1 minute old) is still inside the skew
    assert not nonces.first_use("k", "n1", signed_at)
    clock.advance(14 * 60)  # now the date is past the skew: the gateway refuses it before the nonce
    assert nonces.first_use("k", "n2", clock.now())
    assert len(nonces) == 1
