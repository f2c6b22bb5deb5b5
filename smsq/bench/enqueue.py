"""What a send costs the web request: ``send_code()`` against its baselines, interleaved in rounds.

- ``smsq``: ``send_code()`` — validation, Celery's message, the Lua admission that queues it;
- ``celery``: a bare ``send_task`` of a no-op task through an app with the producer's broker settings;
- ``lpush``: one raw redis-py ``LPUSH`` round trip (the physical floor);
- ``seed``: the seed article's way — a new SDK client and ``SendSmsVerifyCode`` inside the request,
  against the emulator with a provider latency of 100 ms.

- ``steps``: ``send_code()`` again, with its steps timed around the real functions it calls (the
  phone parse, the abuse rules, Celery building the message, the Lua admission that queues it;
  "other" is the rest: settings, argument checks, masking, logging). Only the per-step times are
  kept: the wrappers cost a little.

Each round runs every variant once in a shuffled order, so drift (other processes, CPU frequency)
hits them all alike. The seed variant takes 100 ms a call, so it runs in every ``SEED_EVERY``-th
round only. No worker runs: published messages pile up in the bed's Redis and are deleted after.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import redis

from smsq.bench.common import (
    Bed,
    Numbers,
    interleaved,
    percentiles,
    producer_app,
    sdk_runtime,
    sdk_send_request,
)
from smsq.devstack.processes import Stack

PROVIDER_LATENCY_MS = 100
SEED_EVERY = 20
WARMUP_ROUNDS = 20
NOOP_QUEUE = "bench.noop"


def run(quick: bool) -> dict[str, Any]:
    """Measure the four variants; return their latency percentiles and the run's parameters."""
    rounds = 200 if quick else 3000
    steps = StepTimer()
    with Stack() as stack:
        bed = Bed(stack, ["--latency-ms", str(PROVIDER_LATENCY_MS), "--rate-limit", "0"])
        with bed.producer():
            samples = _measure(bed, rounds, steps)
            raw = redis.Redis.from_url(bed.redis_url)
            raw.delete(NOOP_QUEUE, "smsq.default", "bench:lpush")
            raw.close()
    return {
        "params": {
            "rounds": rounds,
            "warmup_rounds": WARMUP_ROUNDS,
            "seed_every": SEED_EVERY,
            "provider_latency_ms": PROVIDER_LATENCY_MS,
        },
        "latency": {name: percentiles(values) for name, values in samples.items()},
        "samples_ms": {name: [round(v, 4) for v in values] for name, values in samples.items()},
        "steps": {name: percentiles(values) for name, values in steps.samples.items()},
    }


class StepTimer:
    """Runs ``send_code()`` with its steps timed: each step's function is wrapped for one call
    (module functions in ``producers.send``, methods on their classes) and put back after it."""

    def __init__(self) -> None:
        from producers import send  # noqa: PLC0415
        from producers.guard import Guard  # noqa: PLC0415
        from producers.store import RecordStore  # noqa: PLC0415

        self._steps: dict[str, tuple[Any, str]] = {
            "parse": (send, "normalize_phone"),
            "rules": (Guard, "rules_for"),
            "admit": (RecordStore, "run"),  # the only script a send runs (admit_op)
            "message": (send, "send_outbound"),
        }
        self.samples: dict[str, list[float]] = {name: [] for name in [*self._steps, "other", "total"]}

    def __call__(self, call: Callable[[], object]) -> None:
        spent = dict.fromkeys(self._steps, 0.0)
        originals = {name: getattr(owner, attribute) for name, (owner, attribute) in self._steps.items()}
        for name, (owner, attribute) in self._steps.items():
            setattr(owner, attribute, _timed(originals[name], name, spent))
        try:
            started = time.perf_counter()
            call()
            total = (time.perf_counter() - started) * 1000
        finally:
            for name, (owner, attribute) in self._steps.items():
                setattr(owner, attribute, originals[name])
        for name, value in spent.items():
            self.samples[name].append(value)
        self.samples["other"].append(total - sum(spent.values()))
        self.samples["total"].append(total)


def _timed(function: Callable[..., Any], name: str, spent: dict[str, float]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            spent[name] += (time.perf_counter() - started) * 1000

    return wrapper


def _variants(bed: Bed, steps: StepTimer) -> dict[str, Callable[[], object]]:
    from alibabacloud_dypnsapi20170525.client import Client  # noqa: PLC0415

    from producers import send_code  # noqa: PLC0415

    numbers = Numbers("135")
    seed_numbers = Numbers("136")
    app = producer_app()
    client = redis.Redis.from_url(bed.redis_url)
    runtime = sdk_runtime()

    def seed() -> object:
        # The seed article: build the client in the request, then call the provider.
        sdk = Client(bed.emulator.sdk_config())
        return sdk.send_sms_verify_code_with_options(sdk_send_request(seed_numbers.take()), runtime)

    return {
        "smsq": lambda: send_code(numbers.take(), purpose="bench"),
        "steps": lambda: steps(lambda: send_code(numbers.take(), purpose="bench")),
        "celery": lambda: app.send_task("bench.noop", args=[uuid.uuid4().hex], queue=NOOP_QUEUE),
        "lpush": lambda: client.lpush("bench:lpush", uuid.uuid4().hex),
        "seed": seed,
    }


def _measure(bed: Bed, rounds: int, steps: StepTimer) -> dict[str, list[float]]:
    """Latencies of every variant; the ``steps`` variant's own go to ``steps`` only (warm-up too)."""
    samples = interleaved(
        _variants(bed, steps),
        rounds,
        label="enqueue",
        seed=6,
        warmup_rounds=WARMUP_ROUNDS,
        runs_in=lambda name, index: name != "seed" or index % SEED_EVERY == 0,
    )
    del samples["steps"]
    for values in steps.samples.values():
        del values[:WARMUP_ROUNDS]
    return samples
