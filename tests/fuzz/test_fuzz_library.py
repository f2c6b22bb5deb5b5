"""Hostile input to ``send_code``, ``check_code`` and every setting: the only outcomes are a result or
one of smsq's typed errors, and a refusal records and publishes nothing (finding 9)."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import pytest
import redis
from hypothesis import event, given
from hypothesis import strategies as st

from producers import CheckResult, ConfigurationError, SmsqError, Ticket, check_code, send_code
from producers.guard import Guard
from producers.phone import normalize_phone
from producers.settings import Settings, configure
from tests.conftest import clear_process_caches, record_sent
from tests.fuzz.conftest import recorded, wipe
from tests.fuzz.strategies import (
    any_value,
    as_kwargs,
    codes,
    fuzz,
    idempotency_keys,
    ips,
    json_values,
    junk_text,
    lanes,
    phones,
    purposes,
)

pytestmark = pytest.mark.fuzz
absent = st.just(...)


class _Tracebacks(logging.Handler):
    """Every log record that carries an exception (a traceback in the log)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.seen: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info:
            self.seen.append(record)


@pytest.fixture
def tracebacks() -> Any:
    handler = _Tracebacks()
    logging.getLogger().addHandler(handler)
    yield handler
    logging.getLogger().removeHandler(handler)
    assert handler.seen == [], [record.getMessage() for record in handler.seen]


@fuzz
@given(
    phone=phones,
    purpose=purposes | absent,
    client_ip=ips | absent,
    idempotency_key=idempotency_keys | absent,
    lane=lanes,
    repeat=st.booleans(),
)
def test_send_code_answers_hostile_input_with_a_ticket_or_a_typed_error_that_changed_nothing(
    producer: redis.Redis, tracebacks: Any, phone: Any, purpose: Any, client_ip: Any, idempotency_key: Any,
    lane: Any, repeat: bool,
) -> None:  # fmt: skip
    wipe(producer)
    kwargs = as_kwargs(purpose=purpose, client_ip=client_ip, idempotency_key=idempotency_key, lane=lane)
    for _ in range(2 if repeat else 1):  # a repeat meets the limits and the idempotency key
        before = recorded(producer)
        try:
            ticket = send_code(phone, **kwargs)
        except SmsqError as exc:
            event(f"send: {type(exc).__name__}")
            assert recorded(producer) == before
        else:
            event("send: duplicate ticket" if ticket.duplicate else "send: queued")
            assert isinstance(ticket, Ticket)


@fuzz
@given(phone=phones, code=codes, client_ip=ips | absent, live=st.booleans(), repeat=st.integers(1, 3))
def test_check_code_answers_hostile_input_with_a_result_or_a_typed_error_that_changed_nothing(
    producer: redis.Redis, tracebacks: Any, phone: Any, code: Any, client_ip: Any, live: bool, repeat: int
) -> None:
    wipe(producer)
    if live:
        with contextlib.suppress(SmsqError):
            record_sent(producer, normalize_phone(phone))  # a live code: the provider gets asked
    for _ in range(repeat):
        before = recorded(producer)
        try:
            result = check_code(phone, code, **as_kwargs(client_ip=client_ip))
        except SmsqError as exc:
            event(f"check: {type(exc).__name__}")
            assert recorded(producer) == before
        else:
            event(f"check: passed={result.passed} attempts_left={result.attempts_left}")
            assert isinstance(result, CheckResult) and 0 <= result.attempts_left <= 5


SECRET_MARK = "S3CRETMARK"
SECRET_SETTINGS = {
    "redis_url",
    "broker_url",
    "gateway_token",
    "hash_keys",
    "encryption_keys",
    "access_key_id",
    "access_key_secret",
}
#: Every name a setting can be given by: field, variable, any case, the Alibaba aliases; and some
#: that are no setting at all.
NAMES = sorted(
    {name for field in Settings.model_fields for name in (field, f"SMSQ_{field.upper()}", f"smsq_{field}")}
    | {"ALIBABA_CLOUD_ACCESS_KEY_ID", "alibaba_cloud_access_key_secret", "SMSQ_", "SMSQ_NOPE", "", "x" * 300}
)
secret_values = st.one_of(
    junk_text.map(lambda text: f"redis://:{SECRET_MARK}{text}@"),
    junk_text.map(lambda text: f"{text}{SECRET_MARK}"),
    st.just(f"amqp://u:{SECRET_MARK}@host:notaport//"),
    st.just(f"redis://:{SECRET_MARK}@[::1/0"),
    st.lists(junk_text.map(lambda text: SECRET_MARK + text), max_size=3),
)
#: Values close to what each setting takes (so that many combinations load), among hostile ones.
plausible_values = st.sampled_from(
    [
        "", "0", "1", "-5", "6", "300", "65536", "99999999999", "0.5", "nan", "inf", "true", "http",
        "https", "127.0.0.1", "1/minute;5/hour", "10/second", "0/second", "5/fortnight", "{}",
        '{"default":"5/second"}', '{"code":"##code##"}', "phone", "prefix:200/hour", "13511112222",
    ]
)  # fmt: skip
setting_values = st.one_of(plausible_values, plausible_values, json_values, any_value)


@st.composite
def setting_maps(draw: st.DrawFn) -> dict[str, Any]:
    names = draw(st.lists(st.sampled_from(NAMES), max_size=5, unique=True))
    values: dict[str, Any] = {}
    for name in names:
        field = name.lower().removeprefix("smsq_")
        secret = field in SECRET_SETTINGS or field.startswith("alibaba_cloud")
        values[name] = draw(secret_values if secret else setting_values)
    return values


@fuzz
@given(values=setting_maps())
def test_every_setting_takes_hostile_values_with_a_one_line_typed_error_that_shows_no_secret(
    smsq_env: dict[str, str], tracebacks: Any, values: dict[str, Any]
) -> None:
    try:
        settings = configure(values)
        # what the processes build from the settings at start must not fail later, untyped
        Guard.from_settings(settings)
        redis.Redis.from_url(settings.redis_dsn).close()
        event("settings: accepted")
    except ConfigurationError as exc:
        event("settings: ConfigurationError")
        message = str(exc)
        assert "\n" not in message and SECRET_MARK not in message and SECRET_MARK not in repr(exc)
    finally:
        clear_process_caches()
