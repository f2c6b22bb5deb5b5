"""Codes bound to their purpose, with real worker processes and the emulator over HTTP.

A code passes only a check for the purpose it was sent for, and a check with another purpose never
reaches the provider. The provider's resend interval is per number, so a refusal (``biz.FREQUENCY``)
inside it proves nothing about one send while another send to the same number went out.
"""

from __future__ import annotations

import time
import uuid

import pytest
import redis

from producers import SendState, check_code, send_code
from producers.process import reset_caches
from tests.conftest import EmulatorHandle
from tests.e2e.helpers import wait_final

pytestmark = pytest.mark.usefixtures("workers")


def checks_seen(emulator: EmulatorHandle) -> int:
    return sum(emulator.stats()["requests"].get("CheckSmsVerifyCode", {}).values())


@pytest.fixture
def no_phone_limits(smsq_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Two sends to one number within a minute: the per-number limit would refuse the second."""
    monkeypatch.setenv("SMSQ_PHONE_LIMITS", "")
    reset_caches()


def test_a_login_code_fails_a_reset_check_without_a_provider_call_and_passes_a_login_check(
    smsq_env: dict[str, str], emulator: EmulatorHandle, redis_client: redis.Redis
) -> None:
    phone = f"137{uuid.uuid4().int % 10**8:08d}"
    ticket = send_code(phone, purpose="login")
    assert wait_final(ticket.id).state is SendState.SENT
    code = emulator.messages(phone)[0]["code"]

    wrong_purpose = check_code(phone, code, purpose="reset")
    assert (wrong_purpose.passed, wrong_purpose.attempts_left) == (False, 0)
    assert checks_seen(emulator) == 0  # failed without a provider call
    assert redis_client.hget("smsq:stats:checks", "wrong_purpose") == "1"

    right = check_code(phone, code, purpose="login")
    assert right.passed and right.ticket == ticket.id
    assert checks_seen(emulator) == 1


def test_a_reset_code_sent_10s_after_a_login_code_is_not_recorded_sent_on_the_logins_frequency(
    no_phone_limits: None, emulator: EmulatorHandle, redis_client: redis.Redis
) -> None:
    phone = "13900000012"  # the emulator drops the second send unprocessed, then answers normally
    login = send_code(phone, purpose="login")
    assert wait_final(login.id).state is SendState.SENT
    time.sleep(10)

    # the reset's first attempt is lost (ambiguous); its retry meets the provider's interval, which
    # the *login* started: that refusal says nothing about the reset code
    reset = send_code(phone, purpose="reset")
    status = wait_final(reset.id)
    assert (status.state, status.reason) == (SendState.FAILED, "ambiguous_unconfirmed")
    assert redis_client.hget(f"smsq:send:{reset.id}", "confirmed_by") is None
    assert [message["out_id"] for message in emulator.messages(phone)] == [login.id]
