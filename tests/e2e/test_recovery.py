"""A worker killed with ``kill -9`` loses no send: another worker takes over what it held.

Real worker processes on a lane of their own, the emulator over HTTP, and SIGKILL.
"""

from __future__ import annotations

import os
import signal
import time
import uuid

import pytest
import redis

from producers import SendState, get_status, send_code
from smsq.devstack.processes import Child, Stack
from tests.conftest import EmulatorHandle, use_settings
from tests.e2e.helpers import wait_final

LANE = "rescue"


def fresh_number() -> str:
    return f"138{uuid.uuid4().int % 10**8:08d}"


@pytest.fixture
def rescue_env(smsq_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    lanes = '{"default": "50/second", "rescue": "1/4second"}'
    overrides = {
        "SMSQ_LANES": lanes,
        "SMSQ_SEND_DEADLINE_S": "40",
        "SMSQ_SEND_READ_TIMEOUT_S": "6",
        "SMSQ_RUN_LEASE_S": "4",  # a dead run's send is taken over after 4 s, not the default 10
    }
    return {**smsq_env, **use_settings(monkeypatch, overrides)}


def start_workers(stack: Stack, env: dict[str, str], count: int = 2) -> list[Child]:
    workers = [
        stack.worker(env, queues=[f"smsq.{LANE}"], concurrency=2, name=f"rescuer{i}") for i in range(count)
    ]
    for worker in workers:
        worker.wait_for_log("ready.", timeout_s=60)
    return workers


def holder(client: redis.Redis, workers: list[Child], ticket: str, timeout_s: float = 20) -> Child:
    """The worker process whose last heartbeat says it holds ``ticket``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for key in client.scan_iter("smsq:held:*"):
            if client.sismember(key, ticket):
                pid = int(key.rsplit("/", 1)[1])
                return next(worker for worker in workers if worker.process.pid == pid)
        time.sleep(0.1)
    raise AssertionError(f"no worker reported holding {ticket}")


def kill(worker: Child) -> None:
    os.killpg(worker.process.pid, signal.SIGKILL)
    worker.process.wait(timeout=10)


def test_a_send_whose_worker_is_killed_mid_call_is_settled_by_another_with_exactly_one_sms(
    rescue_env: dict[str, str], emulator: EmulatorHandle, redis_client: redis.Redis
) -> None:
    emulator.set_faults(latency_ms=3000)  # the provider takes 3 s to answer: the kill lands mid-call
    with Stack() as stack:
        workers = start_workers(stack, rescue_env)
        phone = fresh_number()
        ticket = send_code(phone, lane=LANE)
        victim = holder(redis_client, workers, ticket.id)
        deadline = time.monotonic() + 20
        while get_status(ticket.id).state is not SendState.SENDING and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # the request is at the provider now
        kill(victim)
        status = wait_final(ticket.id, timeout_s=45)
    assert status.state is SendState.SENT, status
    assert len(emulator.messages(phone)) == 1
    assert status.attempts >= 2  # the killed run, then the one that settled it


def test_killing_a_worker_strands_none_of_the_sends_waiting_for_their_rate_slot(
    rescue_env: dict[str, str], emulator: EmulatorHandle, redis_client: redis.Redis
) -> None:
    with Stack() as stack:
        workers = start_workers(stack, rescue_env)
        # one send every 4 s on this lane: the first goes, the others park in Redis for their slot
        # (4 s apart, so two are still parked when this test looks, even on a loaded machine)
        phones = [fresh_number() for _ in range(4)]
        tickets = [send_code(phone, lane=LANE).id for phone in phones]
        deadline = time.monotonic() + 20
        while redis_client.zcard(f"smsq:due:{LANE}") < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        parked = [t for t in tickets[1:] if get_status(t).waiting_until is not None]
        assert len(parked) >= 2, "the later sends should be waiting for their slots, in Redis"
        # no worker holds a waiting send: each holds at most what its pool can run (its prefetch)
        held = [redis_client.smembers(key) for key in redis_client.scan_iter("smsq:held:*")]
        assert all(len(tickets_held) <= 2 for tickets_held in held)
        kill(workers[0])
        finals = [wait_final(t, timeout_s=45) for t in tickets]
    assert [status.state for status in finals] == [SendState.SENT] * 4, finals
    assert all(len(emulator.messages(phone)) == 1 for phone in phones)
    assert all(status.sent_at <= status.deadline_at for status in finals if status.sent_at)
