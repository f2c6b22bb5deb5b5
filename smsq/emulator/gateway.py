"""The Dypnsapi endpoint on ``/``: parse, authenticate (ACS3 or legacy RPC), inject faults, run the action."""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from datetime import datetime
from urllib.parse import parse_qsl

from aiohttp import web

from smsq.emulator import errors, signing
from smsq.emulator.backend import EMULATOR, Emulator
from smsq.emulator.config import MAX_BODY_BYTES
from smsq.emulator.faults import Outcome
from smsq.emulator.handlers import ACTIONS, CHECK, SEND, Context
from smsq.emulator.responses import error_response, json_response, new_request_id
from smsq.emulator.state import NONCE_WINDOW_S

API_VERSION = "2017-05-25"
MAX_QUERY_FIELDS = 100
_DATE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\Z")
# Headers an ACS3 request must carry and sign.
_REQUIRED_SIGNED = ("host", "x-acs-action", "x-acs-version", "x-acs-date", "x-acs-signature-nonce")
_RPC_REQUIRED = ("AccessKeyId", "SignatureMethod", "Timestamp", "SignatureNonce", "Action", "Version")
_BAD_GATEWAY_PAGE = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>Tengine</center>\r\n</body>\r\n</html>\r\n"
)


# --- parsing and authentication ---------------------------------------------------------------


def parse_form(text: str) -> dict[str, str]:
    """Decode a query string or form body (``+`` is a space); invalid UTF-8 is a ``BadRequest``."""
    try:
        pairs = parse_qsl(text, keep_blank_values=True, errors="strict", max_num_fields=MAX_QUERY_FIELDS)
    except ValueError:
        raise errors.BadRequest("The query string or form body is not valid UTF-8 form encoding.") from None
    return dict(pairs)


def _check_date(raw: str, now: float) -> float:
    if not _DATE.match(raw):
        raise errors.InvalidTimeStampFormat()
    try:
        stamp = datetime.fromisoformat(raw).timestamp()
    except ValueError:
        raise errors.InvalidTimeStampFormat() from None
    if abs(now - stamp) > NONCE_WINDOW_S:
        raise errors.InvalidTimeStampExpired()
    return stamp


def _secret(emulator: Emulator, key_id: str) -> str:
    secret = emulator.config.keys.get(key_id)
    if secret is None:
        raise errors.InvalidAccessKeyIdNotFound()
    return secret


def _route(action: str, version: str) -> None:
    if action not in ACTIONS:
        raise errors.InvalidActionNotFound(f"Specified api is not found: {action[:64]}")
    if version != API_VERSION:
        raise errors.InvalidVersion()


def _verify_acs3(
    emulator: Emulator, request: web.Request, query: dict[str, str], body: bytes, authorization: str
) -> tuple[str, str]:
    auth = signing.parse_authorization(authorization)
    if auth is None:
        raise errors.IncompleteSignature("The Authorization header is not well formed.")
    if auth.algorithm != signing.ACS3_HMAC_SHA256:
        raise errors.InvalidSignatureMethod()
    headers = request.headers
    for name in _REQUIRED_SIGNED:
        if name not in headers or name not in auth.signed_headers:
            raise errors.IncompleteSignature(f"The header {name} is required and must be signed.")
    action = headers["x-acs-action"]
    _route(action, headers["x-acs-version"])
    secret = _secret(emulator, auth.key_id)
    signed_at = _check_date(headers["x-acs-date"], emulator.clock.now())
    expected = signing.acs3_signature(
        method=request.method,
        path=request.path,
        params=query.items(),
        headers={name: headers.getall(name, []) for name in auth.signed_headers},
        signed_headers=auth.signed_headers,
        payload_sha256=hashlib.sha256(body).hexdigest() if body else signing.EMPTY_SHA256,
        secret=secret,
    )
    if not signing.same(expected, auth.signature):
        raise errors.SignatureDoesNotMatch()
    if not emulator.nonces.first_use(auth.key_id, headers["x-acs-signature-nonce"], signed_at):
        raise errors.SignatureNonceUsed()
    return action, auth.key_id


def _verify_rpc(
    emulator: Emulator, method: str, query: dict[str, str], form: dict[str, str]
) -> tuple[str, str]:
    for name in _RPC_REQUIRED:
        if not query.get(name):
            raise errors.MissingParameter(name)
    action = query["Action"]
    _route(action, query["Version"])
    if query["SignatureMethod"] != "HMAC-SHA1":
        raise errors.InvalidSignatureMethod()
    key_id = query["AccessKeyId"]
    secret = _secret(emulator, key_id)
    signed_at = _check_date(query["Timestamp"], emulator.clock.now())
    expected = signing.rpc_signature(method, [*form.items(), *query.items()], secret)
    if not signing.same(expected, query["Signature"]):
        raise errors.SignatureDoesNotMatch()
    if not emulator.nonces.first_use(key_id, query["SignatureNonce"], signed_at):
        raise errors.SignatureNonceUsed()
    return action, key_id


# --- the Dypnsapi endpoint --------------------------------------------------------------------


async def dypnsapi(request: web.Request) -> web.StreamResponse:
    """Serve one Dypnsapi RPC request: authenticate, inject faults, run the action."""
    emulator = request.app[EMULATOR]
    request_id = new_request_id()
    label = "(other)"
    try:
        if request.method not in ("GET", "POST"):
            raise errors.UnsupportedHTTPMethod()
        _, _, raw_query = request.raw_path.partition("?")
        query = parse_form(raw_query)
        body = await _read_body(request)
        form: dict[str, str] = {}
        if body and request.content_type == "application/x-www-form-urlencoded":
            form = parse_form(_utf8(body))
        claimed = request.headers.get("x-acs-action") or query.get("Action", "")
        label = claimed if claimed in ACTIONS else "(other)"
        authorization = request.headers.get("Authorization")
        if authorization:
            action, key_id = _verify_acs3(emulator, request, query, body, authorization)
        elif "Signature" in query:
            action, key_id = _verify_rpc(emulator, request.method, query, form)
        else:
            raise errors.IncompleteSignature("The request carries no Authorization header and no Signature.")
        return await _serve_action(emulator, request, action, key_id, {**query, **form}, request_id)
    except errors.EmulatorError as error:
        emulator.stats.count(label, error.wire_code)
        response = error_response(error, request_id)
        if isinstance(error, errors.ThrottlingUser) and emulator.faults.settings.retry_after_ms:
            response.headers["x-acs-retry-after"] = str(emulator.faults.settings.retry_after_ms)
        return response


def _utf8(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise errors.BadRequest("The request body is not valid UTF-8.") from None


async def _read_body(request: web.Request) -> bytes:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise errors.RequestTooLarge()
    if not request.body_exists:
        return b""
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise errors.RequestTooLarge() from None


async def _serve_action(
    emulator: Emulator,
    request: web.Request,
    action: str,
    key_id: str,
    params: dict[str, str],
    request_id: str,
) -> web.StreamResponse:
    decision = emulator.faults.decide(action, params.get("PhoneNumber"))
    if decision.delay_s > 0:
        await asyncio.sleep(decision.delay_s)
    outcome = decision.outcome
    stats = emulator.stats
    if outcome is Outcome.DROP:
        stats.count(action, Outcome.DROP.value)
        return _drop(request)
    if outcome is Outcome.ERROR_502:
        stats.count(action, Outcome.ERROR_502.value)
        return web.Response(status=502, text=_BAD_GATEWAY_PAGE, content_type="text/html")
    if outcome is Outcome.THROTTLE:
        raise errors.ThrottlingUser()
    if outcome is Outcome.ERROR_500:
        raise errors.InternalError()
    if outcome is Outcome.ERROR_503:
        raise errors.ServiceUnavailable()
    settings = emulator.faults.settings
    if not emulator.flow.allow(key_id, settings.rate_limit, time.monotonic()):
        raise errors.ThrottlingUser()
    ctx = Context(
        emulator.store,
        stats,
        emulator.receipts,
        emulator.config.sign_names,
        settings.daily_limit,
        key_id,
        request_id,
    )
    if action == SEND:
        stats.send_requests += 1
    elif action == CHECK:
        stats.check_requests += 1
    try:
        body = ACTIONS[action](params, ctx, outcome)
    except errors.EmulatorError as error:
        stats.count(action, error.wire_code)
        response = error_response(error, request_id)
    else:
        stats.count(action, "OK" if action == SEND else body["Model"]["VerifyResult"])
        response = json_response(body, 200, {"x-acs-request-id": request_id})
    if outcome is Outcome.HANG:
        await asyncio.sleep(settings.hang_s)
    return response


def _drop(request: web.Request) -> web.StreamResponse:
    """Close the connection without an answer (the client sees it reset or closed)."""
    transport = request.transport
    if transport is not None:
        transport.abort()
    return web.Response(status=204)
