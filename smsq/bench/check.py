"""What a check costs the web request: ``check_code()`` against the raw SDK check, interleaved, at
0 ms and at 20 ms of provider latency (the emulator's latency fault, changed between the two runs).

- ``smsq``: ``check_code()`` — validation, the lockout script, the provider call through smsq's one
  reused client, the result bookkeeping;
- ``sdk``: ``CheckSmsVerifyCode`` with one reused SDK client (the floor smsq adds to);
- ``seed``: the seed article's way — a new SDK client built for every check.

Every number first gets a real code from the emulator, recorded as its live code in smsq (as a
worker would record it: smsq asks the provider only for a number with a live code); the checks then
send wrong codes (the common case under attack), with the lockout set out of reach so smsq always
asks the provider. smsq's overhead is its p50 minus the raw SDK's p50 in the same run, in
milliseconds: at 0 ms it is all of smsq's fixed cost; at 20 ms it shows whether that cost stays put
behind a realistic call.
"""

from __future__ import annotations

import random
from collections.abc import Callable
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


def run(quick: bool) -> dict[str, Any]:
    """Measure the three variants at every provider latency; return percentiles and overheads."""
    rounds = {0: 100 if quick else 2000, 20: 40 if quick else 500}
    runs: dict[str, Any] = {}
    with Stack() as stack:
        bed = Bed(stack, ["--rate-limit", "0"])
        with bed.producer():
            variants = _variants(bed)
            for latency_ms in PROVIDER_LATENCIES_MS:
                bed.emulator.set_faults(latency_ms=latency_ms)
                samples = interleaved(
                    variants,
                    rounds[latency_ms],
                    label=f"check at {latency_ms} ms",
                    seed=5 + latency_ms,
                    warmup_rounds=WARMUP_ROUNDS,
                )
                runs[str(latency_ms)] = _summary(samples)
    return {
        "params": {
            "rounds": {str(ms): n for ms, n in rounds.items()},
            "warmup_rounds": WARMUP_ROUNDS,
            "numbers": NUMBERS,
            "provider_latencies_ms": list(PROVIDER_LATENCIES_MS),
        },
        "runs": runs,
    }


def _summary(samples: dict[str, list[float]]) -> dict[str, Any]:
    latency = {name: percentiles(values) for name, values in samples.items()}
    return {
        "latency": latency,
        "overhead_p50_ms": round(latency["smsq"]["p50_ms"] - latency["sdk"]["p50_ms"], 4),
        "samples_ms": {name: [round(v, 4) for v in values] for name, values in samples.items()},
    }


def _variants(bed: Bed) -> dict[str, Callable[[], object]]:
    from alibabacloud_dypnsapi20170525.client import Client  # noqa: PLC0415

    from producers import check_code  # noqa: PLC0415

    runtime = sdk_runtime()
    reused = bed.emulator.sdk_client()
    numbers = Numbers("150").many(NUMBERS)
    for number in numbers:
        reused.send_sms_verify_code_with_options(sdk_send_request(number), runtime)
        record_live_code(number)
    picker = random.Random(4)

    def wrong() -> tuple[str, str]:
        return picker.choice(numbers), f"{picker.randrange(1_000_000):06d}"

    def sdk() -> object:
        return reused.check_sms_verify_code_with_options(sdk_check_request(*wrong()), runtime)

    def seed() -> object:
        client = Client(bed.emulator.sdk_config())
        return client.check_sms_verify_code_with_options(sdk_check_request(*wrong()), runtime)

    return {"smsq": lambda: check_code(*wrong()), "sdk": sdk, "seed": seed}


def record_live_code(number: str) -> None:
    """Record ``number``'s code as sent, as a worker does after the provider accepted it."""
    import uuid  # noqa: PLC0415

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
