"""CheckSmsVerifyCode rules, driven with the official SDK over HTTP."""

from __future__ import annotations

import time
from typing import Any

import pytest
from alibabacloud_tea_openapi.exceptions import ClientException

from tests.smsq.emulator.emu_helpers import check_request, fresh_phone, send_request


def _send(client: Any, emulator: Any, phone: str, **overrides: Any) -> str:
    assert client.send_sms_verify_code(send_request(phone, **overrides)).body.code == "OK"
    code: str = emulator.messages(phone)[0]["code"]
    return code


def _result(client: Any, phone: str, code: str, **overrides: Any) -> str:
    body = client.check_sms_verify_code(check_request(phone, code, **overrides)).body
    assert (body.code, body.success) == ("OK", True)
    return str(body.model.verify_result)


def test_the_right_code_passes_once_and_is_then_used_up(client: Any, emulator: Any) -> None:
    phone = fresh_phone()
    code = _send(client, emulator, phone)
    assert _result(client, phone, code) == "PASS"
    assert _result(client, phone, code) == "UNKNOWN"


def test_a_wrong_code_or_an_unknown_number_answers_unknown(client: Any, emulator: Any) -> None:
    phone = fresh_phone()
    code = _send(client, emulator, phone)
    wrong = "0000" if code != "0000" else "1111"
    assert _result(client, phone, wrong) == "UNKNOWN"
    assert _result(client, fresh_phone(), code) == "UNKNOWN"
    assert _result(client, phone, code) == "PASS"  # a wrong guess does not burn the code


def test_an_expired_code_fails(client: Any, emulator: Any) -> None:
    phone = fresh_phone()
    code = _send(client, emulator, phone, valid_time=1)
    time.sleep(1.2)
    assert _result(client, phone, code) == "UNKNOWN"


def test_the_scheme_must_match_the_send(client: Any, emulator: Any) -> None:
    phone = fresh_phone()
    code = _send(client, emulator, phone, scheme_name="注册")
    assert _result(client, phone, code) == "UNKNOWN"  # the default scheme
    assert _result(client, phone, code, scheme_name="登录") == "UNKNOWN"
    assert _result(client, phone, code, scheme_name="注册") == "PASS"


@pytest.mark.parametrize(("policy", "first_still_passes"), [(1, False), (2, True)])
def test_duplicate_policy_overwrites_or_keeps_the_earlier_code(
    client: Any, emulator: Any, policy: int, first_still_passes: bool
) -> None:
    phone = fresh_phone()
    first = _send(client, emulator, phone, interval=0, duplicate_policy=policy, code_length=8)
    second = _send(client, emulator, phone, interval=0, duplicate_policy=policy, code_length=8)
    assert _result(client, phone, first) == ("PASS" if first_still_passes else "UNKNOWN")
    assert _result(client, phone, second) == "PASS"


@pytest.mark.parametrize(("policy", "lower_case_passes"), [(1, True), (2, False)])
def test_case_auth_policy_compares_without_or_with_case(
    client: Any, emulator: Any, policy: int, lower_case_passes: bool
) -> None:
    phone = fresh_phone()
    code = _send(client, emulator, phone, code_type=2, code_length=6)  # upper-case letters
    assert _result(client, phone, code.lower(), case_auth_policy=policy) == (
        "PASS" if lower_case_passes else "UNKNOWN"
    )
    if not lower_case_passes:
        assert _result(client, phone, code, case_auth_policy=policy) == "PASS"


def test_out_id_is_echoed(client: Any, emulator: Any) -> None:
    phone = fresh_phone()
    body = client.check_sms_verify_code(check_request(phone, "1234", out_id="o-9")).body
    assert body.model.out_id == "o-9"


@pytest.mark.parametrize(
    ("missing", "code"), [("phone_number", "MissingPhoneNumber"), ("verify_code", "MissingVerifyCode")]
)
def test_a_check_without_a_required_parameter_is_refused(client: Any, missing: str, code: str) -> None:
    request = check_request(fresh_phone(), "1234")
    setattr(request, missing, None)
    with pytest.raises(ClientException) as caught:
        client.check_sms_verify_code(request)
    assert (caught.value.code, caught.value.status_code) == (code, 400)


def test_stats_count_outcomes_checks_and_accepted_send_times(client: Any, emulator: Any) -> None:
    phone = fresh_phone()
    code = _send(client, emulator, phone)
    client.send_sms_verify_code(send_request(phone))  # biz.FREQUENCY
    _result(client, phone, code)
    _result(client, phone, code)
    stats = emulator.stats()
    assert stats["requests"] == {
        "SendSmsVerifyCode": {"OK": 1, "biz.FREQUENCY": 1},
        "CheckSmsVerifyCode": {"PASS": 1, "UNKNOWN": 1},
    }
    assert stats["total"] == 4
    assert stats["check_requests"] == 2
    assert len(stats["send_timestamps"]) == 1
    assert stats["send_timestamps"][0] == emulator.messages(phone)[0]["sent_at"]
