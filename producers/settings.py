"""Configuration: every ``SMSQ_*`` environment variable, read in this one module.

``get_settings()`` builds a typed, validated object once per process. Units are in the names
(``_s`` seconds, ``_ms`` milliseconds); secrets are :class:`pydantic.SecretStr`, masked in ``repr``.
Alibaba credentials come from ``ALIBABA_CLOUD_ACCESS_KEY_ID`` / ``_SECRET`` when set (passed to the
SDK explicitly), otherwise from the ``alibabacloud-credentials`` default chain (RAM role, profile…).
"""

from __future__ import annotations

import functools
import json
import re
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from producers.constants import TASK_TIME_LIMIT_S

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DEFAULT_ENDPOINT = "dypnsapi.aliyuncs.com"
#: The preset signature and template that Alibaba gives individual developers (DESIGN.md).
DEFAULT_SIGN_NAME = "速通互联验证码"
DEFAULT_TEMPLATE_CODE = "100001"
DEFAULT_SCHEME_NAME = "默认方案"

#: One task run may retry until the send's deadline; it must end well inside the task time limit.
MAX_SEND_DEADLINE_S = TASK_TIME_LIMIT_S - 30

_LANE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


def _split_list(value: object) -> object:
    """Accept ``"a,b"`` (environment) as well as a list (code)."""
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class Settings(BaseSettings):
    """Everything smsq reads from the environment."""

    model_config = SettingsConfigDict(env_prefix="SMSQ_", extra="ignore", frozen=True)

    # --- Redis: state store and, unless told otherwise, the Celery broker -------------------------
    redis_url: str = DEFAULT_REDIS_URL
    broker_url: str | None = None  # defaults to redis_url; amqp:// also works (producers publish via Celery)

    # --- Alibaba Dypnsapi ---------------------------------------------------------------------------
    aliyun_endpoint: str = DEFAULT_ENDPOINT
    aliyun_protocol: Literal["https", "http"] = "https"
    access_key_id: SecretStr | None = Field(default=None, validation_alias="ALIBABA_CLOUD_ACCESS_KEY_ID")
    access_key_secret: SecretStr | None = Field(
        default=None, validation_alias="ALIBABA_CLOUD_ACCESS_KEY_SECRET"
    )
    sign_name: str = DEFAULT_SIGN_NAME
    template_code: str = DEFAULT_TEMPLATE_CODE
    #: ``##code##`` is where Alibaba puts the code it generates; ``min`` is the validity in minutes.
    template_param: str = '{"code":"##code##","min":"5"}'
    scheme_name: str = DEFAULT_SCHEME_NAME
    code_length: int = Field(default=4, ge=4, le=8)
    code_ttl_s: int = Field(default=300, ge=60, le=3600)  # Dypnsapi ValidTime
    provider_interval_s: int = Field(default=60, ge=10, le=3600)  # Dypnsapi Interval (resend gap)

    # --- timeouts and retries -----------------------------------------------------------------------
    connect_timeout_s: float = Field(default=2.0, gt=0)
    send_read_timeout_s: float = Field(default=5.0, gt=0)
    check_read_timeout_s: float = Field(default=3.0, gt=0)
    #: A code that reaches the phone later than this after send_code() is useless: give up.
    send_deadline_s: int = Field(default=120, ge=10)
    retry_initial_s: float = Field(default=0.2, gt=0)
    retry_max_s: float = Field(default=5.0, gt=0)
    check_attempts: int = Field(default=2, ge=1, le=5)  # transient retries of CheckSmsVerifyCode

    # --- send records ---------------------------------------------------------------------------------
    record_ttl_s: int = Field(default=86_400, ge=600)

    # --- abuse limits ("N/period;…", see producers.limits) ------------------------------------------
    phone_limits: str = "1/minute;5/hour;10/day"
    ip_limits: str = "20/hour;100/day"
    prefix_limits: str = "200/hour"
    purpose_limits: str = ""
    account_daily_budget: int | None = Field(default=None, ge=1)
    #: Rules named here only log and count; they never refuse (e.g. "prefix,ip").
    monitor_rules: Annotated[list[str], NoDecode] = Field(default_factory=list)
    #: Numbers that bypass every abuse limit (test numbers), comma separated.
    safe_numbers: Annotated[list[str], NoDecode] = Field(default_factory=list)
    check_max_failures: int = Field(default=5, ge=1)

    # --- lanes and the shared upstream rate ---------------------------------------------------------
    #: JSON object lane -> "N/second", e.g. {"default": "50/second", "login": "100/second"}.
    lanes: dict[str, str] = Field(default_factory=lambda: {"default": "50/second"})
    account_rate: str = "400/second"  # under Dypnsapi's 500 requests/s per account
    #: A limiter wait up to this long sleeps in the task; a longer one re-queues with a countdown.
    limiter_max_sleep_s: float = Field(default=0.5, ge=0)

    # --- metrics ------------------------------------------------------------------------------------
    metrics_port: int = Field(default=9808, ge=0, le=65535)  # 0 disables the worker's /metrics server
    metrics_host: str = "127.0.0.1"  # 0.0.0.0 in containers, where Prometheus scrapes from outside
    #: The worker touches this file at every Celery heartbeat; `smsq worker --healthcheck` reads it.
    heartbeat_file: str = "/tmp/smsq-worker.heartbeat"  # noqa: S108 - a liveness marker, no data

    # --- HTTP gateway -------------------------------------------------------------------------------
    #: When set, every /v1 request to `smsq gateway` must carry ``Authorization: Bearer <token>``.
    gateway_token: SecretStr | None = None

    @field_validator("monitor_rules", "safe_numbers", mode="before")
    @classmethod
    def _lists(cls, value: object) -> object:
        return _split_list(value)

    @field_validator("lanes", mode="before")
    @classmethod
    def _lanes(cls, value: object) -> object:
        if isinstance(value, str):
            value = json.loads(value)
        if not isinstance(value, dict) or not value:
            raise ValueError("lanes must be a non-empty JSON object of lane -> rate")
        for name in value:
            if not _LANE_NAME.match(str(name)):
                raise ValueError(f"lane name {name!r} must match {_LANE_NAME.pattern}")
        return value

    @field_validator("template_param")
    @classmethod
    def _template_param(cls, value: str) -> str:
        parsed = json.loads(value)
        if not isinstance(parsed, dict) or "##code##" not in parsed.values():
            raise ValueError('template_param must be a JSON object with a "##code##" value')
        return value

    @model_validator(mode="after")
    def _deadline_within_code_life(self) -> Settings:
        if self.send_deadline_s > self.code_ttl_s:
            raise ValueError("send_deadline_s must not exceed code_ttl_s")
        if self.send_deadline_s > MAX_SEND_DEADLINE_S:
            # one task run retries until the deadline: it must end inside the task's time limits
            raise ValueError(f"send_deadline_s must be at most {MAX_SEND_DEADLINE_S}")
        return self

    @property
    def effective_broker_url(self) -> str:
        """The Celery broker: ``broker_url`` when set, else the Redis store."""
        return self.broker_url or self.redis_url

    @property
    def has_static_keys(self) -> bool:
        """True when an explicit access key pair is configured."""
        return self.access_key_id is not None and self.access_key_secret is not None


@functools.cache
def get_settings() -> Settings:
    """The process's settings, read from the environment on first use."""
    return Settings()
