"""Every provider code we know maps to the right error class; an unknown one to a safe default."""

from __future__ import annotations

import pytest

from producers import errors
from producers.provider import _FREQUENCY, _PERMANENT, _TRANSIENT, error_for_code

TRANSIENT_CODES = sorted(_TRANSIENT)
PERMANENT_CODES = sorted(_PERMANENT.items())


@pytest.mark.parametrize("code", TRANSIENT_CODES)
def test_transient_codes_map_to_a_retryable_error(code: str) -> None:
    error = error_for_code(code, status=503)
    assert isinstance(error, errors.ProviderTransient)
    assert error.code == code


@pytest.mark.parametrize(("code", "reason"), PERMANENT_CODES)
def test_permanent_codes_map_to_a_permanent_error_with_their_reason(code: str, reason: str) -> None:
    error = error_for_code(code, status=400)
    assert isinstance(error, errors.ProviderPermanent)
    assert not isinstance(error, errors.ProviderTransient)
    assert error.reason == reason


@pytest.mark.parametrize("code", sorted(_FREQUENCY))
def test_frequency_codes_map_to_provider_frequency(code: str) -> None:
    assert isinstance(error_for_code(code), errors.ProviderFrequency)


@pytest.mark.parametrize("code", ["Throttling", "Throttling.User", "Throttling.Api", "Throttling.System"])
def test_throttling_codes_map_to_throttled_with_retry_after_in_seconds(code: str) -> None:
    error = error_for_code(code, status=400, retry_after_ms=1500)
    assert isinstance(error, errors.ProviderThrottled)
    assert error.retry_after == 1.5


def test_an_unknown_code_is_permanent_so_a_send_is_never_repeated_blindly() -> None:
    error = error_for_code("SomethingNew.NeverSeen", status=400)
    assert isinstance(error, errors.ProviderPermanent)
    assert error.reason == "provider_rejected"


def test_an_unknown_code_with_a_5xx_status_is_transient() -> None:
    assert isinstance(error_for_code("SomethingNew", status=502), errors.ProviderTransient)
