"""Purposes at the provider and in the live-code binding: each purpose's template, scheme and
validity reach the emulator over HTTP; a code binds to its purpose, per scheme."""

from __future__ import annotations

import json
import uuid

import pytest
import redis

from producers import UnknownPurpose, check_code, configure, send_code
from producers.keyring import get_keyring
from producers.process import reset_caches
from producers.provider import DypnsapiProvider
from producers.records import SendState
from producers.settings import Settings, get_settings
from producers.store import CheckOutcome, RecordStore
from tests.conftest import EmulatorHandle
from worker.delivery import Delivery
from worker.limiter import UpstreamLimiter

PURPOSES = {
    "login": {},
    "signup": {},  # shares the default scheme with login
    "reset": {"scheme_name": "reset", "code_ttl_s": 600, "template_code": "100003"},
}


@pytest.fixture
def settings(smsq_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("SMSQ_PURPOSES", json.dumps(PURPOSES))
    monkeypatch.setenv("SMSQ_LANES", '{"default": "1000/second"}')
    reset_caches()
    return get_settings()


@pytest.fixture
def delivery(settings: Settings) -> Delivery:
    client = redis.Redis.from_url(settings.redis_dsn, decode_responses=True)
    return Delivery(
        RecordStore(client),
        DypnsapiProvider(settings),
        UpstreamLimiter.from_settings(settings, client),
        settings,
    )


def admit(delivery: Delivery, phone: str, purpose: str) -> str:
    ticket = uuid.uuid4().hex
    delivery.store.admit(
        ticket=ticket, sealed_phone=get_keyring().seal(phone), masked="x", purpose=purpose, lane="default",
        rules=(), useful_life_s=10, record_ttl_s=600, calls_key=get_keyring().calls_key(phone),
    )  # fmt: skip
    return ticket


def finish_sent(store: RecordStore, ticket: str, phone: str, scheme: str) -> None:
    store.finish(
        ticket, SendState.SENT, live_code_keys=get_keyring().live_code_keys(phone, scheme), code_ttl_s=300
    )


def test_each_purpose_sends_its_own_template_scheme_and_validity_in_minutes(
    delivery: Delivery, emulator: EmulatorHandle
) -> None:
    assert delivery.deliver(admit(delivery, "13533330001", "login"), token="a").result == "sent"
    assert delivery.deliver(admit(delivery, "13533330002", "reset"), token="b").result == "sent"
    login, reset = emulator.messages("13533330001")[0], emulator.messages("13533330002")[0]
    assert (login["scheme_name"], login["template_code"], login["template_param"]["min"]) == (
        "默认方案",
        "100001",
        "5",
    )
    assert (reset["scheme_name"], reset["template_code"], reset["template_param"]["min"]) == (
        "reset",
        "100003",
        "10",
    )


def test_a_reset_code_in_its_own_scheme_passes_only_a_reset_check_at_the_provider(
    delivery: Delivery, emulator: EmulatorHandle
) -> None:
    phone = "13533330003"
    assert delivery.deliver(admit(delivery, phone, "reset"), token="a").result == "sent"
    code = emulator.messages(phone)[0]["code"]
    assert not check_code(phone, code, purpose="login").passed  # no live code in the login scheme
    assert not check_code(phone, code).passed  # nor in the default scheme
    assert check_code(phone, code, purpose="reset").passed


def test_a_new_code_for_one_purpose_supersedes_the_other_in_a_shared_scheme(
    settings: Settings, redis_client: redis.Redis
) -> None:
    store, keyring, phone = RecordStore(redis_client), get_keyring(), "13533330004"
    login = admit_and_send(store, phone, "login")
    signup = admit_and_send(store, phone, "signup")
    keys = keyring.live_code_keys(phone)
    assert redis_client.get(keys[0]) == signup
    assert store.begin_check(live_code_keys=keys, rules=(), max_failures=5, purpose="login").outcome is (
        CheckOutcome.WRONG_PURPOSE
    )
    reserved = store.begin_check(live_code_keys=keys, rules=(), max_failures=5, purpose="signup")
    assert (reserved.outcome, reserved.ticket) == (CheckOutcome.OK, signup)
    assert login != signup


def test_codes_in_separate_schemes_stay_live_side_by_side(
    settings: Settings, redis_client: redis.Redis
) -> None:
    store, keyring, phone = RecordStore(redis_client), get_keyring(), "13533330005"
    login = admit_and_send(store, phone, "login")
    reset = admit_and_send(store, phone, "reset", scheme="reset")
    for purpose, scheme, ticket in (("login", "默认方案", login), ("reset", "reset", reset)):
        keys = keyring.live_code_keys(phone, scheme)
        reserved = store.begin_check(live_code_keys=keys, rules=(), max_failures=5, purpose=purpose)
        assert (reserved.outcome, reserved.ticket) == (CheckOutcome.OK, ticket)


def test_an_unconfigured_purpose_is_refused_at_the_door(settings: Settings) -> None:
    with pytest.raises(UnknownPurpose):
        send_code("13533330006", purpose="transfer")
    with pytest.raises(UnknownPurpose):
        check_code("13533330006", "123456", purpose="transfer")
    configure(purposes=None)  # unset: any purpose, as before purposes existed
    assert get_settings().purpose("transfer").scheme_name == "默认方案"


def admit_and_send(store: RecordStore, phone: str, purpose: str, scheme: str = "默认方案") -> str:
    ticket = uuid.uuid4().hex
    store.admit(
        ticket=ticket, sealed_phone=get_keyring().seal(phone), masked="x", purpose=purpose, lane="default",
        rules=(), useful_life_s=10, record_ttl_s=600,
    )  # fmt: skip
    finish_sent(store, ticket, phone, scheme)
    return ticket


def test_a_reset_code_in_its_own_scheme_is_never_confirmed_by_a_login_codes_frequency(
    delivery: Delivery, emulator: EmulatorHandle, redis_client: redis.Redis
) -> None:
    phone = "13900000012"  # the emulator drops the second send unprocessed, then answers normally
    login = admit(delivery, phone, "login")
    assert delivery.deliver(login, token="a").result == "sent"
    # the reset's first attempt is lost; its retry meets the interval the login started (the
    # provider's interval is per number, whatever the scheme)
    reset = admit(delivery, phone, "reset")
    outcome = delivery.deliver(reset, token="b")
    assert (outcome.result, outcome.reason) == ("failed", "ambiguous_unconfirmed")
    assert redis_client.hget(f"smsq:send:{reset}", "confirmed_by") is None
    assert [message["out_id"] for message in emulator.messages(phone)] == [login]


def test_a_lost_first_attempt_with_no_other_send_around_is_still_confirmed_by_the_frequency(
    delivery: Delivery, emulator: EmulatorHandle, redis_client: redis.Redis
) -> None:
    phone = "13900000009"  # the first send is processed, then its answer hangs past the read timeout
    ticket = admit(delivery, phone, "reset")
    assert delivery.deliver(ticket, token="a").result == "sent"
    assert redis_client.hget(f"smsq:send:{ticket}", "confirmed_by") == "provider_frequency"
    assert [message["out_id"] for message in emulator.messages(phone)] == [ticket]
