"""The only module that touches the Alibaba Dypnsapi SDK.

It builds one SDK client per process (reused by every thread), sets explicit timeouts, and turns
every SDK exception and response ``Code`` into :mod:`producers.errors`. The SDK is imported lazily,
on first use, so importing ``producers`` stays cheap.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from producers import errors
from producers.effect import Effect, in_thread
from producers.logs import install_redaction
from producers.purposes import Purpose
from producers.settings import Settings, get_settings

PASS = "PASS"  # noqa: S105 - the VerifyResult of a passed check, not a password
#: Threads for ``acheck`` over HTTPS: each holds one check for its round trip (at most the connect
#: plus read timeout), so 64 keep up with 640 checks/s at 100 ms, beyond the default check limit.
PROVIDER_THREADS = 64

# Provider codes by what the caller must do. Codes arrive in a 200 body or as an HTTP error.
_FREQUENCY = {"biz.FREQUENCY", "FREQUENCY_FAIL", "isv.FREQUENCY_FAIL"}
_PERMANENT: dict[str, str] = {
    "BUSINESS_LIMIT_CONTROL": "provider_daily_limit",
    "isv.BUSINESS_LIMIT_CONTROL": "provider_daily_limit",
    "MOBILE_NUMBER_ILLEGAL": "provider_bad_number",
    "isv.MOBILE_NUMBER_ILLEGAL": "provider_bad_number",
    "SECURITY_INTERCEPTED": "provider_bad_number",
    "COUNTRY_BLACKLISTED": "provider_bad_number",
    "INVALID_PARAMETERS": "provider_bad_request",
    "isv.INVALID_PARAMETERS": "provider_bad_request",
    "MissingParameter": "provider_bad_request",
    "InvalidParameter": "provider_bad_request",
    "InvalidSignName": "provider_config",
    "SmsSignNameNotExist": "provider_config",
    "isv.SMS_TEMPLATE_ILLEGAL": "provider_config",
    "MissingTemplateParam": "provider_config",
    "isv.VERIFY_SCHEME_NOT_EXIST": "provider_config",
    "isp.VERIFY_SCHEME_NOT_EXIST": "provider_config",
    "VerifySchemeNotExist": "provider_config",
    "BIZ_NOT_OPEN_STATUS": "provider_account",
    "isv.PRODUCT_UNSUBSCRIBE": "provider_account",
    "isv.PRODUCT_UN_SUBSCRIPT": "provider_account",
    "FUNCTION_NOT_OPENED": "provider_account",
    "OFFER_NOT_ORDER_STATUS": "provider_account",
    "isv.OUT_OF_SERVICE": "provider_account",
    "OutOfService": "provider_account",
    "RESOURCE_NOT_ENOUGH": "provider_account",
    "isv.AMOUNT_NOT_ENOUGH": "provider_account",
    "Unsupported.Account": "provider_account",
    "isv.RAM_PERMISSION_DENY": "provider_auth",
    "RamPermissionDeny": "provider_auth",
    "Forbidden.RAM": "provider_auth",
    "Forbidden": "provider_auth",
    "Forbidden.RiskControl": "provider_auth",
    "Forbidden.UserVerification": "provider_auth",
    "UnauthorizedOperation": "provider_auth",
    "InvalidAccessKeyId.NotFound": "provider_auth",
    "InvalidAccessKeyId.Inactive": "provider_auth",
    "SignatureDoesNotMatch": "provider_auth",
    "IncompleteSignature": "provider_auth",
    "InvalidSignatureMethod": "provider_auth",
    "InvalidCredentials": "provider_auth",
    "InvalidTimeStamp.Expired": "provider_clock",
    "InvalidTimeStamp.Format": "provider_bad_request",
    "InvalidAction.NotFound": "provider_bad_request",
    "InvalidApi.NotFound": "provider_bad_request",
    "InvalidProduct.NotFound": "provider_bad_request",
    "UnsupportedHTTPMethod": "provider_bad_request",
}
_TRANSIENT = {
    "InternalError",
    "SMS_SYSTEM_ERROR",
    "SENTINEL_BLOCK_EXCEPTION",
    "UnknowError",
    "SystemError",
    "ServiceUnavailable",
    "SignatureNonceUsed",
}
_THROTTLING_PREFIX = "Throttling"
# Substrings of the SDK's network error text (it wraps requests' errors into strings) that prove
# the request never reached the provider. Every other network failure is ambiguous.
_NOT_SENT = (
    "NewConnectionError",
    "Connection refused",
    "ConnectTimeout",
    "connect timeout",
    "Failed to resolve",
    "Name or service not known",
    "No route to host",
    "Network is unreachable",
)
_CREDENTIALS_MISSING = ("unable to load credentials", "CredentialException")


def error_for_code(
    code: str, *, status: int | None = None, request_id: str | None = None, retry_after_ms: int | None = None
) -> errors.ProviderError:
    """Map a provider error ``code`` to our error; unknown codes are permanent (never resent)."""
    message = f"provider answered {code}" + (f" (HTTP {status})" if status else "")
    common: dict[str, Any] = {"code": code, "status": status, "request_id": request_id}
    if code.startswith(_THROTTLING_PREFIX):
        retry_after = None if retry_after_ms is None else retry_after_ms / 1000
        return errors.ProviderThrottled(message, retry_after=retry_after, **common)
    if code in _FREQUENCY:
        return errors.ProviderFrequency(message, **common)
    if code in _TRANSIENT or (code not in _PERMANENT and status is not None and status >= 500):
        return errors.ProviderTransient(message, **common)
    error = errors.ProviderPermanent(message, **common)
    error.reason = _PERMANENT.get(code, "provider_rejected")
    return error


def error_for_exception(exc: Exception) -> errors.ProviderError:
    """Map an exception raised by the SDK to our error.

    Only failures before the request left (refused connection, connect timeout, name resolution)
    are plainly transient; any other network failure may hide a processed request, so it is
    ambiguous. The caller raises the result without chaining the SDK's exception: its text carries
    the request URL, whose query holds the phone number and the code.
    """
    status = getattr(exc, "status_code", None) or getattr(exc, "statusCode", None)
    code = getattr(exc, "code", None)
    if status is not None:
        return _error_for_http_error(exc, int(status), None if code in (None, "None") else str(code))
    text = str(getattr(exc, "inner_exception", None) or exc)
    if code == "InvalidCredentials" or any(marker in text for marker in _CREDENTIALS_MISSING):
        # the SDK found no credentials at all: nothing reached the provider
        return errors.ProviderPermanent(
            "no Alibaba credentials found: set ALIBABA_CLOUD_ACCESS_KEY_ID and "
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET, or give this process a RAM role",
            code="InvalidCredentials",
            reason="provider_no_credentials",
        )
    if any(marker in text for marker in _NOT_SENT):
        return errors.ProviderTransient(f"could not connect to the provider ({type(exc).__name__})")
    if "parse the value as json" in text:
        return errors.ProviderTransient("the provider answered with a page that is not JSON", status=502)
    return errors.ProviderAmbiguous(f"no answer from the provider ({type(exc).__name__})")


def _error_for_http_error(exc: Exception, status: int, code: str | None) -> errors.ProviderError:
    """An HTTP 4xx/5xx the SDK raised: by its body's ``Code`` when it has one."""
    if code is None:
        cls = errors.ProviderTransient if status >= 500 else errors.ProviderPermanent
        return cls(f"provider answered HTTP {status} without an error code", status=status)
    request_id = getattr(exc, "request_id", None)
    return error_for_code(
        code,
        status=status,
        request_id=None if request_id in (None, "None") else str(request_id),
        retry_after_ms=getattr(exc, "retry_after", None),
    )


@dataclass(frozen=True, slots=True)
class SendReceipt:
    """The provider accepted a send."""

    biz_id: str
    request_id: str
    latency_s: float


@dataclass(frozen=True, slots=True)
class CheckAnswer:
    """The provider's verdict on a code."""

    passed: bool
    latency_s: float


class DypnsapiProvider:
    """SendSmsVerifyCode and CheckSmsVerifyCode over one reused SDK client."""

    def __init__(self, settings: Settings) -> None:
        try:
            from alibabacloud_dypnsapi20170525.client import Client  # noqa: PLC0415 - lazy: cheap imports
            from alibabacloud_tea_openapi import models as open_api_models  # noqa: PLC0415
        except ModuleNotFoundError:
            raise errors.ConfigurationError(
                "the Alibaba SDK is not installed: pip install 'smsq[direct]' (or 'smsq[worker]'), "
                "or keep SMSQ_CHECK_MODE=worker so that only the workers call Alibaba"
            ) from None

        install_redaction()
        self._settings = settings
        config: dict[str, Any] = {
            "endpoint": settings.aliyun_endpoint,
            "protocol": settings.aliyun_protocol,
            "connect_timeout": int(settings.connect_timeout_s * 1000),
            "read_timeout": int(settings.send_read_timeout_s * 1000),
            "max_idle_conns": 128,
        }
        if settings.access_key_id is not None and settings.access_key_secret is not None:
            config["access_key_id"] = settings.access_key_id.get_secret_value()
            config["access_key_secret"] = settings.access_key_secret.get_secret_value()
        else:
            from alibabacloud_credentials.client import Client as CredentialClient  # noqa: PLC0415

            config["credential"] = CredentialClient()
        self._client = Client(open_api_models.Config(**config))
        # built once: the runtime options of a send and of a check never change (TeaModel builds
        # are not free, and a check's own cost is what a web request waits for)
        self._runtimes = {
            read_timeout_s: _runtime(read_timeout_s, settings.connect_timeout_s)
            for read_timeout_s in (settings.send_read_timeout_s, settings.check_read_timeout_s)
        }

    def send(self, phone: str, *, out_id: str, purpose: Purpose) -> SendReceipt:
        """Ask the provider to generate a code for ``purpose`` and text it; raise a
        ``ProviderError`` otherwise."""
        from alibabacloud_dypnsapi20170525 import models  # noqa: PLC0415

        s = self._settings
        request = models.SendSmsVerifyCodeRequest(
            phone_number=phone,
            sign_name=purpose.sign_name,
            template_code=purpose.template_code,
            template_param=purpose.template_param,
            scheme_name=purpose.scheme_name,
            code_length=purpose.code_length,
            valid_time=purpose.code_ttl_s,
            interval=s.provider_interval_s,
            duplicate_policy=1,  # a newer code replaces an older one: only the latest SMS works
            out_id=out_id,
        )
        body, latency = self._call("send_sms_verify_code_with_options", request, s.send_read_timeout_s)
        model = body.model
        return SendReceipt(
            biz_id=str(getattr(model, "biz_id", "") or ""),
            request_id=str(body.request_id or getattr(model, "request_id", "") or ""),
            latency_s=latency,
        )

    def check(self, phone: str, code: str, *, scheme_name: str | None = None) -> CheckAnswer:
        """Ask the provider whether ``code`` is the number's current code in ``scheme_name``
        (default: SMSQ_SCHEME_NAME)."""
        request, runtime, started = self._check_request(phone, code, scheme_name)
        response = _guarded(self._client.check_sms_verify_code_with_options, request, runtime)
        return _check_answer(_body(response), started)

    async def acheck(self, phone: str, code: str, *, scheme_name: str | None = None) -> CheckAnswer:
        """:meth:`check` without blocking the running event loop: the SDK's asyncio call (aiohttp)
        over HTTP; over HTTPS, the pooled sync call on the provider threads (:data:`PROVIDER_THREADS`).

        Why not the SDK's asyncio call over HTTPS: for every request it builds a new SSL context and
        loads certifi's CA bundle on the event loop (about 30 ms of CPU on the bench machine: a loop
        stall per check), then opens a new TLS connection; the sync client keeps its connections."""
        if self._settings.aliyun_protocol == "https":
            call = functools.partial(self.check, phone, code, scheme_name=scheme_name)
            return await in_thread(call, pool="provider", threads=PROVIDER_THREADS)
        request, runtime, started = self._check_request(phone, code, scheme_name)
        response = await _aguarded(self._client.check_sms_verify_code_with_options_async(request, runtime))
        return _check_answer(_body(response), started)

    def _check_request(self, phone: str, code: str, scheme_name: str | None) -> tuple[Any, Any, float]:
        from alibabacloud_dypnsapi20170525 import models  # noqa: PLC0415

        s = self._settings
        request = models.CheckSmsVerifyCodeRequest(
            phone_number=phone,
            verify_code=code,
            scheme_name=scheme_name or s.scheme_name,
            case_auth_policy=1,
        )
        return request, self._runtime(s.check_read_timeout_s), time.perf_counter()

    def _call(self, method: str, request: Any, read_timeout_s: float) -> tuple[Any, float]:
        started = time.perf_counter()
        response = _guarded(getattr(self._client, method), request, self._runtime(read_timeout_s))
        return _body(response), time.perf_counter() - started

    def _runtime(self, read_timeout_s: float) -> Any:
        return self._runtimes[read_timeout_s]


# The SDK's exception is mapped inside the handler and raised outside it, so no traceback carries
# it: its text holds the request URL, and with it the phone number and the code.


def _guarded(call: Callable[..., Any], *args: Any) -> Any:
    try:
        return call(*args)
    except Exception as exc:
        failure = error_for_exception(exc)
    raise failure


async def _aguarded(pending: Awaitable[Any]) -> Any:
    try:
        return await pending
    except Exception as exc:
        failure = error_for_exception(exc)
    raise failure


def _body(response: Any) -> Any:
    """The answer's body, or the error its ``Code`` names."""
    body = response.body
    code = str(body.code or "")
    if code != "OK":
        raise error_for_code(code or "EmptyCode", status=response.status_code)
    return body


def _check_answer(body: Any, started: float) -> CheckAnswer:
    verdict = getattr(body.model, "verify_result", None)
    return CheckAnswer(passed=verdict == PASS, latency_s=time.perf_counter() - started)


class AskProvider(Effect[bool]):
    """Whether the provider passes ``code`` for ``phone`` in ``scheme`` (one call, no retry)."""

    def __init__(self, phone: str, code: str, scheme: str) -> None:
        self.phone, self.code, self.scheme = phone, code, scheme

    def run(self) -> bool:
        return get_provider().check(self.phone, self.code, scheme_name=self.scheme).passed

    async def arun(self) -> bool:
        return (await get_provider().acheck(self.phone, self.code, scheme_name=self.scheme)).passed


def _runtime(read_timeout_s: float, connect_timeout_s: float) -> Any:
    """The SDK's per-call options: our timeouts, in ms."""
    from alibabacloud_tea_util import models as util_models  # noqa: PLC0415

    return util_models.RuntimeOptions(
        read_timeout=int(read_timeout_s * 1000), connect_timeout=int(connect_timeout_s * 1000)
    )


_lock = threading.Lock()
_providers: dict[int, DypnsapiProvider] = {}


def get_provider() -> DypnsapiProvider:
    """The process's provider client, built on first use (again in a forked child)."""
    pid = os.getpid()
    provider = _providers.get(pid)
    if provider is None:
        with _lock:
            provider = _providers.get(pid)
            if provider is None:
                provider = _providers[pid] = DypnsapiProvider(get_settings())
    return provider


def reset_provider() -> None:
    """Forget the SDK client (see :func:`producers.process.reset_caches`)."""
    _providers.clear()
