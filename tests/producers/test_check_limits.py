"""Checks have their own limits, per client IP and for everyone, counted with the reservation in one
script; a refused check asks nobody and counts nothing (finding 2a)."""

from __future__ import annotations

import pytest
import redis

from producers import CheckResult, RateLimited, check_code
from tests.conftest import EmulatorHandle, clear_process_caches, limit_log_key, record_sent


@pytest.fixture
def limited(
    smsq_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, emulator: EmulatorHandle
) -> pytest.MonkeyPatch:
    monkeypatch.setenv("SMSQ_CHECK_IP_LIMITS", "3/hour")
    monkeypatch.setenv("SMSQ_CHECK_LIMITS", "5/minute")
    clear_process_caches()
    return monkeypatch


def test_checks_from_one_ip_are_limited_across_numbers_and_addresses_of_its_64(
    limited: pytest.MonkeyPatch, redis_client: redis.Redis, emulator: EmulatorHandle
) -> None:
    numbers = [f"1351111{n:04d}" for n in range(4)]
    for number in numbers:
        record_sent(redis_client, number)
    for n, number in enumerate(numbers[:3]):
        assert check_code(number, "123456", client_ip=f"2001:db8::{n + 1}") == CheckResult(False, 4)
    with pytest.raises(RateLimited) as refused:
        check_code(numbers[3], "123456", client_ip="2001:db8::99")
    assert refused.value.rule == "check_ip:3/hour" and 0 < refused.value.retry_after <= 3600
    assert emulator.stats()["check_requests"] == 3  # the refused check asked nobody...
    assert len(list(redis_client.scan_iter("smsq:checks:*"))) == 3  # ...and reserved nothing
    assert redis_client.zcard(limit_log_key("check_ip", "2001:db8::/64")) == 3
    # another IP still checks (its own budget), and the fourth number was never touched
    assert check_code(numbers[3], "123456", client_ip="198.51.100.4") == CheckResult(False, 4)


def test_all_checks_together_are_limited_too(limited: pytest.MonkeyPatch, redis_client: redis.Redis) -> None:
    for n in range(5):
        assert check_code(f"1351112{n:04d}", "123456", client_ip=f"198.51.100.{n}").attempts_left == 0
    with pytest.raises(RateLimited) as refused:
        check_code("13511129999", "123456", client_ip="198.51.100.77")
    assert refused.value.rule == "check:5/minute"
    with pytest.raises(RateLimited):
        check_code("13511129999", "123456")  # without an IP: the global limit still holds


def test_a_check_limit_refusal_answers_429_with_retry_after_through_the_http_helpers(
    limited: pytest.MonkeyPatch,
) -> None:
    from producers.http_answers import error_answer

    for _ in range(3):
        check_code("13511113333", "123456", client_ip="203.0.113.7")
    with pytest.raises(RateLimited) as refused:
        check_code("13511113333", "123456", client_ip="::ffff:203.0.113.7")
    answer = error_answer(refused.value)
    assert (answer.status, answer.body["reason"], answer.body["rule"]) == (
        429,
        "rate_limited",
        "check_ip:3/hour",
    )
    assert 1 <= int(answer.headers["Retry-After"]) <= 3600
