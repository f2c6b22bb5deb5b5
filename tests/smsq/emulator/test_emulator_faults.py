"""Faults change at runtime through PUT /_emulator/faults, and with a seed their sequence repeats."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from smsq.net import free_port
from tests.conftest import EmulatorHandle
from tests.smsq.emulator.emu_helpers import check_request, fresh_phone, outcome_of

STARTUP = {
    "throttle_rate": 0.0,
    "error_500_rate": 0.0,
    "error_503_rate": 0.0,
    "error_502_rate": 0.0,
    "hang_rate": 0.0,
    "drop_rate": 0.0,
    "latency_ms": 0.0,
    "jitter_ms": 0.0,
    "hang_s": 30.0,
    "rate_limit": 500.0,
    "retry_after_ms": None,
    "daily_limit": 10,
    "seed": 1,
}
MIX = {"throttle_rate": 0.2, "error_500_rate": 0.2, "error_503_rate": 0.2}


def _get_faults(emulator: Any) -> dict[str, Any]:
    with urllib.request.urlopen(f"{emulator.base}/faults", timeout=10) as response:
        result: dict[str, Any] = json.loads(response.read())
    return result


def _outcomes(emulator: Any, count: int = 30) -> list[str]:
    client = emulator.sdk_client()
    return [
        outcome_of(lambda: client.check_sms_verify_code(check_request(fresh_phone(), "1234")))
        for _ in range(count)
    ]


def test_get_faults_shows_the_startup_configuration(emulator: Any) -> None:
    assert _get_faults(emulator) == STARTUP


def test_put_faults_is_a_partial_update_that_returns_the_whole_configuration(emulator: Any) -> None:
    updated = emulator.set_faults(error_503_rate=0.25, retry_after_ms=100)
    assert updated == {**STARTUP, "error_503_rate": 0.25, "retry_after_ms": 100}
    assert _get_faults(emulator) == updated
    emulator.reset()
    assert _get_faults(emulator) == STARTUP


@pytest.mark.parametrize(
    "body",
    [
        {"no_such_fault": 1},
        {"error_500_rate": 2},
        {"hang_s": "long"},
        {"throttle_rate": 0.6, "drop_rate": 0.6},
        [1],
        {"rate_limit": float("nan")},  # json.dumps writes NaN, which json.loads accepts
        {"latency_ms": float("nan")},
        {"hang_s": float("inf")},
        {"latency_ms": float("inf")},
    ],
)
def test_put_faults_refuses_unknown_keys_and_bad_values_with_a_400_json_error(
    emulator: Any, body: Any
) -> None:
    request = urllib.request.Request(
        f"{emulator.base}/faults",
        data=json.dumps(body).encode(),
        method="PUT",
        headers={"Content-Type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)
    assert caught.value.code == 400
    assert {"Code", "Message", "RequestId"} <= set(json.loads(caught.value.read()))
    assert _get_faults(emulator) == STARTUP


def test_a_fault_set_at_runtime_takes_effect_on_the_next_request(emulator: Any) -> None:
    assert set(_outcomes(emulator, 3)) == {"UNKNOWN"}
    emulator.set_faults(error_503_rate=1.0)
    assert set(_outcomes(emulator, 3)) == {"ServiceUnavailable"}
    emulator.set_faults(error_503_rate=0.0, error_502_rate=1.0)
    assert set(_outcomes(emulator, 2)) == {"UnretryableException"}


def test_reseeding_repeats_the_same_sequence_of_outcomes(emulator: Any) -> None:
    emulator.set_faults(seed=42, **MIX)
    first = _outcomes(emulator)
    emulator.set_faults(seed=42)
    second = _outcomes(emulator)
    assert first == second
    assert len(set(first)) >= 3  # the sequence really mixes outcomes


def test_two_emulators_started_with_the_same_seed_give_the_same_sequence(
    emulator: Any, processes: Any
) -> None:
    endpoint = processes.emulator(
        free_port(), emulator.key_id, emulator.key_secret, ["--seed", "1"], name="emulator-seed-twin"
    )
    twin = EmulatorHandle(endpoint, emulator.key_id, emulator.key_secret)
    for each in (emulator, twin):
        each.set_faults(**MIX)
    assert _outcomes(emulator) == _outcomes(twin)
