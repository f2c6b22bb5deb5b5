"""What every fuzz test shares: a producer on a lane no worker consumes, and a view of what a call
recorded or published."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest
import redis

from smsq.devstack.processes import Child, Stack, http_ok, wait_until
from smsq.net import free_port
from tests.conftest import EmulatorHandle, clear_process_caches, smsq_environment

#: The only lane the fuzzed producer has: its queue is never consumed, so what a call published stays.
LANES = '{"parked": "1/second"}'
QUEUE = "smsq.parked"
#: The fuzzed gateway's bearer token and its receipt route's path secret.
GATEWAY_TOKEN = "fuzz-gateway-token-0123456789"
RECEIPT_SECRET = "fuzz-receipt-path-secret-0123456789abcdef"


def wipe(client: redis.Redis) -> None:
    """Forget what earlier examples recorded (smsq's keys and the parked queue; broker keys stay)."""
    stale = list(client.scan_iter("smsq:*", count=1000))
    if stale:
        client.delete(*stale)
    client.delete(QUEUE)


def recorded(client: redis.Redis) -> tuple[list[str], int]:
    """Every record, limit log, code counter and idempotency key (statistics aside), and the queue."""
    keys = sorted(key for key in client.scan_iter("smsq:*", count=1000) if not key.startswith("smsq:stats:"))
    return keys, client.llen(QUEUE)


@pytest.fixture
def producer(
    smsq_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, redis_client: redis.Redis
) -> Iterator[redis.Redis]:
    """This process as a producer whose sends stay parked in Redis."""
    monkeypatch.setenv("SMSQ_LANES", LANES)
    clear_process_caches()
    yield redis_client
    wipe(redis_client)


@pytest.fixture
def gateway_process(
    processes: Stack, redis_url: str, emulator_session: EmulatorHandle, producer: redis.Redis
) -> Iterator[tuple[str, Child]]:
    """A real ``smsq gateway`` process (token, trusting X-Forwarded-For) on the parked lane: its base
    URL and the process, whose log the test reads afterwards."""
    port = free_port()
    env = smsq_environment(
        redis_url,
        emulator_session,
        SMSQ_LANES=LANES,
        SMSQ_GATEWAY_TOKEN=GATEWAY_TOKEN,
        SMSQ_RECEIPT_PATH_SECRET=RECEIPT_SECRET,
    )
    argv = [sys.executable, "-m", "smsq.cli", "gateway", "--port", str(port), "--trust-forwarded"]
    child = processes.spawn(f"fuzz-gateway-{port}", argv, env)

    def ready() -> bool:
        if not child.alive():
            raise RuntimeError(f"the gateway exited; see {child.log_path}")
        return http_ok(f"http://127.0.0.1:{port}/healthz")

    wait_until(ready, timeout_s=30, what="the gateway")
    yield f"127.0.0.1:{port}", child
    child.stop()
