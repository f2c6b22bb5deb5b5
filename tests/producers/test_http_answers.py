"""smsq's errors as HTTP answers, once for the gateway and every integration."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from producers import (
    CheckLocked,
    CheckResult,
    ConfigurationError,
    InvalidArgument,
    InvalidInput,
    InvalidPhoneNumber,
    ProviderAmbiguous,
    ProviderError,
    ProviderFrequency,
    ProviderThrottled,
    ProviderTransient,
    RateLimited,
    SendState,
    ServiceUnavailable,
    SmsqError,
    Ticket,
    TicketNotFound,
)
from producers.http_answers import STATUS_FOR, error_answer, status_for
from producers.records import as_json


def all_subclasses(root: type[SmsqError]) -> list[type[SmsqError]]:
    """``root`` and every error class the library defines under it (the ones an HTTP caller can
    meet; classes the worker defines for itself never leave it)."""
    found = [root]
    for sub in root.__subclasses__():
        if sub.__module__.startswith("producers."):
            found += all_subclasses(sub)
    return found


def test_every_smsq_error_has_a_deliberate_http_status() -> None:
    for klass in all_subclasses(SmsqError)[1:]:
        assert any(issubclass(klass, listed) and listed is not SmsqError for listed in STATUS_FOR), (
            f"{klass.__name__} falls through to 500"
        )


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (InvalidPhoneNumber("x"), 400),
        (InvalidArgument("x", reason="malformed_json"), 400),
        (RateLimited("x", rule="phone:1/minute", retry_after=3), 429),
        (CheckLocked("x", rule="check", retry_after=3), 429),
        (TicketNotFound("x"), 404),
        (ServiceUnavailable("x"), 503),
        (ConfigurationError("x"), 500),
        (ProviderThrottled("x"), 503),
        (ProviderTransient("x"), 503),
        (ProviderAmbiguous("x"), 502),
        (ProviderFrequency("x"), 502),
        (ProviderError("x"), 502),
    ],
)
def test_each_error_answers_its_status_with_its_class_and_reason(error: SmsqError, status: int) -> None:
    answer = error_answer(error)
    assert answer.status == status_for(error) == status
    assert answer.body["error"] == type(error).__name__
    assert answer.body["reason"] == error.reason
    assert answer.body["message"] == str(error)
    json.dumps(answer.body)  # serialisable as it is


def test_a_custom_reason_is_the_answers_reason() -> None:
    assert error_answer(InvalidArgument("x", reason="body_too_large")).body["reason"] == "body_too_large"


@pytest.mark.parametrize(
    ("retry_after", "header"),
    [(0.0, "1"), (0.001, "1"), (1.0, "1"), (1.2, "2"), (59.99, "60"), (3600, "3600")],
)
def test_a_refusal_carries_rule_retry_after_and_a_whole_second_header(
    retry_after: float, header: str
) -> None:
    answer = error_answer(RateLimited("too many", rule="phone:1/minute", retry_after=retry_after))
    assert answer.status == 429
    assert answer.body["rule"] == "phone:1/minute"
    assert answer.body["retry_after"] == retry_after
    assert answer.headers == {"Retry-After": header}


@given(st.floats(min_value=0, max_value=10**7, allow_nan=False))
def test_retry_after_is_never_below_the_wait_nor_below_one_second(retry_after: float) -> None:
    header = int(error_answer(CheckLocked("x", rule="check", retry_after=retry_after)).headers["Retry-After"])
    assert header >= 1
    assert header >= retry_after
    assert header - retry_after < 1 or header == 1


def test_a_transient_provider_failure_says_when_to_retry_and_a_permanent_one_does_not() -> None:
    assert error_answer(ProviderThrottled("x", retry_after=2.5)).headers == {"Retry-After": "3"}
    assert error_answer(ProviderThrottled("x")).headers == {"Retry-After": "1"}
    assert error_answer(ProviderTransient("x")).headers == {"Retry-After": "1"}
    assert error_answer(ProviderFrequency("x")).headers == {}
    assert error_answer(ServiceUnavailable("x")).headers == {}
    assert "rule" not in error_answer(InvalidInput("x")).body


def test_results_become_the_gateways_json_bodies() -> None:
    ticket = Ticket("abc", SendState.QUEUED, 1.5, "135****2222", "default", "login")
    body = as_json(ticket)
    assert body == {
        "ticket": "abc",
        "state": "queued",
        "created_at": 1.5,
        "masked_phone": "135****2222",
        "lane": "default",
        "purpose": "login",
        "duplicate": False,
    }
    assert json.loads(json.dumps(body))["state"] == "queued"
    assert as_json(CheckResult(False, 4)) == {"passed": False, "attempts_left": 4, "ticket": None}
