"""``acheck_code`` in worker mode: the check task is published from the publish pool and its answer
awaited with BLPOP on ``redis.asyncio``, the loop running on meanwhile. (With no check worker it is
unavailable within the bound like ``check_code``: ``test_check_rpc.py`` runs that test on both.)"""

from __future__ import annotations

import asyncio
import time

import pytest
import redis

from producers import CheckResult, acheck_code
from tests.conftest import EmulatorHandle
from tests.e2e.test_check_rpc import check_worker, fresh_number, rpc_keys, sent_code, web_env

__all__ = ["check_worker", "web_env"]  # the fixtures this module shares with the sync RPC tests

CALLS = 16  # the check worker's concurrency
LATENCY_MS = 200


@pytest.mark.usefixtures("workers", "check_worker", "web_env")
def test_concurrent_async_checks_wait_for_the_check_workers_without_holding_the_loop(
    emulator: EmulatorHandle, redis_client: redis.Redis
) -> None:
    phones = [fresh_number() for _ in range(CALLS)]
    codes = {phone: sent_code(phone, emulator) for phone in phones}
    emulator.set_faults(latency_ms=LATENCY_MS)

    async def checks() -> tuple[CheckResult, list[CheckResult], float]:
        wrong = await acheck_code(phones[0], "00000000")  # also warms the pool, the client, the worker
        started = time.perf_counter()
        right = await asyncio.gather(*(acheck_code(phone, codes[phone]) for phone in phones))
        return wrong, right, time.perf_counter() - started

    wrong, right, total_s = asyncio.run(checks())
    assert wrong == CheckResult(False, 4)
    assert all(result.passed for result in right)
    # one after another the waits would take CALLS x 200 ms; concurrently about one provider call
    assert total_s < 3 * LATENCY_MS / 1000, f"{CALLS} worker-mode checks took {total_s * 1000:.0f} ms"
    assert emulator.stats()["check_requests"] == CALLS + 1
    assert rpc_keys(redis_client) == []
