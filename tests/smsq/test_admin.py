"""``smsq admin unlock PHONE``: an operator lifts a lockout; it is logged masked and counted in the
workers' metrics (finding 8)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest
import redis

from producers import CheckLocked, RateLimited, SendState, check_code, send_code
from tests.conftest import EmulatorHandle, use_settings
from tests.e2e.helpers import wait_final
from worker.metrics import RedisCollector


def fresh_number() -> str:
    return f"135{uuid.uuid4().int % 10**8:08d}"


def smsq_admin(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "smsq.cli", "admin", *args],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def admin_counts(client: redis.Redis) -> dict[str, float]:
    families = {family.name: family for family in RedisCollector(client, ["default"]).collect()}
    return {sample.labels["action"]: sample.value for sample in families["smsq_admin_actions"].samples}


@pytest.mark.usefixtures("workers")
def test_an_operator_unlocks_a_locked_code_and_the_user_signs_in_with_it(
    smsq_env: dict[str, str], emulator: EmulatorHandle, redis_client: redis.Redis
) -> None:
    phone = fresh_number()
    assert wait_final(send_code(phone).id).state is SendState.SENT
    code = emulator.messages(phone)[0]["code"]
    for _ in range(5):
        check_code(phone, "00000000")
    with pytest.raises(CheckLocked):
        check_code(phone, code)
    assert admin_counts(redis_client) == {"unlock": 0.0, "unblock": 0.0}

    unlocked = smsq_admin("unlock", f"+86 {phone[:3]}-{phone[3:7]}-{phone[7:]}")
    output = unlocked.stdout + unlocked.stderr
    assert unlocked.returncode == 0, output
    masked = f"{phone[:3]}****{phone[-4:]}"
    assert unlocked.stdout.startswith(f"unlocked {masked}: 5 answer(s) forgotten")
    assert f"admin.unlock phone={masked}" in unlocked.stderr  # the log line, masked
    assert phone not in output and phone[:7] not in output and code not in output
    assert admin_counts(redis_client) == {"unlock": 1.0, "unblock": 0.0}

    assert check_code(phone, code).passed


def test_unlocking_a_number_without_a_live_code_changes_and_counts_nothing(
    smsq_env: dict[str, str], redis_client: redis.Redis
) -> None:
    phone = fresh_number()
    result = smsq_admin("unlock", phone)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == f"{phone[:3]}****{phone[-4:]} has no live code: nothing to unlock"
    assert admin_counts(redis_client) == {"unlock": 0.0, "unblock": 0.0}


def test_unlock_refuses_what_is_not_a_mainland_mobile_number(smsq_env: dict[str, str]) -> None:
    result = smsq_admin("unlock", "+1 202 555 0100")
    assert result.returncode == 2
    assert "invalid_phone" in result.stderr and "Traceback" not in result.stderr


def test_admin_is_a_group_listed_by_smsq_help() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "smsq.cli", "admin", "--help"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0 and "unlock" in result.stdout


def pumping_metrics(client: redis.Redis) -> dict[str, float]:
    families = {family.name: family for family in RedisCollector(client, ["default"]).collect()}
    counts = {sample.labels["event"]: sample.value for sample in families["smsq_pumping"].samples}
    counts["tripped_now"] = families["smsq_pumping_tripped"].samples[0].value
    return counts


def test_an_operator_lists_and_unblocks_a_tripped_prefix_and_it_is_logged_and_counted(
    smsq_env: dict[str, str], redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_settings(
        monkeypatch,
        {
            "SMSQ_PHONE_LIMITS": "",
            "SMSQ_PREFIX_LIMITS": "",
            "SMSQ_PUMPING_MIN_SENDS": "5",
            "SMSQ_LANES": '{"default": "50/second", "parked": "1/second"}',
        },
    )
    for index in range(5):
        send_code(f"135777700{index:02d}", lane="parked")  # never verified
    with pytest.raises(RateLimited) as refused:
        send_code("13577770099", lane="parked")
    assert refused.value.rule == "pumping:1357777"
    assert pumping_metrics(redis_client) == {
        "trips": 1.0, "monitor_trips": 0.0, "refused": 1.0, "monitored": 0.0, "tripped_now": 1.0,
    }  # fmt: skip

    listed = smsq_admin("breakers")
    assert listed.returncode == 0, listed.stderr
    # SMSQ_PURPOSES is unset: the breaker counted every purpose of the prefix together
    assert listed.stdout.startswith("1357777  *  enforce  lifts in ")
    breaker = listed.stdout.split("breaker=")[1].strip()  # the id the logs name it by

    lifted = smsq_admin("unblock", "1357777")
    assert lifted.returncode == 0, lifted.stderr
    assert lifted.stdout == "unblocked 1357777: *\n"
    assert f"admin.unblock breaker={breaker} purposes=*" in lifted.stderr
    assert "1357777" not in lifted.stderr
    assert admin_counts(redis_client) == {"unlock": 0.0, "unblock": 1.0}
    assert pumping_metrics(redis_client)["tripped_now"] == 0.0
    send_code("13577770099", lane="parked")
    assert smsq_admin("unblock", "135777").returncode == 2
