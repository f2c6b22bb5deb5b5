"""What a check costs the web request, in both modes, against its baselines, interleaved, at 0 ms and
at 20 ms of provider latency (the emulator's latency fault, changed between the two runs), then with
a backlog of sends on a slow lane against an idle system.

- ``worker``: ``check_code()`` in ``SMSQ_CHECK_MODE=worker`` — the lockout script, a task on the
  check queue, a dedicated check worker asking the provider, the answer back through a Redis list;
- ``direct``: ``check_code()`` in ``SMSQ_CHECK_MODE=direct`` — the same, with the provider asked in
  this process through smsq's one reused client;
- ``bare``: a bare Celery RPC round trip on the same path — ``smsq.ping`` published to the check
  queue, claimed and answered by the same check worker through the same reply list, no provider;
- ``sdk``: ``CheckSmsVerifyCode`` with one reused SDK client (the floor ``direct`` adds to);
- ``redis``: one ``PING`` on the producer's own Redis client: the round trip ``direct`` must make
  before asking the provider (the lockout), so ``direct - sdk - redis`` is what smsq adds beyond
  its floor;
- ``seed``: the seed article's way — a new SDK client built for every check.

Every number first gets a real code from the emulator, recorded as its live code in smsq (as a
worker would record it: smsq asks the provider only for a number with a live code); the checks then
send wrong codes (the common case under attack), with the lockout set out of reach so smsq always
asks the provider. Both modes run in one process: the two settings objects are built once and the
variant swaps them in (a pointer assignment), so every variant shares rounds and machine noise.

The backlog part: ``worker`` and ``bare`` at 0 ms, first idle, then while 2,000 sends wait on a slow
lane (20/s) that a lane worker is working through, then idle again; the growth of the check's p99
is the backlog run's p99 minus the mean of the two idle runs' p99.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from smsq.bench.common import (
    Bed,
    Numbers,
    interleaved,
    percentiles,
    sdk_check_request,
    sdk_runtime,
    sdk_send_request,
)
from smsq.devstack.processes import Stack

NUMBERS = 50
WARMUP_ROUNDS = 20
#: Provider latencies measured, in ms (the emulator's ``latency_ms`` fault).
PROVIDER_LATENCIES_MS = (0, 20)
#: Sends queued on the slow lane for the backlog run, and that lane's rate.
BACKLOG_SENDS = 2000
SLOW_LANE, SLOW_RATE = "slow", "20/second"
LANES = json.dumps({"default": "100000/second", SLOW_LANE: SLOW_RATE})
#: Threads of the one check worker process.
CHECK_CONCURRENCY = 8


def run(quick: bool) -> dict[str, Any]:
    """Measure every variant at every provider latency, and the check under a send backlog."""
    rounds = {0: 100 if quick else 2000, 20: 40 if quick else 500}
    backlog_rounds = 100 if quick else 1000
    runs: dict[str, Any] = {}
    with Stack() as stack:
        bed = Bed(stack, ["--rate-limit", "0"])
        with bed.producer(SMSQ_LANES=LANES) as env:
            bed.workers(env, count=1, concurrency=CHECK_CONCURRENCY, queues=["smsq.check"], name="check")
            modes = _Modes()
            variants = _variants(bed, modes)
            for latency_ms in PROVIDER_LATENCIES_MS:
                bed.emulator.set_faults(latency_ms=latency_ms)
                samples = interleaved(
                    variants,
                    rounds[latency_ms],
                    label=f"check at {latency_ms} ms",
                    seed=5 + latency_ms,
                    warmup_rounds=WARMUP_ROUNDS,
                )
                runs[str(latency_ms)] = summary(samples)
            bed.emulator.set_faults(latency_ms=0)
            backlog = _backlog(
                bed, env, {name: variants[name] for name in ("worker", "bare")}, backlog_rounds
            )
    return {
        "params": {
            "rounds": {str(ms): n for ms, n in rounds.items()},
            "backlog_rounds": backlog_rounds,
            "warmup_rounds": WARMUP_ROUNDS,
            "numbers": NUMBERS,
            "provider_latencies_ms": list(PROVIDER_LATENCIES_MS),
            "check_worker_threads": CHECK_CONCURRENCY,
            "backlog_sends": BACKLOG_SENDS,
            "slow_lane_rate": SLOW_RATE,
        },
        "runs": runs,
        "backlog": backlog,
    }


def summary(samples: dict[str, list[float]]) -> dict[str, Any]:
    """Percentiles of every variant, smsq's overheads, and where worker mode's time goes (p50)."""
    latency = {name: percentiles(values) for name, values in samples.items()}
    p50 = {name: figures["p50_ms"] for name, figures in latency.items()}
    return {
        "latency": latency,
        "overhead_p50_ms": round(p50["direct"] - p50["sdk"], 4),
        # the overhead's floor is one Redis round trip (the lockout's reservation before the call)
        "overhead_beyond_round_trip_p50_ms": round(p50["direct"] - p50["sdk"] - p50["redis"], 4),
        # Where worker mode's time goes, at p50: the bare round trip, plus what the check adds to it
        # (compare with direct, which does the same work in-process), and the lowest ratios any
        # implementation could reach here. Against bare: a round trip plus the raw SDK call, nothing
        # else. Against direct: all direct does plus a bare round trip, less its publish (the
        # reservation publishes a check), taken as one Redis round trip.
        "worker_breakdown_p50_ms": {
            "bare_round_trip": p50["bare"],
            "worker_minus_bare": round(p50["worker"] - p50["bare"], 4),
            "direct": p50["direct"],
            "sdk": p50["sdk"],
            "floor_worker_over_bare": round((p50["bare"] + p50["sdk"]) / p50["bare"], 3),
            "floor_worker_over_direct": round(
                (p50["direct"] + p50["bare"] - p50["redis"]) / p50["direct"], 3
            ),
        },
        "samples_ms": {name: [round(v, 4) for v in values] for name, values in samples.items()},
    }


class _Modes:
    """This process's settings in worker mode and in direct mode, swapped in per call."""

    def __init__(self) -> None:
        from producers import settings  # noqa: PLC0415

        self._settings = settings
        self.worker = settings.configure(check_mode="worker", check_timeout_s=5)
        self.direct = settings.configure(check_mode="direct")

    @contextmanager
    def using(self, chosen: Any) -> Iterator[None]:
        # the one per-process settings object (see producers.settings.reset_settings)
        self._settings._current = chosen
        yield


def _variants(bed: Bed, modes: _Modes) -> dict[str, Callable[[], object]]:
    from alibabacloud_dypnsapi20170525.client import Client  # noqa: PLC0415

    from producers import check_code  # noqa: PLC0415
    from producers.connections import get_redis  # noqa: PLC0415
    from producers.constants import PING_TASK_NAME  # noqa: PLC0415
    from producers.rpc import Answer, Call, call_workers  # noqa: PLC0415

    runtime = sdk_runtime()
    reused = bed.emulator.sdk_client()
    numbers = Numbers("150").many(NUMBERS)
    for number in numbers:
        reused.send_sms_verify_code_with_options(sdk_send_request(number), runtime)
        record_live_code(number)
    picker = random.Random(4)

    def wrong() -> tuple[str, str]:
        return picker.choice(numbers), f"{picker.randrange(1_000_000):06d}"

    def worker() -> object:
        with modes.using(modes.worker):
            return check_code(*wrong())

    def direct() -> object:
        with modes.using(modes.direct):
            return check_code(*wrong())

    def bare() -> object:
        reply = call_workers(Call(PING_TASK_NAME, kwargs={}, kwargsrepr={}, timeout_s=5), socket_timeout_s=5)
        if reply.answer is not Answer.PONG:
            raise RuntimeError(f"smsq.ping answered {reply.answer}")
        return reply

    def sdk() -> object:
        return reused.check_sms_verify_code_with_options(sdk_check_request(*wrong()), runtime)

    def seed() -> object:
        client = Client(bed.emulator.sdk_config())
        return client.check_sms_verify_code_with_options(sdk_check_request(*wrong()), runtime)

    def round_trip() -> object:
        return get_redis().ping()

    return {"worker": worker, "direct": direct, "bare": bare, "sdk": sdk, "seed": seed, "redis": round_trip}


def _backlog(
    bed: Bed, env: dict[str, str], variants: dict[str, Callable[[], object]], rounds: int
) -> dict[str, Any]:
    """Idle, then 2,000 sends on the slow lane with a lane worker on it, then idle again."""
    from producers import send_code  # noqa: PLC0415
    from producers.connections import get_redis  # noqa: PLC0415
    from producers.constants import queue_for_lane  # noqa: PLC0415

    def measure(label: str, seed: int) -> dict[str, list[float]]:
        return interleaved(variants, rounds, label=label, seed=seed, warmup_rounds=WARMUP_ROUNDS)

    idle_before = measure("check, idle", 31)
    lane_workers = bed.workers(env, count=1, concurrency=8, queues=[queue_for_lane(SLOW_LANE)], name="slow")
    numbers = Numbers("151").many(BACKLOG_SENDS)
    for number in numbers:
        send_code(number, lane=SLOW_LANE)
    queued_at_start = _queued(get_redis(), SLOW_LANE)
    during = measure(f"check, {BACKLOG_SENDS} sends on a slow lane", 32)
    queued_at_end = _queued(get_redis(), SLOW_LANE)
    lane_workers.stop()
    client = get_redis()
    client.delete(queue_for_lane(SLOW_LANE))
    idle_after = measure("check, idle again", 33)
    result: dict[str, Any] = {
        "queued_sends_at_start": queued_at_start,
        "queued_sends_at_end": queued_at_end,
        "latency": {
            "idle_before": {name: percentiles(values) for name, values in idle_before.items()},
            "backlog": {name: percentiles(values) for name, values in during.items()},
            "idle_after": {name: percentiles(values) for name, values in idle_after.items()},
        },
    }
    growth = {}
    for name in variants:
        idle_p99 = [result["latency"][phase][name]["p99_ms"] for phase in ("idle_before", "idle_after")]
        growth[name] = round(result["latency"]["backlog"][name]["p99_ms"] - sum(idle_p99) / 2, 4)
    result["p99_growth_ms"] = growth
    return result


def _queued(client: Any, lane: str) -> int:
    """Sends of ``lane`` not yet final: in the Celery list, parked for their rate slot, or running."""
    from producers.constants import due_key, queue_for_lane  # noqa: PLC0415

    return int(client.llen(queue_for_lane(lane)) + client.zcard(due_key(lane)))


def record_live_code(number: str) -> None:
    """Record ``number``'s code as sent, as a worker does after the provider accepted it."""
    from producers.connections import get_redis  # noqa: PLC0415
    from producers.keyring import get_keyring  # noqa: PLC0415
    from producers.records import SendState  # noqa: PLC0415
    from producers.settings import get_settings  # noqa: PLC0415
    from producers.store import store_for  # noqa: PLC0415

    keyring, store, ticket = get_keyring(), store_for(get_redis()), uuid.uuid4().hex
    store.admit(
        ticket=ticket,
        sealed_phone=keyring.seal(number),
        masked="bench",
        purpose="bench",
        lane="default",
        rules=(),
        useful_life_s=60,
        record_ttl_s=3600,
    )
    ttl_s = get_settings().code_ttl_s
    store.finish(ticket, SendState.SENT, live_code_keys=keyring.live_code_keys(number), code_ttl_s=ttl_s)
