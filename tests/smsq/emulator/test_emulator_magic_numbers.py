"""The magic test numbers: each always produces its documented outcome, whatever the fault settings."""

from __future__ import annotations

from typing import Any

import phonenumbers
import pytest
from alibabacloud_tea_openapi.exceptions import ClientException, ServerException, ThrottlingException
from darabonba.exceptions import UnretryableException

from smsq.emulator.faults import MAGIC_NUMBERS
from tests.smsq.emulator.emu_helpers import check_request, send_request

FAST = {"read_timeout": 700}  # ms; the emulator holds hung responses for hang_s = 2 s in these tests


@pytest.mark.parametrize("number", sorted(MAGIC_NUMBERS))
def test_every_magic_number_is_a_valid_mainland_mobile_number(number: str) -> None:
    parsed = phonenumbers.parse(number, "CN")
    assert phonenumbers.is_valid_number(parsed)
    assert phonenumbers.number_type(parsed) == phonenumbers.PhoneNumberType.MOBILE


@pytest.mark.parametrize(
    ("number", "exception", "code", "status"),
    [
        ("13900000001", ClientException, "Throttling.User", 400),
        ("13900000002", ServerException, "InternalError", 500),
        ("13900000003", ServerException, "ServiceUnavailable", 503),
    ],
)
@pytest.mark.parametrize("action", ["send", "check"])
def test_gateway_error_numbers_raise_the_sdk_exception_every_time(
    emulator: Any, number: str, exception: type, code: str, status: int, action: str
) -> None:
    client = emulator.sdk_client()
    for _ in range(2):
        with pytest.raises(exception) as caught:
            if action == "send":
                client.send_sms_verify_code(send_request(number))
            else:
                client.check_sms_verify_code(check_request(number, "1234"))
        assert type(caught.value) is exception
        assert (caught.value.code, caught.value.status_code) == (code, status)
    assert emulator.messages() == []


def test_the_throttled_number_raises_a_throttling_exception_when_retry_after_is_set(emulator: Any) -> None:
    emulator.set_faults(retry_after_ms=1500)
    with pytest.raises(ThrottlingException) as caught:
        emulator.sdk_client().send_sms_verify_code(send_request("13900000001"))
    assert (caught.value.code, caught.value.retry_after) == ("Throttling.User", 1500)


def test_the_502_number_answers_an_html_page_the_sdk_cannot_parse(emulator: Any) -> None:
    with pytest.raises(UnretryableException) as caught:
        emulator.sdk_client().send_sms_verify_code(send_request("13900000004"))
    assert "json" in str(caught.value).lower()
    assert emulator.stats()["requests"]["SendSmsVerifyCode"] == {"BadGateway": 1}


def test_the_hanging_number_is_processed_and_then_times_out_every_time(emulator: Any) -> None:
    emulator.set_faults(hang_s=2)
    client = emulator.sdk_client(**FAST)
    for _ in range(2):
        with pytest.raises(UnretryableException) as caught:
            client.send_sms_verify_code(send_request("13900000005"))
        assert "timed out" in str(caught.value).lower()
    assert len(emulator.messages("13900000005")) == 1  # the second was a processed biz.FREQUENCY
    assert emulator.stats()["send_requests"] == 2


def test_the_dropped_number_is_never_processed(emulator: Any) -> None:
    client = emulator.sdk_client()
    for _ in range(2):
        with pytest.raises(UnretryableException):
            client.send_sms_verify_code(send_request("13900000006"))
    assert emulator.messages() == []
    assert emulator.stats()["send_requests"] == 0


@pytest.mark.parametrize(
    ("number", "code"), [("13900000007", "MOBILE_NUMBER_ILLEGAL"), ("13900000008", "BUSINESS_LIMIT_CONTROL")]
)
def test_business_refusal_numbers_answer_in_a_200_body(emulator: Any, number: str, code: str) -> None:
    response = emulator.sdk_client().send_sms_verify_code(send_request(number))
    assert (response.status_code, response.body.code) == (200, code)
    assert emulator.messages() == []


def test_the_first_send_to_the_hang_once_number_goes_out_and_a_retry_reads_biz_frequency(
    emulator: Any,
) -> None:
    emulator.set_faults(hang_s=2)
    with pytest.raises(UnretryableException):
        emulator.sdk_client(**FAST).send_sms_verify_code(send_request("13900000009"))
    assert len(emulator.messages("13900000009")) == 1
    retry = emulator.sdk_client().send_sms_verify_code(send_request("13900000009"))
    assert retry.body.code == "biz.FREQUENCY"


def test_the_flaky_number_answers_503_twice_and_then_ok(emulator: Any) -> None:
    client = emulator.sdk_client()
    for _ in range(2):
        with pytest.raises(ServerException) as caught:
            client.send_sms_verify_code(send_request("13900000010"))
        assert (caught.value.code, caught.value.status_code) == ("ServiceUnavailable", 503)
    assert client.send_sms_verify_code(send_request("13900000010")).body.code == "OK"


def test_the_drop_once_number_loses_its_first_request_and_then_works(emulator: Any) -> None:
    client = emulator.sdk_client()
    with pytest.raises(UnretryableException):
        client.send_sms_verify_code(send_request("13900000011"))
    assert emulator.messages() == []
    assert client.send_sms_verify_code(send_request("13900000011")).body.code == "OK"


def test_the_drop_second_number_loses_only_its_second_send(emulator: Any) -> None:
    client = emulator.sdk_client()
    assert client.send_sms_verify_code(send_request("13900000012")).body.code == "OK"
    with pytest.raises(UnretryableException):
        client.send_sms_verify_code(send_request("13900000012"))
    assert len(emulator.messages("13900000012")) == 1
    # the third is processed: inside the interval of the first, the provider refuses it
    assert client.send_sms_verify_code(send_request("13900000012")).body.code == "biz.FREQUENCY"


def test_magic_numbers_win_over_fault_probabilities(emulator: Any) -> None:
    emulator.set_faults(error_500_rate=1.0)
    response = emulator.sdk_client().send_sms_verify_code(send_request("13900000007"))
    assert response.body.code == "MOBILE_NUMBER_ILLEGAL"


def test_reset_restarts_the_first_request_counters(emulator: Any) -> None:
    client = emulator.sdk_client()
    with pytest.raises(UnretryableException):
        client.send_sms_verify_code(send_request("13900000011"))
    emulator.reset()
    with pytest.raises(UnretryableException):
        client.send_sms_verify_code(send_request("13900000011"))
