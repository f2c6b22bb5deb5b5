"""Configuration: every ``SMSQ_*`` environment variable, read and checked in this one module.

``get_settings()`` builds a typed, validated object once per process; ``configure()`` sets it from
code instead (Django's ``SMSQ = {...}``, a test), values given there winning over the environment.
Every value is parsed when the settings load, never at first use: rates become
:class:`~producers.limits.Rate` records, lanes a map of them, safe numbers their 11-digit form. A bad
value raises :class:`~producers.errors.ConfigurationError` with one line that names the variable,
what is wrong and the expected form. Units are in the names (``_s`` seconds); secrets (keys, tokens,
URLs that may carry a password) are :class:`pydantic.SecretStr`, masked in ``repr`` and never echoed
in an error.

Phone numbers never reach Redis in the clear: ``SMSQ_HASH_KEYS`` key the hashes that name Redis
keys, ``SMSQ_ENCRYPTION_KEYS`` seal the number in a queued send (see :mod:`producers.keyring`).
Their form is checked here; the parts that touch a number refuse to run without them.

Alibaba credentials come from ``ALIBABA_CLOUD_ACCESS_KEY_ID`` / ``_SECRET`` when set (passed to the
SDK explicitly), otherwise from the ``alibabacloud-credentials`` default chain (RAM role, profile…).
"""

from __future__ import annotations

import base64
import dataclasses
import json
import re
import threading
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal, get_args
from urllib.parse import urlsplit

from pydantic import BeforeValidator, Field, PrivateAttr, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from redis import connection as redis_connection

from producers.constants import (
    CHECK_LIMIT_SCOPES,
    CHECK_QUEUE,
    DEFAULT_RECEIPT_WAIT_S,
    DEFAULT_SCHEME_NAME,
    SEND_LIMIT_SCOPES,
    TASK_TIME_LIMIT_S,
    queue_for_lane,
)
from producers.errors import ConfigurationError, InvalidInput, UnknownPurpose
from producers.limits import Rate, parse_rate, parse_rates
from producers.phone import normalize_phone
from producers.purposes import Purpose, PurposeSpec, parse_purposes, resolve_purposes

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DEFAULT_ENDPOINT = "dypnsapi.aliyuncs.com"
#: The preset signature and template that Alibaba gives individual developers.
DEFAULT_SIGN_NAME = "速通互联验证码"
DEFAULT_TEMPLATE_CODE = "100001"

#: One task run retries until the send's deadline, and its last provider call may start just before
#: it: deadline + connect + read timeout must end well inside the task time limit, so a run is
#: bounded by smsq itself (the thread pool never enforces Celery's time limits).
MAX_SEND_DEADLINE_S = TASK_TIME_LIMIT_S - 30

#: The shortest hash key accepted: 32 characters (``openssl rand -hex 32`` gives 64).
MIN_HASH_KEY_CHARS = 32

_ENV_PREFIX = "SMSQ_"
_LANE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
#: The receipt route's path secret: long enough that guessing it is hopeless, safe in a URL path.
MIN_RECEIPT_SECRET_CHARS = 32
_RECEIPT_SECRET = re.compile(rf"[A-Za-z0-9_-]{{{MIN_RECEIPT_SECRET_CHARS},256}}")


# --- parsers: environment text -> typed values (each raises ValueError with the expected form) -----


def _items(value: object) -> object:
    """``"a,b"`` (environment) as a list; a list or set given in code passes through."""
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


def _rates(value: object) -> object:
    if isinstance(value, str):
        try:
            return parse_rates(value)
        except InvalidInput as exc:
            raise ValueError(
                f"{exc} (expected rules like 1/minute;5/hour;10/day, or empty for none)"
            ) from None
    return value


def _optional_rate(value: object) -> object:
    if isinstance(value, str):
        if not value.strip():
            return None
        try:
            return parse_rate(value)
        except InvalidInput as exc:
            raise ValueError(f"{exc} (expected one rule like 400/second, or empty for none)") from None
    return value


def _lanes(value: object) -> object:
    expected = 'expected a JSON object of lane to rate, e.g. {"default": "50/second"}'
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ValueError(f"not valid JSON ({expected})") from None
    if not isinstance(value, Mapping) or not value:
        raise ValueError(f"must be a non-empty JSON object ({expected})")
    lanes: dict[str, Rate] = {}
    for name, rate in value.items():
        if not isinstance(name, str) or not _LANE_NAME.match(name):
            raise ValueError(f"lane name {str(name)[:40]!r} must be 1-32 of a-z, 0-9, _ and - ({expected})")
        if queue_for_lane(name) == CHECK_QUEUE:
            raise ValueError(f"lane name {name!r} is taken: its queue would be the check queue ({expected})")
        if isinstance(rate, Rate):
            lanes[name] = rate
            continue
        if not isinstance(rate, str):
            raise ValueError(f"lane {name!r}: the rate must be a string ({expected})")
        try:
            lanes[name] = parse_rate(rate)
        except InvalidInput as exc:
            raise ValueError(f"lane {name!r}: {exc} ({expected})") from None
    return lanes


def _phones(value: object) -> object:
    numbers = _items(value)
    if not isinstance(numbers, list | set | frozenset | tuple):
        return numbers
    normalised = []
    for number in numbers:
        try:
            normalised.append(normalize_phone(number))
        except InvalidInput:
            raise ValueError(
                "an entry is not a mainland China mobile number (expected numbers like "
                "13511112222 or +86 135-1111-2222, comma separated)"
            ) from None
    return frozenset(normalised)


def _prefixes(value: object) -> object:
    prefixes = _items(value)
    if isinstance(prefixes, list | set | frozenset | tuple):
        for prefix in prefixes:
            if not (isinstance(prefix, str) and len(prefix) == 7 and prefix.isdigit() and prefix[0] == "1"):
                raise ValueError("an entry is not a 7-digit mobile prefix (expected e.g. 1351111,1352222)")
        return frozenset(prefixes)
    return prefixes


def _redis_url(value: object) -> object:
    expected = "expected redis://[:password@]host:port/db, rediss://… or unix:///path"
    if isinstance(value, str):
        try:
            redis_connection.parse_url(value)  # type: ignore[no-untyped-call]
        except (ValueError, TypeError):
            # never the exception's text: it may quote the URL, and with it the password
            raise ValueError(f"not a Redis URL ({expected})") from None
        database = urlsplit(value).path.strip("/")
        if not value.startswith("unix:") and database and not database.isdigit():
            # redis-py ignores such a path; kombu fails on it at the first publish, untyped
            raise ValueError(f"the database is not a number ({expected})")
    return value


def _kombu_problem(url: str) -> str | None:
    """Why kombu cannot even parse ``url`` (it connects later), in words that quote no part of it."""
    from kombu.connection import Connection  # noqa: PLC0415 - loaded with the settings only, not on import

    parts = urlsplit(url)
    if parts.scheme == "unix":
        return "it has no unix:// transport; set SMSQ_BROKER_URL to a redis:// URL of the same server"
    try:
        Connection(url)  # type: ignore[no-untyped-call]
    except (TypeError, KeyError, ValueError):
        names = sorted(
            {name for name, _, _ in (item.partition("=") for item in parts.query.split("&")) if name}
        )
        shown = ", ".join(name[:30] for name in names if re.fullmatch(r"[A-Za-z0-9_]+", name))
        return f"query option(s) {shown or 'in the URL'} are not broker options; remove them"
    return None


# Not sentinel://: kombu's needs a master_name transport option smsq has no setting for.
_BROKER_SCHEMES = frozenset({"redis", "rediss", "amqp", "amqps", "pyamqp"})

_ENDPOINT = re.compile(r"(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")


def _endpoint(value: object) -> object:
    """A host with an optional port: the SDK adds the scheme (SMSQ_ALIYUN_PROTOCOL) and the path."""
    if isinstance(value, str) and not _ENDPOINT.fullmatch(value):
        raise ValueError("expected host[:port] without a scheme, a path or spaces (dypnsapi.aliyuncs.com)")
    return value


def _not_blank(value: object) -> object:
    if isinstance(value, str) and not value.strip():
        raise ValueError("must not be empty")
    return value


def _broker_url(value: object) -> object:
    if isinstance(value, str):
        if not value.strip():
            return None
        schemes = ", ".join(sorted(_BROKER_SCHEMES))
        expected = f"expected a URL of scheme {schemes}, or empty for SMSQ_REDIS_URL"
        try:
            parts = urlsplit(value)
            port = parts.port  # raises ValueError for a port that is not a number
        except ValueError:
            raise ValueError(f"not a broker URL ({expected})") from None
        if parts.scheme not in _BROKER_SCHEMES or not (parts.hostname or port):
            raise ValueError(f"not a broker URL ({expected})")
        if parts.scheme in {"redis", "rediss"}:
            _redis_url(value)
    return value


def _secret_list(value: object, *, what: str, check: Callable[[str], bool]) -> object:
    """Comma-separated secrets (a list or tuple given in code) as SecretStr, current first.
    Messages say which entry is wrong, never what it holds."""
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list | tuple):
        raise ValueError(f"must be {what}, comma separated")
    keys: list[SecretStr] = []
    for position, item in enumerate(value, start=1):
        text = item.get_secret_value() if isinstance(item, SecretStr) else item
        if not isinstance(text, str):
            raise ValueError(f"entry {position} must be text ({what})")
        text = text.strip()
        if not text:
            if len(value) == 1:
                break  # an empty variable: none configured
            raise ValueError(f"entry {position} is empty (a stray comma?)")
        if not check(text):
            raise ValueError(f"entry {position} is not {what}")
        keys.append(SecretStr(text))
    return tuple(keys)


def _hash_keys(value: object) -> object:
    return _secret_list(value, what=f"a key of at least {MIN_HASH_KEY_CHARS} characters", check=_long_enough)


def _encryption_keys(value: object) -> object:
    return _secret_list(value, what="a Fernet key (32 url-safe base64 bytes)", check=_is_fernet_key)


def _long_enough(text: str) -> bool:
    return len(text) >= MIN_HASH_KEY_CHARS and "," not in text


def _is_fernet_key(text: str) -> bool:
    try:
        return len(base64.urlsafe_b64decode(text.encode("ascii"))) == 32
    except (ValueError, UnicodeEncodeError):  # binascii.Error is a ValueError
        return False


def _receipt_secret(value: object) -> object:
    expected = (
        f"expected at least {MIN_RECEIPT_SECRET_CHARS} of A-Z, a-z, 0-9, _ and -, e.g. `openssl rand -hex 32`"
    )
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str) or not _RECEIPT_SECRET.fullmatch(value):
        raise ValueError(f"not a usable path secret ({expected})")
    return SecretStr(value)


def _template_param(value: object) -> object:
    expected = 'expected a JSON object with a "##code##" value, e.g. {"code":"##code##","min":"##min##"}'
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            raise ValueError(f"not valid JSON ({expected})") from None
        if not isinstance(parsed, dict) or "##code##" not in parsed.values():
            raise ValueError(expected)
    return value


def _purposes(value: object) -> object:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return parse_purposes(value)


Rates = Annotated[tuple[Rate, ...], NoDecode, BeforeValidator(_rates)]
OptionalRate = Annotated[Rate | None, NoDecode, BeforeValidator(_optional_rate)]
Names = Annotated[frozenset[str], NoDecode, BeforeValidator(_items)]
Phones = Annotated[frozenset[str], NoDecode, BeforeValidator(_phones)]
Prefixes = Annotated[frozenset[str], NoDecode, BeforeValidator(_prefixes)]
Lanes = Annotated[dict[str, Rate], NoDecode, BeforeValidator(_lanes)]
TemplateParam = Annotated[str, BeforeValidator(_template_param)]
RedisUrl = Annotated[SecretStr, BeforeValidator(_redis_url)]
BrokerUrl = Annotated[SecretStr | None, BeforeValidator(_broker_url)]
HashKeys = Annotated[tuple[SecretStr, ...], NoDecode, BeforeValidator(_hash_keys)]
EncryptionKeys = Annotated[tuple[SecretStr, ...], NoDecode, BeforeValidator(_encryption_keys)]
ReceiptSecret = Annotated[SecretStr | None, BeforeValidator(_receipt_secret)]
Purposes = Annotated[dict[str, PurposeSpec] | None, NoDecode, BeforeValidator(_purposes)]


class Settings(BaseSettings):
    """Everything smsq reads from the environment, parsed and checked."""

    model_config = SettingsConfigDict(
        env_prefix=_ENV_PREFIX,
        extra="ignore",
        frozen=True,
        validate_default=True,
        # a settings error never prints what it was given: some values are secrets
        hide_input_in_errors=True,
    )

    # --- Redis: state store and, unless told otherwise, the Celery broker -------------------------
    redis_url: RedisUrl = SecretStr(DEFAULT_REDIS_URL)
    #: Defaults to redis_url; amqp:// also works (producers publish through Celery).
    broker_url: BrokerUrl = None
    #: A Redis that does not accept the connection this soon is down: send_code raises
    #: ServiceUnavailable after it (a refused connection fails at once).
    redis_connect_timeout_s: float = Field(default=1.0, gt=0, le=30)
    #: An answer from Redis slower than this is a failure (a stalled or half-open connection).
    redis_timeout_s: float = Field(default=5.0, gt=0, le=60)

    # --- personal data in Redis (producers.keyring): comma separated, the current key first ------
    #: HMAC-SHA256 keys naming the Redis keys derived from a phone number or a client IP; older
    #: keys after the first still find what they named during a rotation. 32+ characters each.
    hash_keys: HashKeys = ()
    #: Fernet keys sealing the phone number of a queued send; older keys after the first still open.
    encryption_keys: EncryptionKeys = ()

    # --- Alibaba Dypnsapi ---------------------------------------------------------------------------
    aliyun_endpoint: Annotated[str, BeforeValidator(_endpoint)] = DEFAULT_ENDPOINT
    aliyun_protocol: Literal["https", "http"] = "https"
    access_key_id: SecretStr | None = Field(default=None, validation_alias="ALIBABA_CLOUD_ACCESS_KEY_ID")
    access_key_secret: SecretStr | None = Field(
        default=None, validation_alias="ALIBABA_CLOUD_ACCESS_KEY_SECRET"
    )
    # The values below are every purpose's defaults (see SMSQ_PURPOSES).
    sign_name: Annotated[str, BeforeValidator(_not_blank)] = DEFAULT_SIGN_NAME
    template_code: Annotated[str, BeforeValidator(_not_blank)] = DEFAULT_TEMPLATE_CODE
    #: ``##code##`` is where Alibaba puts the code it generates; ``##min##`` becomes the code's
    #: validity in whole minutes (the purpose's ``code_ttl_s``), as template 100001's ``min`` says.
    template_param: TemplateParam = '{"code":"##code##","min":"##min##"}'
    scheme_name: str = Field(default=DEFAULT_SCHEME_NAME, min_length=1, max_length=20)
    #: Digits of the code Alibaba generates: 6, as Twilio Verify's default and NIST SP 800-63B ask.
    code_length: int = Field(default=6, ge=4, le=8)
    code_ttl_s: int = Field(default=300, ge=60, le=3600)  # Dypnsapi ValidTime
    provider_interval_s: int = Field(default=60, ge=10, le=3600)  # Dypnsapi Interval (resend gap)
    #: JSON object purpose -> its sign_name, template_code, template_param, scheme_name, and
    #: optionally code_length, code_ttl_s and limits; the values above fill what one leaves out.
    #: Unset: any purpose name is accepted, all with the values above (one scheme).
    purposes: Purposes = None

    # --- timeouts and retries -----------------------------------------------------------------------
    connect_timeout_s: float = Field(default=2.0, gt=0, le=60)
    send_read_timeout_s: float = Field(default=5.0, gt=0, le=60)
    check_read_timeout_s: float = Field(default=3.0, gt=0, le=60)
    #: A code that reaches the phone later than this after send_code() is useless: give up.
    send_deadline_s: int = Field(default=120, ge=10)
    retry_initial_s: float = Field(default=0.2, gt=0)
    retry_max_s: float = Field(default=5.0, gt=0)
    check_attempts: int = Field(default=2, ge=1, le=5)  # transient retries of CheckSmsVerifyCode

    # --- how check_code reaches the provider ----------------------------------------------------
    #: ``worker``: a synchronous RPC to the check workers (``smsq worker --check``), which hold the
    #: Alibaba key, so web processes and the gateway need none. ``direct``: the SDK in-process
    #: (needs ``smsq[direct]`` and the key wherever check_code runs).
    check_mode: Literal["worker", "direct"] = "worker"
    #: Worker mode: how long check_code waits for a check worker's answer before it raises
    #: ServiceUnavailable (and gives the attempt back unless a worker was already asking).
    check_timeout_s: float = Field(default=5.0, gt=0, le=60)

    #: How long a run's claim on a send lasts unless renewed (its process renews it every third of
    #: it): a send whose worker died mid-call is taken over by another worker about this soon.
    run_lease_s: float = Field(default=10.0, ge=3, le=120)

    # --- send records ---------------------------------------------------------------------------------
    record_ttl_s: int = Field(default=86_400, ge=600, le=31_536_000)

    # --- abuse limits ("N/period;…", see producers.limits) ------------------------------------------
    phone_limits: Rates = "1/minute;5/hour;10/day"  # type: ignore[assignment]
    ip_limits: Rates = "20/hour;100/day"  # type: ignore[assignment]
    prefix_limits: Rates = "200/hour"  # type: ignore[assignment]
    purpose_limits: Rates = ""  # type: ignore[assignment]
    account_daily_budget: int | None = Field(default=None, ge=1)
    #: Rules that only log and count, never refuse: a scope ("prefix") or one rule ("prefix:200/hour").
    monitor_rules: Names = frozenset()
    #: Numbers that bypass every abuse limit (test numbers), in any form phonenumbers reads.
    safe_numbers: Phones = frozenset()

    # --- the pumping breaker (producers.pumping): conversion per 7-digit prefix and purpose -------
    #: enforce: refuse sends to a tripped prefix; monitor: log and count a trip, refuse nothing.
    pumping_mode: Literal["enforce", "monitor", "off"] = "enforce"
    #: The breaker judges a prefix (per purpose) only once its window holds this many sends.
    pumping_min_sends: int = Field(default=30, ge=5, le=100_000)
    #: It trips when verified / sent in the window falls below this.
    pumping_min_conversion: float = Field(default=0.2, gt=0, lt=1)
    #: With delivery receipts on: it also trips when delivered / sent (sends older than a minute)
    #: falls below this. 0 (the default) judges verifications only.
    pumping_min_delivery: float = Field(default=0.0, ge=0, lt=1)
    pumping_window_s: int = Field(default=3600, ge=60, le=86_400)
    #: How long the first trip refuses; each further trip of the prefix within a day doubles it.
    pumping_cooldown_s: int = Field(default=1800, ge=10, le=86_400)
    pumping_max_cooldown_s: int = Field(default=43_200, ge=10, le=7 * 86_400)
    #: 7-digit prefixes the breaker never judges (your own test ranges, a partner's block).
    pumping_safe_prefixes: Prefixes = frozenset()

    #: Wrong answers one code accepts; then it is locked until it expires or a new code is sent.
    check_max_failures: int = Field(default=5, ge=1)
    #: Checks per client IP (IPv6 per /64), whatever their answer; 5x the per-IP sends by default, so
    #: every code an IP may ask for can take its full share of answers.
    check_ip_limits: Rates = "100/hour;500/day"  # type: ignore[assignment]
    #: Checks by everyone: a legitimate check follows a send, so the sends' account rate by default.
    check_limits: Rates = "400/second"  # type: ignore[assignment]

    # --- lanes and the shared upstream rate ---------------------------------------------------------
    #: JSON object lane -> "N/period", e.g. {"default": "50/second", "login": "100/second"}.
    lanes: Lanes = '{"default": "50/second"}'  # type: ignore[assignment]
    #: The account-wide cap on provider calls, under Dypnsapi's 500 requests/s; empty for none.
    account_rate: OptionalRate = "400/second"  # type: ignore[assignment]
    #: A limiter wait up to this long sleeps in the task; a longer one re-queues with a countdown.
    limiter_max_sleep_s: float = Field(default=0.5, ge=0, le=60)

    # --- metrics ------------------------------------------------------------------------------------
    metrics_port: int = Field(default=9808, ge=0, le=65535)  # 0 disables the worker's /metrics server
    metrics_host: str = "127.0.0.1"  # 0.0.0.0 in containers, where Prometheus scrapes from outside
    #: The worker touches this file at every Celery heartbeat; `smsq worker --healthcheck` reads it.
    heartbeat_file: str = "/tmp/smsq-worker.heartbeat"  # noqa: S108 - a liveness marker, no data

    # --- HTTP gateway -------------------------------------------------------------------------------
    #: When set, every /v1 request to `smsq gateway` must carry ``Authorization: Bearer <token>``.
    gateway_token: SecretStr | None = None

    # --- delivery receipts (Alibaba's HTTP batch push, see smsq.gateway.receipts) -------------------
    #: The random path segment of the receipt route, ``/receipts/<secret>`` (Alibaba sends no header
    #: we could check). Unset: the gateway serves no receipt route at all.
    receipt_path_secret: ReceiptSecret = None
    #: A sent send with no receipt this long after ``sent`` reads as delivery ``unknown``. Alibaba
    #: retries a failed push 1, 5 and 10 minutes later, so 20 minutes covers its whole schedule.
    receipt_wait_s: int = Field(default=DEFAULT_RECEIPT_WAIT_S, ge=60, le=86_400)
    #: The receiver's own Redis deadline: past it the push gets a 503 and Alibaba retries. Alibaba
    #: counts a push as failed after 700 ms, so this stays well below that.
    receipt_deadline_s: float = Field(default=0.3, gt=0, le=0.5)

    # --- web integrations (producers.integrations) --------------------------------------------------
    #: Django only, which has no proxy handling of its own: how many reverse proxies you run append
    #: to X-Forwarded-For; the client IP is the entry that many from the right. 0: never trust it.
    #: (Flask and FastAPI take the client IP from Werkzeug's ProxyFix / uvicorn's proxy headers.)
    trusted_proxy_hops: int = Field(default=0, ge=0, le=10)

    _purposes: dict[str, Purpose] = PrivateAttr(default_factory=dict)
    #: Any purpose without SMSQ_PURPOSES, resolved once (only its name differs from one to the
    #: next), with the global fields it was resolved from: a ``model_copy(update=...)`` copies it.
    _open_purpose: tuple[tuple[object, ...], Purpose] | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if self.send_deadline_s > self.code_ttl_s:
            raise ValueError(
                f"SMSQ_SEND_DEADLINE_S ({self.send_deadline_s}) must not exceed SMSQ_CODE_TTL_S "
                f"({self.code_ttl_s}): a code delivered after it expires is useless"
            )
        self._purposes = resolve_purposes(self.purposes, defaults=self._purpose_defaults())
        for purpose in self._purposes.values():
            if self.send_deadline_s > purpose.code_ttl_s:
                raise ValueError(
                    f"SMSQ_PURPOSES: purpose {purpose.name!r}: code_ttl_s ({purpose.code_ttl_s}) must not "
                    f"be below SMSQ_SEND_DEADLINE_S ({self.send_deadline_s})"
                )
        run_bound = self.send_deadline_s + self.connect_timeout_s + self.send_read_timeout_s
        if run_bound > MAX_SEND_DEADLINE_S:
            raise ValueError(
                f"SMSQ_SEND_DEADLINE_S + SMSQ_CONNECT_TIMEOUT_S + SMSQ_SEND_READ_TIMEOUT_S ({run_bound:g}) "
                f"must be at most {MAX_SEND_DEADLINE_S}: a task run retries until the deadline, and its "
                "last call must end inside the run's time limit"
            )
        if self.pumping_cooldown_s > self.pumping_max_cooldown_s:
            raise ValueError("SMSQ_PUMPING_COOLDOWN_S must not exceed SMSQ_PUMPING_MAX_COOLDOWN_S")
        self._check_monitor_rules()
        self._check_broker()
        return self

    def _check_broker(self) -> None:
        """The broker URL (SMSQ_REDIS_URL unless SMSQ_BROKER_URL is set) must be one Celery's broker
        client can use: redis-py reads forms kombu refuses (``unix://``, query options such as
        ``?password=`` or ``?socket_timeout=``), and those failed only at the first send, untyped."""
        variable = "SMSQ_BROKER_URL" if self.broker_url is not None else "SMSQ_REDIS_URL (the broker too)"
        problem = _kombu_problem(self.broker_dsn)
        if problem is not None:
            raise ValueError(f"{variable}: the broker client (kombu) cannot use it: {problem}")

    def _check_monitor_rules(self) -> None:
        configured = self.limit_scopes()
        for rule in sorted(self.monitor_rules):
            scope, _, rate = rule.partition(":")
            if scope not in configured:
                raise ValueError(
                    f"SMSQ_MONITOR_RULES: {rule[:60]!r} names no limit scope "
                    f"(expected one of {', '.join(SEND_LIMIT_SCOPES)}, or scope:rule like prefix:200/hour)"
                )
            if rate and rate not in {str(item) for item in configured[scope]}:
                shown = ", ".join(f"{scope}:{item}" for item in configured[scope]) or "none configured"
                raise ValueError(f"SMSQ_MONITOR_RULES: {rule[:60]!r} is not a configured rule ({shown})")

    def _purpose_defaults(self) -> PurposeSpec:
        return PurposeSpec(
            sign_name=self.sign_name,
            template_code=self.template_code,
            template_param=self.template_param,
            scheme_name=self.scheme_name,
            code_length=self.code_length,
            code_ttl_s=self.code_ttl_s,
            limits=self.purpose_limits,
        )

    def purpose(self, name: str) -> Purpose:
        """The resolved configuration of purpose ``name``; raises
        :class:`~producers.errors.UnknownPurpose` when SMSQ_PURPOSES is set and does not name it."""
        purpose = self._purposes.get(name)
        if purpose is not None:
            return purpose
        if self.purposes is not None:
            raise UnknownPurpose(f"purpose {name[:40]!r} is not configured (SMSQ_PURPOSES)")
        # resolved once, not per call: every send and every run asks, and building the defaults
        # (a pydantic model) cost more than the rest of a run's own work
        fields: tuple[object, ...] = (
            *(self.sign_name, self.template_code, self.template_param, self.scheme_name),
            *(self.code_length, self.code_ttl_s, self.purpose_limits),
        )
        if self._open_purpose is None or self._open_purpose[0] != fields:
            self._open_purpose = (fields, Purpose.of("", self._purpose_defaults()))
        return dataclasses.replace(self._open_purpose[1], name=name)

    @property
    def default_scheme(self) -> str:
        """The scheme a check without a purpose verifies in (SMSQ_SCHEME_NAME)."""
        return self.scheme_name

    def check_limit_scopes(self) -> dict[str, tuple[Rate, ...]]:
        """The limits on checks, by scope (``constants.CHECK_LIMIT_SCOPES``)."""
        return dict(zip(CHECK_LIMIT_SCOPES, (self.check_ip_limits, self.check_limits), strict=True))

    def limit_scopes(self) -> dict[str, tuple[Rate, ...]]:
        """The abuse rules on sends, by scope (``account`` only with a daily budget)."""
        scopes = {
            "phone": self.phone_limits,
            "ip": self.ip_limits,
            "prefix": self.prefix_limits,
            "purpose": self.purpose_limits,
            "account": (),
        }
        if self.account_daily_budget:
            scopes["account"] = (Rate(self.account_daily_budget, 86_400),)
        return scopes

    @property
    def redis_dsn(self) -> str:
        """The Redis URL itself (it may carry a password: never print it; see ``redacted_url``)."""
        return self.redis_url.get_secret_value()

    @property
    def broker_dsn(self) -> str:
        """The Celery broker URL: ``broker_url`` when set, else the Redis store."""
        return self.broker_url.get_secret_value() if self.broker_url else self.redis_dsn

    @property
    def has_static_keys(self) -> bool:
        """True when an explicit access key pair is configured."""
        return self.access_key_id is not None and self.access_key_secret is not None


def redacted_url(url: str) -> str:
    """``url`` for banners and logs: its user part (up to the last ``@``, whatever the password
    holds) shown as ``user:***``, and any ``password=`` query value as ``***``. Never raises."""
    scheme, separator, rest = url.partition("://")
    if not separator:
        return "<not a URL>"
    head, question, query = rest.partition("?")
    userinfo, at, host = head.rpartition("@")
    if at:
        user, colon, _ = userinfo.partition(":")
        head = f"{user}:***@{host}" if colon else f"***@{host}"
    query = re.sub(r"(?i)((?:^|&)pass(?:word|wd)?=)[^&]*", r"\1***", query)
    return f"{scheme}://{head}{question}{query}"


# --- one settings object per process --------------------------------------------------------------

_lock = threading.Lock()
_current: Settings | None = None


def get_settings() -> Settings:
    """The process's settings: as ``configure()`` set them, else read from the environment once.

    Raises :class:`~producers.errors.ConfigurationError` naming the first bad variable."""
    global _current  # noqa: PLW0603 - the one per-process settings object, see reset_settings()
    current = _current
    if current is None:
        with _lock:
            if _current is None:
                _current = _build({})
            current = _current
    return current


def configure(values: Mapping[str, Any] | None = None, **fields: Any) -> Settings:
    """Set this process's settings from code and return them.

    Keys are setting names (``redis_url``) or their variables (``SMSQ_REDIS_URL``, either case);
    values given here win over the environment, and everything not given is read from it. Call it
    once, before the first send or check (Django: from ``AppConfig.ready()``)."""
    global _current  # noqa: PLW0603
    given = {**(values or {}), **fields}
    settings = _build({_field_name(key): value for key, value in given.items()})
    with _lock:
        _current = settings
    return settings


def reset_settings() -> None:
    """Forget the settings (see :func:`producers.process.reset_caches`)."""
    global _current  # noqa: PLW0603
    with _lock:
        _current = None


#: Settings read from variables outside the SMSQ_ prefix: variable (lower case) -> setting.
_ALIASES = {
    "alibaba_cloud_access_key_id": "access_key_id",
    "alibaba_cloud_access_key_secret": "access_key_secret",
}


def shown_setting(key: str, value: object) -> object:
    """The setting ``key``'s ``value`` as it may be shown: a URL without its password, a secret as
    ``***``, anything else as given (``settings.SMSQ`` in Django's error pages and mails, which
    hide only names that look secret, and ``REDIS_URL`` does not)."""
    name = _field_name(key)
    if name in {"redis_url", "broker_url"} and isinstance(value, str):
        return redacted_url(value)
    return "***" if _holds_secret(Settings.model_fields[name].annotation) else value


def _holds_secret(annotation: object) -> bool:
    return annotation is SecretStr or any(_holds_secret(arg) for arg in get_args(annotation))


def _field_name(key: object) -> str:
    if not isinstance(key, str):
        raise ConfigurationError(f"{type(key).__name__} key: a smsq setting is named by a string")
    name = key.lower()
    if name.startswith(_ENV_PREFIX.lower()):
        name = name[len(_ENV_PREFIX) :]
    name = _ALIASES.get(name, name)
    if name not in Settings.model_fields:
        raise ConfigurationError(f"{key}: not a smsq setting")
    return name


def _build(values: dict[str, Any]) -> Settings:
    try:
        aliased: dict[str, Any] = {}
        for name, value in values.items():
            alias = Settings.model_fields[name].validation_alias
            aliased[alias if isinstance(alias, str) else name] = value
        return Settings(**aliased)
    except ValidationError as exc:
        raise ConfigurationError(_one_line(exc)) from None


def _variable(loc: tuple[int | str, ...]) -> str:
    """The environment variable an error location refers to."""
    if not loc:
        return ""
    name = str(loc[0])
    if name.isupper():  # an alias such as ALIBABA_CLOUD_ACCESS_KEY_ID
        return name
    return f"{_ENV_PREFIX}{name.upper()}"


def _one_line(exc: ValidationError) -> str:
    """The first error as ``VARIABLE: problem``, on one line; model-level errors name their own."""
    errors = exc.errors(include_input=False, include_url=False)
    first = errors[0]
    message = str(first["msg"]).removeprefix("Value error, ")
    variable = _variable(tuple(first["loc"]))
    line = f"{variable}: {message}" if variable else message
    if len(errors) > 1:
        line += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return line.replace("\n", " ")
