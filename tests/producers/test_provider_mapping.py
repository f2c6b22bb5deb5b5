"""Every provider code we know maps to the right error class; an unknown one to a safe default.

The expected mapping is written out here, from Alibaba's error code documentation, not read from
the module's own tables: moving a code between classes there must fail a test here.
"""

from __future__ import annotations

import pytest

from producers import errors, provider
from producers.provider import error_for_code

#: reason -> codes the provider answers when retrying cannot help
PERMANENT = {
    "provider_account": [
        "BIZ_NOT_OPEN_STATUS", "FUNCTION_NOT_OPENED", "OFFER_NOT_ORDER_STATUS", "OutOfService",
        "RESOURCE_NOT_ENOUGH", "Unsupported.Account", "isv.AMOUNT_NOT_ENOUGH", "isv.OUT_OF_SERVICE",
        "isv.PRODUCT_UNSUBSCRIBE", "isv.PRODUCT_UN_SUBSCRIPT",
    ],
    "provider_auth": [
        "Forbidden", "Forbidden.RAM", "Forbidden.RiskControl", "Forbidden.UserVerification",
        "IncompleteSignature", "InvalidAccessKeyId.Inactive", "InvalidAccessKeyId.NotFound",
        "InvalidCredentials", "InvalidSignatureMethod", "RamPermissionDeny", "SignatureDoesNotMatch",
        "UnauthorizedOperation", "isv.RAM_PERMISSION_DENY",
    ],
    "provider_bad_number": [
        "COUNTRY_BLACKLISTED", "MOBILE_NUMBER_ILLEGAL", "SECURITY_INTERCEPTED", "isv.MOBILE_NUMBER_ILLEGAL",
    ],
    "provider_bad_request": [
        "INVALID_PARAMETERS", "InvalidAction.NotFound", "InvalidApi.NotFound", "InvalidParameter",
        "InvalidProduct.NotFound", "InvalidTimeStamp.Format", "MissingParameter", "UnsupportedHTTPMethod",
        "isv.INVALID_PARAMETERS",
    ],
    "provider_clock": ["InvalidTimeStamp.Expired"],
    "provider_config": [
        "InvalidSignName", "MissingTemplateParam", "SmsSignNameNotExist", "VerifySchemeNotExist",
        "isp.VERIFY_SCHEME_NOT_EXIST", "isv.SMS_TEMPLATE_ILLEGAL", "isv.VERIFY_SCHEME_NOT_EXIST",
    ],
    "provider_daily_limit": ["BUSINESS_LIMIT_CONTROL", "isv.BUSINESS_LIMIT_CONTROL"],
}  # fmt: skip
TRANSIENT = [
    "InternalError", "SENTINEL_BLOCK_EXCEPTION", "SMS_SYSTEM_ERROR", "ServiceUnavailable",
    "SignatureNonceUsed", "SystemError", "UnknowError",
]  # fmt: skip
FREQUENCY = ["FREQUENCY_FAIL", "biz.FREQUENCY", "isv.FREQUENCY_FAIL"]
PERMANENT_CODES = [(code, reason) for reason, codes in PERMANENT.items() for code in codes]


@pytest.mark.parametrize("code", TRANSIENT)
def test_transient_codes_map_to_a_retryable_error(code: str) -> None:
    error = error_for_code(code, status=400)
    assert type(error) is errors.ProviderTransient
    assert error.code == code


@pytest.mark.parametrize(("code", "reason"), PERMANENT_CODES)
def test_permanent_codes_map_to_a_permanent_error_with_their_reason(code: str, reason: str) -> None:
    for status in (400, 403, 404, 500):  # a known permanent code stays permanent whatever the status
        error = error_for_code(code, status=status)
        assert type(error) is errors.ProviderPermanent
        assert error.reason == reason


@pytest.mark.parametrize("code", FREQUENCY)
def test_frequency_codes_map_to_provider_frequency(code: str) -> None:
    assert type(error_for_code(code)) is errors.ProviderFrequency


@pytest.mark.parametrize("code", ["Throttling", "Throttling.User", "Throttling.Api", "Throttling.System"])
def test_throttling_codes_map_to_throttled_with_retry_after_in_seconds(code: str) -> None:
    error = error_for_code(code, status=400, retry_after_ms=1500)
    assert isinstance(error, errors.ProviderThrottled)
    assert error.retry_after == 1.5


def test_an_unknown_code_is_permanent_so_a_send_is_never_repeated_blindly() -> None:
    error = error_for_code("SomethingNew.NeverSeen", status=400)
    assert type(error) is errors.ProviderPermanent
    assert error.reason == "provider_rejected"


def test_an_unknown_code_with_a_5xx_status_is_transient() -> None:
    assert type(error_for_code("SomethingNew", status=502)) is errors.ProviderTransient


def test_the_adapter_knows_exactly_the_codes_listed_here() -> None:
    # a code added to the adapter must be added above too, with the class it is meant to have
    known = set(provider._TRANSIENT) | set(provider._PERMANENT) | set(provider._FREQUENCY)
    assert known == set(TRANSIENT) | {code for code, _ in PERMANENT_CODES} | set(FREQUENCY)
