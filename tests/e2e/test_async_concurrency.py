"""Issue 15, acceptance 3: an asyncio app's 100 concurrent checks (and sends) overlap instead of queueing,
and never stall its event loop.

Against an emulator answering after 200 ms: 100 concurrent ``acheck_code`` calls finish in under
600 ms in all (one after another they would take 20 s), and a probe task sleeping 1 ms in a loop
wakes at most 20 ms late at p99; the same for 100 concurrent ``asend_code`` calls. Those are the
issue's own thresholds; everything the clients load or open once (the SDK and aiohttp, the scripts,
Redis connections, the Celery producer and its threads) is warmed before the timed window.
``smsq bench async`` measures the same against the sync API in threads.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from producers import (
    CheckResult,
    SendState,
    TicketNotFound,
    acheck_code,
    aget_status,
    asend_code,
    get_status,
    send_code,
)
from smsq.bench.looplag import LoopLag
from tests.conftest import EmulatorHandle
from tests.e2e.helpers import wait_final

pytestmark = pytest.mark.usefixtures("workers", "smsq_env")

CALLS = 100
LATENCY_MS = 200
TOTAL_LIMIT_S = 0.6
LAG_P99_LIMIT_MS = 20.0


def fresh_numbers(count: int) -> list[str]:
    return [f"139{uuid.uuid4().int % 10**8:08d}" for _ in range(count)]


def live_codes(emulator: EmulatorHandle, phones: list[str]) -> dict[str, str]:
    """Send every number a code through the real workers; return each number's code from the outbox."""
    tickets = [send_code(phone).id for phone in phones]
    assert all(wait_final(ticket).state is SendState.SENT for ticket in tickets)
    newest_first = emulator.messages()
    codes: dict[str, str] = {}
    for message in newest_first:
        codes.setdefault(message["phone"], message["code"])
    return {phone: codes[phone] for phone in phones}


async def open_redis_connections(count: int) -> None:
    """Open ``count`` pooled connections of this loop's Redis client (lookups of unknown tickets)."""
    answers = await asyncio.gather(
        *(aget_status(uuid.uuid4().hex) for _ in range(count)), return_exceptions=True
    )
    assert all(isinstance(answer, TicketNotFound) for answer in answers)


def test_a_hundred_concurrent_acheck_code_calls_overlap_and_the_loop_keeps_running(
    emulator: EmulatorHandle,
) -> None:
    spare, *phones = fresh_numbers(CALLS + 1)
    codes = live_codes(emulator, [spare, *phones])
    emulator.set_faults(latency_ms=LATENCY_MS)

    async def measured() -> tuple[list[CheckResult], float, LoopLag]:
        await open_redis_connections(CALLS)
        assert (await acheck_code(spare, codes[spare])).passed  # loads the SDK, aiohttp and the scripts
        async with LoopLag() as lag:
            started = time.perf_counter()
            results = await asyncio.gather(*(acheck_code(phone, codes[phone]) for phone in phones))
            total_s = time.perf_counter() - started
        return results, total_s, lag

    results, total_s, lag = asyncio.run(measured())
    assert all(result.passed for result in results)
    assert emulator.stats()["check_requests"] == CALLS + 1  # each asked the provider once
    assert total_s < TOTAL_LIMIT_S, f"{CALLS} checks took {total_s * 1000:.0f} ms"
    assert lag.samples_ms, "the probe never woke"
    assert lag.p99_ms < LAG_P99_LIMIT_MS, f"loop lag p99 {lag.p99_ms:.1f} ms"


def test_a_hundred_concurrent_asend_code_calls_overlap_and_the_loop_keeps_running(
    emulator: EmulatorHandle,
) -> None:
    spares, phones = fresh_numbers(4), fresh_numbers(CALLS)
    emulator.set_faults(latency_ms=LATENCY_MS)

    async def measured() -> tuple[list[str], float, LoopLag]:
        await open_redis_connections(CALLS)
        # builds the Celery producer and starts every publishing thread
        await asyncio.gather(*(asend_code(phone) for phone in spares))
        async with LoopLag() as lag:
            started = time.perf_counter()
            tickets = await asyncio.gather(*(asend_code(phone) for phone in phones))
            total_s = time.perf_counter() - started
        assert all(ticket.state is SendState.QUEUED for ticket in tickets)
        return [ticket.id for ticket in tickets], total_s, lag

    tickets, total_s, lag = asyncio.run(measured())
    assert total_s < TOTAL_LIMIT_S, f"{CALLS} sends took {total_s * 1000:.0f} ms"
    assert lag.samples_ms, "the probe never woke"
    assert lag.p99_ms < LAG_P99_LIMIT_MS, f"loop lag p99 {lag.p99_ms:.1f} ms"
    # every one was really queued: the workers send them all
    assert all(wait_final(ticket).state is SendState.SENT for ticket in tickets)
    assert {get_status(ticket).masked_phone for ticket in tickets} == {f"{p[:3]}****{p[-4:]}" for p in phones}
