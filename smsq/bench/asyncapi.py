"""What the async API gives an asyncio app: bursts of 100 concurrent checks and sends on one event loop,
against the sync API run in threads from that loop (what an asyncio app does without it:
``run_in_executor``, or FastAPI running a plain ``def`` handler in its thread pool).

- ``bursts``: at 200 ms of provider latency (the emulator's latency fault), each round runs a burst
  of 100 ``acheck_code`` calls (``async``) and 100 ``check_code`` calls in 100 threads (``threads``),
  shuffled, and the same for sends; each burst's wall time and the loop's lag (the overshoot of a
  task sleeping 1 ms in a loop, :class:`~smsq.bench.looplag.LoopLag`) while it runs: on the wall
  clock (``loop_lag``), and the part this process's own work explains (``loop_lag_own``).
- ``worker_bursts``: the same check bursts in worker mode (the default), against a check worker with
  a thread per check: ``acheck_code`` awaits each answer with BLPOP on ``redis.asyncio``,
  ``check_code`` blocks a thread in BLPOP.
- ``per_call``: one call at a time at 0 ms latency, interleaved: ``asend_code`` against
  ``send_code`` (the price of publishing from a thread: a hop to the publish pool and back) and
  ``acheck_code`` against ``check_code`` (the SDK's aiohttp call against its pooled sync client).

Checks send wrong codes to numbers with a live code (the provider is always asked; the lockout is set
out of reach, as in :mod:`smsq.bench.check`); sends go to fresh numbers and stay queued (no send
workers). Everything but ``worker_bursts`` runs in direct mode.
"""

from __future__ import annotations

import asyncio
import functools
import random
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from producers.constants import CHECK_QUEUE
from smsq.bench.check import record_live_code
from smsq.bench.common import Bed, Numbers, percentiles, progress, sdk_runtime, sdk_send_request
from smsq.bench.looplag import LoopLag
from smsq.devstack.processes import Stack

BURST = 100
LATENCY_MS = 200
WRONG = "000000"
#: The check bursts, measured in both check modes.
CHECKS = ("check_async", "check_threads")


def run(quick: bool) -> dict[str, Any]:
    """Bursts and per-call latencies of the async API and of the sync API in threads."""
    rounds, calls = (3, 100) if quick else (10, 1000)
    with Stack() as stack:
        bed = Bed(stack, ["--rate-limit", "0"])
        fresh = Numbers("152")
        with (
            bed.producer(SMSQ_CHECK_MODE="direct"),
            asyncio.Runner() as runner,
            ThreadPoolExecutor(BURST) as threads,
        ):
            checked = _with_live_codes(bed, Numbers("151").many(BURST))
            bed.emulator.set_faults(latency_ms=LATENCY_MS)
            bursts = _bursts(runner, _burst_variants(threads, checked, fresh), rounds)
            bed.emulator.set_faults(latency_ms=0)
            per_call = _per_call(runner, checked, fresh, calls)
        with bed.producer(SMSQ_CHECK_MODE="worker", SMSQ_CHECK_TIMEOUT_S="5") as env:
            bed.workers(env, count=1, concurrency=BURST, queues=[CHECK_QUEUE], name="check")
            with asyncio.Runner() as runner, ThreadPoolExecutor(BURST) as threads:
                bed.emulator.set_faults(latency_ms=LATENCY_MS)
                checks = _burst_variants(threads, checked, fresh)
                worker_bursts = _bursts(runner, {name: checks[name] for name in CHECKS}, rounds)
    return {
        "params": {"burst": BURST, "latency_ms": LATENCY_MS, "rounds": rounds, "calls": calls},
        "bursts": bursts,
        "worker_bursts": worker_bursts,
        "per_call": per_call,
    }


def _with_live_codes(bed: Bed, numbers: list[str]) -> list[str]:
    client, runtime = bed.emulator.sdk_client(), sdk_runtime()
    for number in numbers:
        client.send_sms_verify_code_with_options(sdk_send_request(number), runtime)
        record_live_code(number)
    return numbers


Burst = Callable[[], Coroutine[Any, Any, object]]


def _burst_variants(threads: ThreadPoolExecutor, checked: list[str], fresh: Numbers) -> dict[str, Burst]:
    from producers import acheck_code, asend_code, check_code, send_code  # noqa: PLC0415

    async def in_threads(call: Callable[..., object], *args: str) -> object:
        return await asyncio.get_running_loop().run_in_executor(threads, functools.partial(call, *args))

    async def check_async() -> object:
        return await asyncio.gather(*(acheck_code(number, WRONG) for number in checked))

    async def check_threads() -> object:
        return await asyncio.gather(*(in_threads(check_code, number, WRONG) for number in checked))

    async def send_async() -> object:
        return await asyncio.gather(*(asend_code(number) for number in fresh.many(BURST)))

    async def send_threads() -> object:
        return await asyncio.gather(*(in_threads(send_code, number) for number in fresh.many(BURST)))

    return {
        "check_async": check_async,
        "check_threads": check_threads,
        "send_async": send_async,
        "send_threads": send_threads,
    }


def _bursts(runner: asyncio.Runner, variants: dict[str, Burst], rounds: int) -> dict[str, Any]:
    """Every variant once per round (shuffled), after one warm-up round that opens every
    connection and starts every thread."""
    totals: dict[str, list[float]] = {name: [] for name in variants}
    lags: dict[str, list[float]] = {name: [] for name in variants}
    own: dict[str, list[float]] = {name: [] for name in variants}
    shuffler = random.Random(15)
    bar = progress(rounds, f"async bursts of {BURST} at {LATENCY_MS} ms")
    for index in range(-1, rounds):
        names = list(variants)
        shuffler.shuffle(names)
        for name in names:
            total_ms, lag = runner.run(_timed_burst(variants[name]))
            if index >= 0:
                totals[name].append(total_ms)
                lags[name] += lag.samples_ms
                own[name] += lag.own_ms
        if index >= 0:
            bar.update()
    bar.close()
    return {
        name: {
            "total": percentiles(totals[name]),
            "loop_lag": percentiles(lags[name]),
            "loop_lag_own": percentiles(own[name]),
        }
        for name in variants
    }


async def _timed_burst(burst: Burst) -> tuple[float, LoopLag]:
    async with LoopLag() as lag:
        started = time.perf_counter()
        await burst()
        total_ms = (time.perf_counter() - started) * 1000
    return total_ms, lag


def _per_call(runner: asyncio.Runner, checked: list[str], fresh: Numbers, calls: int) -> dict[str, Any]:
    """One call at a time, the sync and the async twin interleaved."""
    from producers import acheck_code, asend_code, check_code, send_code  # noqa: PLC0415

    picker = random.Random(16)
    pairs: dict[str, tuple[Callable[[], object], Callable[[], Coroutine[Any, Any, object]]]] = {
        "send": (lambda: send_code(fresh.take()), lambda: asend_code(fresh.take())),
        "check": (
            lambda: check_code(picker.choice(checked), WRONG),
            lambda: acheck_code(picker.choice(checked), WRONG),
        ),
    }
    samples: dict[str, list[float]] = {f"{kind}_{way}": [] for kind in pairs for way in ("sync", "async")}
    for index in range(-20, calls):  # 20 warm-up calls of each
        for kind, (sync_call, async_call) in pairs.items():
            started = time.perf_counter()
            sync_call()
            sync_ms = (time.perf_counter() - started) * 1000
            async_ms = runner.run(_timed_call(async_call))
            if index >= 0:
                samples[f"{kind}_sync"].append(sync_ms)
                samples[f"{kind}_async"].append(async_ms)
    return {name: percentiles(values) for name, values in samples.items()}


async def _timed_call(call: Callable[[], Coroutine[Any, Any, object]]) -> float:
    started = time.perf_counter()
    await call()
    return (time.perf_counter() - started) * 1000
