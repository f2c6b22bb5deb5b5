"""Lanes: each its own queue and upstream rate; a slow lane never starves another on the same workers."""

from __future__ import annotations

import uuid

import pytest
import redis

from producers import SendState, get_status, send_code
from smsq.devstack.processes import Stack
from tests.conftest import EmulatorHandle, clear_process_caches
from tests.e2e.helpers import EventRecorder, wait_final

LANES = '{"default": "50/second", "slow": "1/second", "fast": "50/second"}'


def fresh_number() -> str:
    return f"136{uuid.uuid4().int % 10**8:08d}"


@pytest.fixture
def lanes_env(smsq_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("SMSQ_LANES", LANES)
    clear_process_caches()
    return {**smsq_env, "SMSQ_LANES": LANES}


def test_a_send_in_a_free_lane_overtakes_a_backlog_in_a_slow_lane_on_the_same_workers(
    lanes_env: dict[str, str], emulator: EmulatorHandle, redis_client: redis.Redis
) -> None:
    with Stack() as stack:
        worker = stack.worker(
            lanes_env, queues=["smsq.slow", "smsq.fast"], concurrency=4, name="lanes-worker"
        )
        worker.wait_for_log("ready.", timeout_s=60)
        with EventRecorder(lanes_env["SMSQ_REDIS_URL"]) as recorder:
            backlog = [send_code(fresh_number(), lane="slow").id for _ in range(30)]
            urgent = send_code(fresh_number(), lane="fast")
            assert wait_final(urgent.id, timeout_s=20).state is SendState.SENT
            slow_done = sum(get_status(t).state is SendState.SENT for t in backlog)
        # the slow lane sends one per second: most of its backlog is still waiting
        assert slow_done < 15
        assert redis_client.get("smsq:gcra:lane:slow") is not None
    # sends re-queued to wait for the rate still show Flower their masked description
    received = [event for event in recorder.events if event["type"] == "task-received"]
    assert len(received) > 31
    assert all("'phone': '136****" in event["kwargs"] for event in received)
