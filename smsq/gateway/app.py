"""The HTTP gateway: ``send_code``, ``check_code`` and ``get_status`` for backends not written in Python.

::

    POST /v1/codes           {"phone", "purpose"?, "client_ip"?, "idempotency_key"?, "lane"?} → 202 ticket
    POST /v1/checks          {"phone", "code", "purpose"?, "client_ip"?}                    → 200 result
    GET  /v1/codes/{ticket}  the send's status and delivery, phone masked                   → 200 status
    GET  /healthz            {"status": "ok"} while Redis answers PING, else 503
    GET  /openapi.json       this contract as an OpenAPI 3.1 document (smsq/gateway/openapi.json)
    POST /receipts/{secret}  Alibaba's delivery receipts (only with SMSQ_RECEIPT_PATH_SECRET; no
                             token: see smsq.gateway.receipts), or on a listener of its own

Every error is JSON ``{"error": <class name>, "reason": <stable identifier>, "message": ...}``; a
refusal adds ``rule`` and ``retry_after`` and a ``Retry-After`` header. smsq's errors become HTTP
answers in :mod:`producers.http_answers`, as in every framework integration. The library calls
block (Redis, the provider), so they run in a bounded thread pool owned by the application. One
access line per request, without the body or query string, with anything that looks like a
phone number in the path masked, and without the path of a request that matched no route.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

import redis
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError

from producers import (
    InvalidArgument,
    InvalidCode,
    InvalidPhoneNumber,
    SmsqError,
    check_code,
    get_status,
    mask_phone,
    send_code,
)
from producers.connections import get_redis
from producers.http_answers import HttpAnswer, error_answer
from producers.integrations.common import (
    MAX_BODY_BYTES,
    TICKET_PATTERN,
    forwarded_ip,
    json_object,
    optional,
    required,
    too_large,
)
from producers.records import as_json
from smsq.gateway.openapi import openapi_document
from smsq.gateway.receipts import LOGGED_PATH, ReceiptConfig, add_receipt_route

log = logging.getLogger("smsq.gateway")

#: Threads running the blocking library calls; more requests than this wait for a free thread.
DEFAULT_MAX_WORKERS = 32

_ISSUED_TICKET = re.compile(r"[0-9a-f]{32}")  # what send_code hands out (uuid4().hex)
#: 7+ digits in one path segment, whatever separates them (``_``, ``-``, letters…): masked.
_PHONE_LIKE = re.compile(r"\+?\d(?:[^\d/]*\d){6,}")
#: How a request that matched no route appears in the access log: its path may be a mistyped
#: receipt URL, which carries the path secret.
UNMATCHED_PATH = "<unmatched>"

T = TypeVar("T")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    """How one gateway process serves."""

    #: When set, every /v1 request must carry ``Authorization: Bearer <token>``.
    token: str | None = field(default=None, repr=False)
    #: Take the client IP from the last ``X-Forwarded-For`` hop (set only behind your own proxy).
    trust_forwarded: bool = False
    max_workers: int = DEFAULT_MAX_WORKERS
    #: When set, the gateway also serves the delivery-receipt route (``POST /receipts/{secret}``).
    receipts: ReceiptConfig | None = None


CONFIG = web.AppKey("config", GatewayConfig)
EXECUTOR = web.AppKey("executor", ThreadPoolExecutor)


class GatewayError(Exception):
    """Raised for a request the gateway itself refuses (authentication) before smsq sees it."""

    def __init__(
        self, status: int, error: str, reason: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.reason = reason
        self.headers = headers or {}


# --- errors ----------------------------------------------------------------------------------------


def _json(answer: HttpAnswer) -> web.Response:
    return web.json_response(answer.body, status=answer.status, headers=answer.headers)


def _problem(
    status: int, error: str, reason: str, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    body = {"error": error, "reason": reason, "message": message}
    return web.json_response(body, status=status, headers=headers)


_HTTP_ERRORS = {
    404: ("NotFound", "not_found", "no such endpoint"),
    405: ("MethodNotAllowed", "method_not_allowed", "method not allowed on this endpoint"),
    413: ("InvalidArgument", "body_too_large", f"the body must be at most {MAX_BODY_BYTES} bytes"),
}


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer every failure with JSON: never a traceback, never an HTML page."""
    try:
        return await handler(request)
    except SmsqError as exc:
        return _json(error_answer(exc))
    except GatewayError as exc:
        return _problem(exc.status, exc.error, exc.reason, str(exc), exc.headers)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        error, reason, message = _HTTP_ERRORS.get(exc.status, ("BadRequest", "bad_request", "bad request"))
        allow = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        return _problem(400 if exc.status == 413 else exc.status, error, reason, message, allow)
    except Exception:
        log.exception("unexpected error serving %s %s", request.method, _loggable_path(request))
        return _problem(500, "InternalError", "internal_error", "the gateway failed; see its log")


# --- access log and authentication -----------------------------------------------------------------


def _loggable_path(request: web.Request) -> str:
    """The path, with anything that looks like a phone number masked (tickets are left alone) and
    the receipt route's secret, right or wrong, never shown; no path at all when no route matched."""
    if request.match_info.http_exception is not None:  # 404 or 405 from the router
        return UNMATCHED_PATH
    if request.path.startswith("/receipts/"):
        return LOGGED_PATH
    if _ISSUED_TICKET.fullmatch(request.match_info.get("ticket", "")):
        return request.path
    return _PHONE_LIKE.sub(lambda match: mask_phone(re.sub(r"\D", "", match.group())), request.path)


@web.middleware
async def access_log(request: web.Request, handler: Handler) -> web.StreamResponse:
    """One line per request: peer, method, path (no query, no body), status, duration."""
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except asyncio.CancelledError:
        status = 499  # the client went away
        raise
    finally:
        elapsed_ms = (time.perf_counter() - started) * 1000
        log.info(
            "%s %s %s %d %.1fms", request.remote, request.method, _loggable_path(request), status, elapsed_ms
        )


@web.middleware
async def require_token(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse /v1 requests without the configured bearer token (``/healthz`` stays open)."""
    token = request.app[CONFIG].token
    if token is not None and (request.path == "/v1" or request.path.startswith("/v1/")):
        scheme, _, supplied = request.headers.get("Authorization", "").partition(" ")
        matches = hmac.compare_digest(
            supplied.strip().encode("utf-8", "surrogatepass"), token.encode("utf-8", "surrogatepass")
        )
        if scheme.lower() != "bearer" or not matches:
            raise GatewayError(
                401,
                "Unauthorized",
                "unauthorized",
                "send Authorization: Bearer <token>",
                {"WWW-Authenticate": 'Bearer realm="smsq"'},
            )
    return await handler(request)


class OneLineProtocolErrors(logging.Filter):
    """A request aiohttp's parser refuses (an unknown method, a malformed header…) never reaches the
    application: aiohttp answers its own plain-text 400 and logs the parser's traceback. That is the
    client's garbage, not a failure of ours: log it as one INFO line, without the traceback and
    without the client's bytes (they could forge log lines)."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, RequestPayloadError) and isinstance(error.__cause__, HttpProcessingError):
            error = error.__cause__  # a body that does not decode, met again as aiohttp drains it
        if isinstance(error, HttpProcessingError):
            record.msg, record.args = (
                "%s: unparseable request (%s)",
                (record.getMessage(), type(error).__name__),
            )
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


def quiet_protocol_errors() -> None:
    """Install :class:`OneLineProtocolErrors` on aiohttp's server logger (idempotent)."""
    target = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, OneLineProtocolErrors) for f in target.filters):
        target.addFilter(OneLineProtocolErrors())


# --- request parsing -------------------------------------------------------------------------------


async def _json_object(request: web.Request, allowed: frozenset[str]) -> dict[str, object]:
    """The body as a JSON object with no fields outside ``allowed``."""
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise too_large()
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge as exc:
        raise too_large() from exc
    except (RequestPayloadError, HttpProcessingError, ConnectionResetError) as exc:
        # a Content-Encoding that does not decode, a body cut short: the client's doing, not ours
        raise InvalidArgument("the body could not be read", reason="malformed_json") from exc
    return json_object(raw, request.content_type, allowed)


def _client_ip(request: web.Request) -> str | None:
    """The end user's IP when the body names none: with ``trust_forwarded``, the last
    ``X-Forwarded-For`` hop (the one our own proxy appended; earlier hops are the client's word),
    in canonical form (``producers.ip``); otherwise none. The peer is a backend calling for many
    users, so counting sends and checks against its own address would make all of them share one
    per-IP budget."""
    if not request.app[CONFIG].trust_forwarded:
        return None
    forwarded = ",".join(request.headers.getall("X-Forwarded-For", []))
    return forwarded_ip(None, forwarded, hops=1)


async def _blocking(request: web.Request, call: Callable[[], T]) -> T:
    """Run a blocking library call on the application's thread pool."""
    return await asyncio.get_running_loop().run_in_executor(request.app[EXECUTOR], call)


# --- handlers --------------------------------------------------------------------------------------

_SEND_FIELDS = frozenset({"phone", "purpose", "client_ip", "idempotency_key", "lane"})
_CHECK_FIELDS = frozenset({"phone", "code", "purpose", "client_ip"})


async def post_code(request: web.Request) -> web.Response:
    """Queue a verification SMS (``send_code``); 202 with the ticket."""
    body = await _json_object(request, _SEND_FIELDS)
    phone = required(body, "phone", InvalidPhoneNumber)
    key = optional(body, "idempotency_key")
    header_key = request.headers.get("Idempotency-Key")
    if key is not None and header_key is not None and key != header_key:
        raise InvalidArgument("the Idempotency-Key header and idempotency_key differ")
    call = functools.partial(
        send_code,
        phone,
        purpose=optional(body, "purpose") or "login",
        client_ip=optional(body, "client_ip") or _client_ip(request),
        idempotency_key=key if key is not None else header_key,
        lane=optional(body, "lane") or "default",
    )
    ticket = await _blocking(request, call)
    location = request.app.router["status"].url_for(ticket=ticket.id)
    return web.json_response(as_json(ticket), status=202, headers={"Location": str(location)})


async def post_check(request: web.Request) -> web.Response:
    """Check a code (``check_code``); 200 whether or not it passed."""
    body = await _json_object(request, _CHECK_FIELDS)
    phone = required(body, "phone", InvalidPhoneNumber)
    code = required(body, "code", InvalidCode)
    client_ip = optional(body, "client_ip") or _client_ip(request)
    purpose = optional(body, "purpose")
    call = functools.partial(check_code, phone, code, client_ip=client_ip, purpose=purpose)
    result = await _blocking(request, call)
    return web.json_response(as_json(result))


async def get_code(request: web.Request) -> web.Response:
    """Where a send is (``get_status``)."""
    status = await _blocking(request, functools.partial(get_status, request.match_info["ticket"]))
    return web.json_response(as_json(status))


def _redis_answers() -> bool:
    try:
        return bool(get_redis().ping())
    except (redis.RedisError, OSError):
        return False


async def healthz(request: web.Request) -> web.Response:
    """200 while Redis answers PING, else 503 (for load balancers; no token needed)."""
    if await _blocking(request, _redis_answers):
        return web.json_response({"status": "ok"})
    return web.json_response({"status": "unavailable", "reason": "redis"}, status=503)


async def openapi(request: web.Request) -> web.Response:
    """This gateway's contract, OpenAPI 3.1 (no token needed: it holds no secret)."""
    return web.json_response(openapi_document())


# --- the application -------------------------------------------------------------------------------


async def _thread_pool(app: web.Application) -> AsyncIterator[None]:
    executor = ThreadPoolExecutor(max_workers=app[CONFIG].max_workers, thread_name_prefix="smsq-gateway")
    app[EXECUTOR] = executor
    yield
    # waiting for calls in flight (at most a provider timeout) off the event loop
    shutdown = functools.partial(executor.shutdown, wait=True, cancel_futures=True)
    await asyncio.get_running_loop().run_in_executor(None, shutdown)


def create_app(config: GatewayConfig | None = None) -> web.Application:
    """The gateway as an aiohttp application."""
    app = web.Application(
        client_max_size=MAX_BODY_BYTES, middlewares=[access_log, json_errors, require_token]
    )
    app[CONFIG] = config or GatewayConfig()
    app.router.add_post("/v1/codes", post_code)
    app.router.add_post("/v1/checks", post_check)
    app.router.add_get(f"/v1/codes/{{ticket:{TICKET_PATTERN}}}", get_code, name="status")
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/openapi.json", openapi)
    app.cleanup_ctx.append(_thread_pool)
    receipts = app[CONFIG].receipts
    if receipts is not None:
        add_receipt_route(app, receipts)
    return app


def create_receipt_app(receipts: ReceiptConfig) -> web.Application:
    """Only the delivery-receipt route, for a listener of its own (``smsq gateway --receipt-port``):
    the one port to publish to the internet, while the rest of the gateway stays internal."""
    app = web.Application(middlewares=[access_log, json_errors])
    add_receipt_route(app, receipts)
    return app
