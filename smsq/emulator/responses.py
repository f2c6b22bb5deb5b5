"""Building responses in the platform's wire format."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from smsq.emulator import errors

_JSON = "application/json"


def business_error_body(error: errors.EmulatorError, request_id: str) -> dict[str, Any]:
    """The HTTP 200 body of a refused business request."""
    return {"RequestId": request_id, "Code": error.wire_code, "Message": error.message, "Success": False}


def gateway_error_body(error: errors.EmulatorError, request_id: str) -> dict[str, Any]:
    """The POP gateway's JSON error body (``Code``, ``Message``, ``RequestId``, ``HostId``, ``Recommend``)."""
    code = error.wire_code
    return {
        "RequestId": request_id,
        "HostId": "dypnsapi.aliyuncs.com",
        "Code": code,
        "Message": error.message,
        "Recommend": f"https://api.aliyun.com/troubleshoot?q={code}&product=Dypnsapi&requestId={request_id}",
    }


def new_request_id() -> str:
    """A request id in Alibaba's upper-case UUID form."""
    return str(uuid.uuid4()).upper()


def json_response(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    """A UTF-8 JSON response (Chinese text unescaped, as Alibaba sends it)."""
    body = json.dumps(data, ensure_ascii=False).encode("utf-8")
    return web.Response(body=body, status=status, content_type=_JSON, charset="utf-8", headers=headers)


def error_response(error: errors.EmulatorError, request_id: str | None = None) -> web.Response:
    """The platform's JSON error for ``error`` (HTTP 200 body for business errors)."""
    request_id = request_id or new_request_id()
    if isinstance(error, errors.BusinessError):
        body = business_error_body(error, request_id)
    else:
        body = gateway_error_body(error, request_id)
    return json_response(body, error.status, {"x-acs-request-id": request_id})
