"""SendSmsVerifyCode rules, driven with the official SDK over HTTP."""

from __future__ import annotations

import json
from typing import Any

import pytest
from alibabacloud_tea_openapi.exceptions import ClientException

from smsq.emulator.catalog import CODE_ALPHABETS
from tests.smsq.emulator.emu_helpers import PARAM, check_request, fresh_phone, send_request


def test_a_send_answers_ok_with_a_request_id_in_the_body_and_the_header(client: Any, emulator: Any) -> None:
    response = client.send_sms_verify_code(send_request(fresh_phone(), out_id="order-1"))
    body = response.body
    assert response.status_code == 200
    assert (body.code, body.success) == ("OK", True)
    assert body.request_id == response.headers["x-acs-request-id"]
    assert body.model.out_id == "order-1"
    assert body.model.biz_id
    assert body.model.verify_code is None  # ReturnVerifyCode defaults to false


def test_the_defaults_give_a_four_digit_code_rendered_into_the_preset_template(
    client: Any, emulator: Any
) -> None:
    phone = fresh_phone()
    client.send_sms_verify_code(send_request(phone))
    (message,) = emulator.messages(phone)
    code = message["code"]
    assert len(code) == 4 and code.isdigit()
    assert message["scheme_name"] == "默认方案"
    assert message["template_param"] == {"code": code, "min": "5"}
    assert message["text"] == (
        f"【速通互联验证码】您的验证码为{code}。尊敬的客户，以上验证码5分钟内有效，请注意保密，切勿告知他人。"
    )
    assert message["access_key_id"] == emulator.key_id


@pytest.mark.parametrize("flag", [True, False])
def test_return_verify_code_puts_the_code_in_the_model_only_when_true(
    client: Any, emulator: Any, flag: bool
) -> None:
    phone = fresh_phone()
    body = client.send_sms_verify_code(send_request(phone, return_verify_code=flag)).body
    (message,) = emulator.messages(phone)
    assert body.model.verify_code == (message["code"] if flag else None)


@pytest.mark.parametrize("code_type", sorted(CODE_ALPHABETS))
def test_each_code_type_draws_from_its_alphabet(client: Any, emulator: Any, code_type: int) -> None:
    phone = fresh_phone()
    body = client.send_sms_verify_code(
        send_request(phone, code_type=code_type, code_length=8, return_verify_code=True)
    ).body
    assert len(body.model.verify_code) == 8
    assert set(body.model.verify_code) <= set(CODE_ALPHABETS[code_type])


@pytest.mark.parametrize(
    "overrides",
    [
        {"code_length": 3},
        {"code_length": 9},
        {"code_type": 0},
        {"code_type": 8},
        {"duplicate_policy": 3},
        {"valid_time": 0},
        {"scheme_name": "x" * 21},
    ],
)
def test_out_of_range_parameters_answer_invalid_parameter(client: Any, overrides: dict[str, Any]) -> None:
    with pytest.raises(ClientException) as caught:
        client.send_sms_verify_code(send_request(fresh_phone(), **overrides))
    assert (caught.value.code, caught.value.status_code) == ("InvalidParameter", 400)


@pytest.mark.parametrize("missing", ["phone_number", "sign_name", "template_code", "template_param"])
def test_a_missing_required_parameter_answers_missing_and_its_name(client: Any, missing: str) -> None:
    request = send_request(fresh_phone(), **{missing: None})
    wire = "".join(part.capitalize() for part in missing.split("_"))
    with pytest.raises(ClientException) as caught:
        client.send_sms_verify_code(request)
    assert (caught.value.code, caught.value.status_code) == (f"Missing{wire}", 400)
    assert caught.value.request_id != "None"


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"phone_number": "12345"}, "MOBILE_NUMBER_ILLEGAL"),
        ({"phone_number": "01012345678"}, "MOBILE_NUMBER_ILLEGAL"),  # a Beijing landline
        ({"phone_number": "+14155550123"}, "MOBILE_NUMBER_ILLEGAL"),
        ({"country_code": "852"}, "INVALID_PARAMETERS"),
        ({"sign_name": "我的签名"}, "SmsSignNameNotExist"),
        ({"template_code": "SMS_123"}, "isv.SMS_TEMPLATE_ILLEGAL"),
        ({"template_param": '{"code":"##code##"}'}, "INVALID_PARAMETERS"),  # 100001 also wants min
        ({"template_param": "not json"}, "INVALID_PARAMETERS"),
    ],
)
def test_business_refusals_come_in_an_http_200_body(
    client: Any, emulator: Any, overrides: dict[str, Any], code: str
) -> None:
    request = send_request(fresh_phone(), **overrides)
    response = client.send_sms_verify_code(request)
    assert response.status_code == 200
    assert (response.body.code, response.body.success) == (code, False)
    assert response.body.message and response.body.request_id
    assert emulator.messages() == []


def test_a_number_with_the_86_prefix_is_the_same_number(client: Any, emulator: Any) -> None:
    phone = fresh_phone()
    assert client.send_sms_verify_code(send_request(f"+86{phone}")).body.code == "OK"
    assert emulator.messages(phone)
    assert client.send_sms_verify_code(send_request(phone)).body.code == "biz.FREQUENCY"


def test_a_resend_inside_the_interval_answers_biz_frequency(client: Any, emulator: Any) -> None:
    phone = fresh_phone()
    assert client.send_sms_verify_code(send_request(phone)).body.code == "OK"
    again = client.send_sms_verify_code(send_request(phone))
    assert (again.status_code, again.body.code, again.body.message) == (
        200,
        "biz.FREQUENCY",
        "check frequency failed",
    )
    assert len(emulator.messages(phone)) == 1


def test_the_daily_cap_answers_business_limit_control(client: Any, emulator: Any) -> None:
    emulator.set_faults(daily_limit=2)
    phone = fresh_phone()
    codes = [client.send_sms_verify_code(send_request(phone, interval=0)).body.code for _ in range(3)]
    assert codes == ["OK", "OK", "BUSINESS_LIMIT_CONTROL"]


def test_a_literal_code_is_sent_as_is_but_cannot_be_verified(client: Any, emulator: Any) -> None:
    phone = fresh_phone()
    literal = json.dumps({"code": "123456", "min": "5"})
    assert client.send_sms_verify_code(send_request(phone, template_param=literal)).body.code == "OK"
    (message,) = emulator.messages(phone)
    assert message["code"] is None
    assert "123456" in message["text"]
    assert client.check_sms_verify_code(check_request(phone, "123456")).body.model.verify_result == "UNKNOWN"


def test_the_messages_endpoint_lists_newest_first_and_filters_by_phone(client: Any, emulator: Any) -> None:
    first, second = fresh_phone(), fresh_phone()
    client.send_sms_verify_code(send_request(first))
    client.send_sms_verify_code(send_request(second, template_param=PARAM))
    assert [m["phone"] for m in emulator.messages()] == [second, first]
    assert [m["phone"] for m in emulator.messages(first)] == [first]
    keys = {
        "phone",
        "code",
        "text",
        "sign_name",
        "template_code",
        "template_param",
        "scheme_name",
        "biz_id",
        "out_id",
        "request_id",
        "access_key_id",
        "sent_at",
        "receipt",
    }
    assert set(emulator.messages()[0]) == keys
