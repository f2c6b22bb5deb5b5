"""Helpers for the emulator tests: SDK requests, fresh phone numbers, raw HTTP (imported by name)."""

from __future__ import annotations

import itertools
import json
import socket
from collections.abc import Callable
from typing import Any

from alibabacloud_dypnsapi20170525 import models as dypns

SIGN = "速通互联验证码"
TEMPLATE = "100001"
PARAM = '{"code":"##code##","min":"5"}'

_numbers = itertools.count(1)


def fresh_phone() -> str:
    """A valid mainland mobile number no other test in this session uses."""
    return f"1351{next(_numbers):07d}"


def send_request(phone: str, **overrides: Any) -> dypns.SendSmsVerifyCodeRequest:
    """A SendSmsVerifyCode request for the preset sign and template, with overrides."""
    fields: dict[str, Any] = {
        "phone_number": phone,
        "sign_name": SIGN,
        "template_code": TEMPLATE,
        "template_param": PARAM,
    }
    fields.update(overrides)
    return dypns.SendSmsVerifyCodeRequest(**fields)


def check_request(phone: str, code: str, **overrides: Any) -> dypns.CheckSmsVerifyCodeRequest:
    return dypns.CheckSmsVerifyCodeRequest(phone_number=phone, verify_code=code, **overrides)


def raw_http(endpoint: str, data: bytes, timeout_s: float = 10.0) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes; return the status, headers (lower-case) and body of the answer."""
    host, port = endpoint.split(":")
    with socket.create_connection((host, int(port)), timeout=timeout_s) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, body


def platform_error(body: bytes) -> dict[str, Any]:
    """Parse a platform JSON error and check it carries Code, Message and RequestId."""
    data: dict[str, Any] = json.loads(body)
    assert {"Code", "Message", "RequestId"} <= set(data)
    return data


def outcome_of(call: Callable[[], Any]) -> str:
    """The body Code / VerifyResult of an SDK call, or the code of the exception it raised."""
    try:
        response = call()
    except Exception as error:  # the SDK's exceptions, compared by code
        return str(getattr(error, "code", None) or type(error).__name__)
    body = response.body
    if body.code == "OK" and hasattr(body.model, "verify_result") and body.model.verify_result:
        return str(body.model.verify_result)
    return str(body.code)
