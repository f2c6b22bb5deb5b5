"""Gateway refusals (keys, signatures, time stamps, nonces, actions, throttling) as the SDK raises them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alibabacloud_tea_openapi import models as open_api_models
from alibabacloud_tea_openapi.client import Client as OpenApiClient
from alibabacloud_tea_openapi.exceptions import ClientException, ThrottlingException
from alibabacloud_tea_openapi.utils import Utils
from alibabacloud_tea_util import models as util_models

from tests.smsq.emulator.emu_helpers import check_request, fresh_phone, send_request


def _client_error(call: Any) -> ClientException:
    with pytest.raises(ClientException) as caught:
        call()
    error = caught.value
    assert {"Code", "Message", "RequestId"} <= set(error.data)
    return error


@pytest.mark.parametrize("algorithm", [None, "v2"])
def test_an_unknown_access_key_answers_invalid_access_key_id_not_found(
    emulator: Any, algorithm: str | None
) -> None:
    client = emulator.sdk_client(access_key_id="nobody", signature_algorithm=algorithm)
    error = _client_error(lambda: client.send_sms_verify_code(send_request(fresh_phone())))
    assert (error.code, error.status_code) == ("InvalidAccessKeyId.NotFound", 404)


@pytest.mark.parametrize("algorithm", [None, "v2"])
def test_a_wrong_secret_answers_signature_does_not_match(emulator: Any, algorithm: str | None) -> None:
    client = emulator.sdk_client(access_key_secret="wrong", signature_algorithm=algorithm)
    error = _client_error(lambda: client.check_sms_verify_code(check_request(fresh_phone(), "1234")))
    assert (error.code, error.status_code) == ("SignatureDoesNotMatch", 400)
    assert emulator.stats()["check_requests"] == 0


def test_the_legacy_rpc_signature_sends_and_checks_end_to_end(emulator: Any) -> None:
    client = emulator.sdk_client(signature_algorithm="v2")
    phone = fresh_phone()
    body = client.send_sms_verify_code(send_request(phone, out_id="a b+c/~*", return_verify_code=True)).body
    assert (body.code, body.model.out_id) == ("OK", "a b+c/~*")
    result = client.check_sms_verify_code(check_request(phone, body.model.verify_code)).body
    assert result.model.verify_result == "PASS"


@pytest.mark.parametrize("skew", [timedelta(minutes=16), -timedelta(minutes=16)])
def test_a_request_dated_more_than_15_minutes_away_answers_invalid_timestamp_expired(
    emulator: Any, monkeypatch: pytest.MonkeyPatch, skew: timedelta
) -> None:
    stamp = (datetime.now(UTC) + skew).strftime("%Y-%m-%dT%H:%M:%SZ")
    monkeypatch.setattr(Utils, "get_timestamp", staticmethod(lambda: stamp))
    client = emulator.sdk_client()
    error = _client_error(lambda: client.check_sms_verify_code(check_request(fresh_phone(), "1234")))
    assert (error.code, error.status_code) == ("InvalidTimeStamp.Expired", 400)


@pytest.mark.parametrize("algorithm", [None, "v2"])
def test_a_reused_nonce_answers_signature_nonce_used(
    emulator: Any, monkeypatch: pytest.MonkeyPatch, algorithm: str | None
) -> None:
    monkeypatch.setattr(Utils, "get_nonce", staticmethod(lambda: "0123456789abcdef0123456789abcdef"))
    client = emulator.sdk_client(signature_algorithm=algorithm)
    first = client.check_sms_verify_code(check_request(fresh_phone(), "1234"))
    assert first.body.code == "OK"
    error = _client_error(lambda: client.check_sms_verify_code(check_request(fresh_phone(), "1234")))
    assert (error.code, error.status_code) == ("SignatureNonceUsed", 400)


def test_an_unknown_action_answers_invalid_action_not_found(emulator: Any) -> None:
    client = OpenApiClient(emulator.sdk_config())
    params = open_api_models.Params(
        action="SendSmsVerifyCodeTwice",
        version="2017-05-25",
        protocol="HTTP",
        pathname="/",
        method="POST",
        auth_type="AK",
        style="RPC",
        req_body_type="formData",
        body_type="json",
    )
    request = open_api_models.OpenApiRequest(query={"PhoneNumber": fresh_phone()})
    error = _client_error(lambda: client.call_api(params, request, util_models.RuntimeOptions()))
    assert (error.code, error.status_code) == ("InvalidAction.NotFound", 404)


def test_a_get_request_is_served_like_a_post(emulator: Any) -> None:
    client = OpenApiClient(emulator.sdk_config())
    params = open_api_models.Params(
        action="CheckSmsVerifyCode",
        version="2017-05-25",
        protocol="HTTP",
        pathname="/",
        method="GET",
        auth_type="AK",
        style="RPC",
        req_body_type="formData",
        body_type="json",
    )
    request = open_api_models.OpenApiRequest(query={"PhoneNumber": fresh_phone(), "VerifyCode": "1234"})
    result = client.call_api(params, request, util_models.RuntimeOptions())
    assert result["body"]["Model"]["VerifyResult"] == "UNKNOWN"


def test_params_in_a_form_body_are_read_and_covered_by_the_signature(emulator: Any) -> None:
    client = OpenApiClient(emulator.sdk_config())
    params = open_api_models.Params(
        action="SendSmsVerifyCode",
        version="2017-05-25",
        protocol="HTTP",
        pathname="/",
        method="POST",
        auth_type="AK",
        style="RPC",
        req_body_type="formData",
        body_type="json",
    )
    phone = fresh_phone()
    body = {
        "PhoneNumber": phone,
        "SignName": "速通互联验证码",
        "TemplateCode": "100001",
        "TemplateParam": '{"code":"##code##","min":"5"}',
    }
    request = open_api_models.OpenApiRequest(body=body)
    result = client.call_api(params, request, util_models.RuntimeOptions())
    assert result["body"]["Code"] == "OK"
    assert emulator.messages(phone)


def test_flow_control_answers_throttling_user_as_a_client_exception(emulator: Any) -> None:
    emulator.set_faults(rate_limit=0.01)  # one token, refilled every 100 s
    client = emulator.sdk_client()
    assert client.check_sms_verify_code(check_request(fresh_phone(), "1234")).body.code == "OK"
    error = _client_error(lambda: client.check_sms_verify_code(check_request(fresh_phone(), "1234")))
    assert type(error) is ClientException
    assert (error.code, error.status_code) == ("Throttling.User", 400)


def test_flow_control_with_retry_after_answers_a_throttling_exception(emulator: Any) -> None:
    emulator.set_faults(rate_limit=0.01, retry_after_ms=250)
    client = emulator.sdk_client()
    client.check_sms_verify_code(check_request(fresh_phone(), "1234"))
    with pytest.raises(ThrottlingException) as caught:
        client.check_sms_verify_code(check_request(fresh_phone(), "1234"))
    assert (caught.value.code, caught.value.status_code, caught.value.retry_after) == (
        "Throttling.User",
        400,
        250,
    )
