"""check_code locks a code after 5 wrong answers, exactly, under concurrency; a number without a live
code never reaches the provider and can never be locked."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest
import redis

from producers import CheckLocked, CheckResult, SendState, check_code, send_code
from producers.store import check_results
from tests.conftest import EmulatorHandle
from tests.e2e.helpers import wait_final


def fresh_number() -> str:
    return f"138{uuid.uuid4().int % 10**8:08d}"


@pytest.mark.usefixtures("workers")
def test_200_concurrent_wrong_checks_from_several_processes_let_exactly_5_reach_the_provider(
    smsq_env: dict[str, str], emulator: EmulatorHandle, redis_client: redis.Redis
) -> None:
    phone = fresh_number()
    assert wait_final(send_code(phone).id).state is SendState.SENT
    env = {**os.environ, **smsq_env}
    storms = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.e2e.check_storm", phone, "50"],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    results = " ".join(proc.communicate(timeout=120)[0] for proc in storms).split()
    assert len(results) == 200
    assert results.count("failed") == 5
    assert results.count("locked") == 195
    assert emulator.stats()["check_requests"] == 5
    counted = check_results(redis_client.hgetall("smsq:stats:checks"))
    assert counted == {
        "passed": 0,
        "failed": 5,
        "locked": 195,
        "error": 0,
        "no_code": 0,
        "wrong_purpose": 0,
        "limited": 0,
    }


@pytest.mark.usefixtures("workers")
def test_checking_a_number_that_has_no_live_code_never_asks_the_provider_nor_locks_it(
    smsq_env: dict[str, str], emulator: EmulatorHandle
) -> None:
    """Finding 2b: an attacker checking a victim's number locked it for 300 s after 5 real calls."""
    victim = fresh_number()
    for _ in range(12):
        result = check_code(victim, "00000000")
        assert (result.passed, result.attempts_left) == (False, 0)
    assert emulator.stats()["check_requests"] == 0
    # the victim asks for a code and signs in: nothing the attacker did counts against it
    assert wait_final(send_code(victim).id).state is SendState.SENT
    code = emulator.messages(victim)[0]["code"]
    assert check_code(victim, "00000000").attempts_left == 4
    assert check_code(victim, code).passed


@pytest.mark.usefixtures("workers")
def test_a_new_code_lifts_the_lock_and_a_pass_uses_the_code_up(
    smsq_env: dict[str, str], emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    phone = fresh_number()
    monkeypatch.setenv("SMSQ_SAFE_NUMBERS", phone)  # two sends within a minute, on purpose
    from tests.conftest import clear_process_caches

    clear_process_caches()
    assert wait_final(send_code(phone).id).state is SendState.SENT
    for left in (4, 3, 2, 1, 0):
        assert check_code(phone, "00000000").attempts_left == left
    with pytest.raises(CheckLocked) as info:
        check_code(phone, "00000000")
    assert 0 < info.value.retry_after <= 300
    # a new code (the provider's own interval allows one per minute: wait it out at the emulator)
    emulator.reset()
    assert wait_final(send_code(phone).id).state is SendState.SENT
    code = emulator.messages(phone)[0]["code"]
    assert check_code(phone, "00000000").attempts_left == 4
    assert check_code(phone, code).passed
    asked = emulator.stats()["check_requests"]
    # the code is used up: until the next send there is nothing to check, and nothing is asked
    assert check_code(phone, code) == CheckResult(False, 0)
    assert emulator.stats()["check_requests"] == asked
