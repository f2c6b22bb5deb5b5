"""The delivery-receipt receiver under Alibaba's push, and through a Redis outage.

``load``: a real ``smsq gateway`` with its receipt route on its own port takes ``RATE_PER_S`` pushes a
second of ``BATCH_SIZE`` reports each (open loop: each push leaves on its schedule, whether or not the
previous one was answered) for ``duration_s`` (30 s; ``--quick`` 3 s). Each push carries mostly
receipts of fresh sent sends, some undelivered ones and a few repeats, as Alibaba's do. Figure: the
time to the answer, p50/p95/p99 (target p99 <= 100 ms), and that every receipt was stored.

``outage``: Redis is frozen (SIGSTOP: it accepts connections and never answers, the hardest case for a
deadline). Direct pushes must be answered 503 within the receiver's deadline (Alibaba gives up at
700 ms). Then the emulator's own push of real receipts fails against the frozen Redis, Redis comes
back (SIGCONT), and the emulator's retry (its 1/5/10-minute schedule scaled by ``RETRY_SCALE``)
delivers them: the figure is how long after Redis came back every send read ``delivered``.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import secrets
import signal
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import aiohttp
import redis

from producers import constants
from producers.receipts import BEIJING
from smsq.bench.common import Bed, Numbers, percentiles, progress, sdk_runtime, sdk_send_request
from smsq.devstack.processes import Stack, wait_until
from smsq.net import free_port

RATE_PER_S = 20
BATCH_SIZE = 100
UNDELIVERED_SHARE = 0.03
REPEATS_PER_BATCH = 5  # receipts of earlier sends pushed again (Alibaba's duplicates)
DEADLINE_S = 0.3  # SMSQ_RECEIPT_DEADLINE_S (the default)
PROVIDER_LIMIT_MS = 700  # Alibaba counts a push answered later than this as failed
RETRY_SCALE = 0.01  # the emulator's 60/300/600 s retries become 0.6/3/6 s
OUTAGE_PROBES = 10
OUTAGE_SENDS = 20
RECORD_TTL_S = 3600


def run(quick: bool) -> dict[str, Any]:
    """Measure the receiver under load, then through a Redis outage; return the figures."""
    duration_s = 3.0 if quick else 30.0
    secret = secrets.token_urlsafe(32)
    with Stack() as stack:
        bed = Bed(stack, ["--rate-limit", "0"])
        receipt_port = free_port()
        env = bed.env(SMSQ_RECEIPT_DEADLINE_S=str(DEADLINE_S))
        stack.gateway(
            env, free_port(), receipt_secret=secret, extra_args=["--receipt-port", str(receipt_port)]
        )
        url = f"http://127.0.0.1:{receipt_port}/receipts/{secret}"
        client = redis.Redis.from_url(bed.redis_url, decode_responses=True)
        load = _load(client, url, duration_s)
        outage = _outage(bed, client, url)
    return {
        "params": {
            "rate_per_s": RATE_PER_S,
            "batch_size": BATCH_SIZE,
            "duration_s": duration_s,
            "undelivered_share": UNDELIVERED_SHARE,
            "repeats_per_batch": REPEATS_PER_BATCH,
            "deadline_s": DEADLINE_S,
            "retry_scale": RETRY_SCALE,
        },
        "load": {key: value for key, value in load.items() if key != "samples_ms"},
        "outage": outage,
        "samples_ms": {"receipts": load["samples_ms"]},
    }


# --- the sends the receipts name ----------------------------------------------------------------------


def _sent_records(client: redis.Redis, count: int, now: float) -> list[str]:
    """``count`` sent sends, written as enqueue.lua and finish.lua leave them (the receiver's cost
    does not depend on how they got there, and this is quick)."""
    tickets = [uuid.uuid4().hex for _ in range(count)]
    pipe = client.pipeline(transaction=False)
    for index, ticket in enumerate(tickets):
        key = constants.record_key(ticket)
        fields = {
            "v": constants.RECORD_VERSION,
            "state": "sent",
            "phone": f"135{index:08d}",
            "masked": "135****0000",
            "purpose": "login" if index % 4 else "signup",
            "lane": "default",
            "created_at": f"{now:.3f}",
            "updated_at": f"{now:.3f}",
            "deadline_at": f"{now + 120:.3f}",
            "sent_at": f"{now:.3f}",
            "attempts": 1,
        }
        pipe.hset(key, mapping=fields)
        pipe.expire(key, RECORD_TTL_S)
        if index % 1000 == 999:
            pipe.execute()
    pipe.execute()
    return tickets


def _beijing(unix_s: float) -> str:
    return datetime.fromtimestamp(unix_s, UTC).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def _report(ticket: str, sent_at: float, picker: random.Random) -> dict[str, Any]:
    delivered = picker.random() >= UNDELIVERED_SHARE
    return {
        "phone_number": f"135{picker.randrange(10**8):08d}",
        "send_time": _beijing(sent_at),
        "report_time": _beijing(sent_at + picker.uniform(1, 8)),
        "success": delivered,
        "err_code": "DELIVERED" if delivered else picker.choice(["MK:0001", "MI:0024", "UNDELIV"]),
        "err_msg": "用户接收成功" if delivered else "用户状态异常",
        "sms_size": "1",
        "biz_id": f"{picker.randrange(10**6)}^{picker.randrange(10**9)}",
        "out_id": ticket,
    }


def _bodies(tickets: list[str], batches: int, now: float) -> list[bytes]:
    """Every push, as the bytes Alibaba sends (built before the clock starts)."""
    picker = random.Random(13)
    fresh = BATCH_SIZE - REPEATS_PER_BATCH
    reports = [_report(ticket, now, picker) for ticket in tickets]
    bodies = []
    for index in range(batches):
        batch = reports[index * fresh : (index + 1) * fresh]
        batch += picker.sample(reports[: (index + 1) * fresh], REPEATS_PER_BATCH)
        picker.shuffle(batch)
        bodies.append(json.dumps(batch, ensure_ascii=False).encode("utf-8"))
    return bodies


# --- load ------------------------------------------------------------------------------------------


def _load(client: redis.Redis, url: str, duration_s: float) -> dict[str, Any]:
    batches = int(RATE_PER_S * duration_s)
    now = time.time()
    tickets = _sent_records(client, batches * (BATCH_SIZE - REPEATS_PER_BATCH), now)
    bodies = _bodies(tickets, batches, now)
    asyncio.run(_warm_up(url))
    client.delete(*(constants.stats_key(name) for name in ("receipts", "deliveries", "delivery_time")))
    started = time.perf_counter()
    results = asyncio.run(_open_loop(url, bodies))
    elapsed = time.perf_counter() - started
    counters = client.hgetall(constants.stats_key("receipts"))
    statuses: dict[str, int] = {}
    for status, _ in results:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    samples = [ms for _, ms in results]
    return {
        "batches": batches,
        "receipts": batches * BATCH_SIZE,
        "offered_per_s": RATE_PER_S,
        "achieved_per_s": round(batches / elapsed, 2),
        "statuses": statuses,
        "latency": percentiles(samples),
        "stored": {name: int(value) for name, value in counters.items()},
        "all_stored": int(counters.get("new", 0)) == len(tickets),
        "samples_ms": [round(ms, 3) for ms in samples],
    }


async def _warm_up(url: str) -> None:
    """Open the gateway's Redis connections and load its script before the clock starts."""
    async with aiohttp.ClientSession() as session:
        for _ in range(5):
            async with session.post(url, data=b"[]") as response:
                await response.read()


async def _open_loop(url: str, bodies: list[bytes]) -> list[tuple[int, float]]:
    """Fire each push at its scheduled time; return (status, ms to the answer) for each."""
    bar = progress(len(bodies), "receipts")
    connector = aiohttp.TCPConnector(limit=64)
    headers = {"Content-Type": "application/json; charset=utf-8"}
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

        async def push(body: bytes) -> tuple[int, float]:
            sent = time.perf_counter()
            async with session.post(url, data=body) as response:
                await response.read()
                bar.update()
                return response.status, (time.perf_counter() - sent) * 1000

        loop = asyncio.get_running_loop()
        start = loop.time() + 0.05
        tasks = []
        for index, body in enumerate(bodies):
            delay = start + index / RATE_PER_S - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(push(body)))
        results = await asyncio.gather(*tasks)
    bar.close()
    return list(results)


# --- outage ----------------------------------------------------------------------------------------


def _outage(bed: Bed, client: redis.Redis, url: str) -> dict[str, Any]:
    """Freeze Redis: direct pushes get 503 in time; the emulator's push fails, then its retry lands."""
    tickets = _sent_records(client, OUTAGE_SENDS, time.time())
    sdk = bed.emulator.sdk_client()
    for ticket, phone in zip(tickets, Numbers("137").many(OUTAGE_SENDS), strict=True):
        request = sdk_send_request(phone)
        request.out_id = ticket
        sdk.send_sms_verify_code_with_options(request, sdk_runtime())
    probe = [_report(uuid.uuid4().hex, time.time(), random.Random(3))]
    os.kill(bed.redis_pid, signal.SIGSTOP)
    try:
        probes = asyncio.run(_probes(url, json.dumps(probe).encode()))
        bed.emulator.set_receipts(url=url, delay_ms=0, retry_scale=RETRY_SCALE)

        def push_failed() -> bool:
            return sum(bed.emulator.stats()["receipts"]["push_failures"].values()) >= 1

        wait_until(push_failed, timeout_s=30, what="the emulator's first push to fail")
    finally:
        os.kill(bed.redis_pid, signal.SIGCONT)
    back = time.perf_counter()

    def delivered() -> int:
        pipe = client.pipeline(transaction=False)
        for ticket in tickets:
            pipe.hget(constants.record_key(ticket), "delivery")
        return sum(1 for value in pipe.execute() if value == "delivered")

    try:
        wait_until(lambda: delivered() == len(tickets), timeout_s=60, what="every receipt after the retry")
        recovered_s: float | None = round(time.perf_counter() - back, 3)
    except TimeoutError:
        recovered_s = None
    stats = bed.emulator.stats()["receipts"]
    statuses: dict[str, int] = {}
    for message in bed.emulator.messages():
        receipt = message.get("receipt") or {}
        statuses[receipt.get("status", "?")] = statuses.get(receipt.get("status", "?"), 0) + 1
    probe_statuses: dict[str, int] = {}
    for status, _ in probes:
        probe_statuses[str(status)] = probe_statuses.get(str(status), 0) + 1
    return {
        "probe_statuses": probe_statuses,
        "probe_latency": percentiles([ms for _, ms in probes]),
        "probe_max_ms": round(max(ms for _, ms in probes), 3),
        "emulator_push_failures": stats["push_failures"],
        "emulator_pushes": stats["pushes"],
        "emulator_receipt_statuses": statuses,
        "sends": len(tickets),
        "delivered": delivered(),
        "delivered_after_redis_back_s": recovered_s,
    }


async def _probes(url: str, body: bytes) -> list[tuple[int, float]]:
    """Pushes one after another against the frozen Redis: (status, ms to the answer)."""
    results = []
    async with aiohttp.ClientSession() as session:
        for _ in range(OUTAGE_PROBES):
            sent = time.perf_counter()
            async with session.post(url, data=body, timeout=aiohttp.ClientTimeout(total=10)) as response:
                await response.read()
                results.append((response.status, (time.perf_counter() - sent) * 1000))
    return results
