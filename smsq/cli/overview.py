"""``smsq status`` without a ticket: the fleet at a glance for a person at a terminal."""

from __future__ import annotations

import json
import time
from typing import Any

import click
import redis
from kombu.exceptions import OperationalError

from producers import constants
from producers.connections import get_redis
from producers.errors import ServiceUnavailable
from producers.publisher import producer_app
from producers.receipts import DeliveryCount, ReceiptOutcome, delivery_counts
from producers.settings import get_settings, redacted_url
from producers.store import check_results
from worker.limiter import LaneState, UpstreamLimiter

MINUTES = 5
_OUTCOMES = ("queued", "sent", "verified", "failed", "expired")


def _limiter_text(state: LaneState) -> str:
    parts = [f"next slot in {state.next_slot_in_s * 1000:.0f} ms" if state.next_slot_in_s else "free now"]
    if state.slowdown > 1:
        parts.append(f"slowed x{state.slowdown:g} for {state.slowdown_left_s:.1f} s (provider throttling)")
    return "; ".join(parts)


def collect() -> dict[str, Any]:
    """Everything the overview shows, as data. Raises :class:`ServiceUnavailable` when Redis or the
    broker does not answer (asked first: the broker client would retry for seconds)."""
    settings = get_settings()
    client = get_redis()
    limiter = UpstreamLimiter.from_settings(settings, client)
    try:
        seconds, micros = client.time()
    except redis.RedisError as exc:
        raise ServiceUnavailable("Redis is unavailable") from exc
    try:
        replies = producer_app().control.ping(timeout=1.0) or []
    except (OperationalError, OSError) as exc:  # kombu's connection errors
        raise ServiceUnavailable("the broker is unavailable") from exc
    workers = sorted(name for reply in replies for name in reply)
    now_us = int(seconds) * 1_000_000 + int(micros)
    minute = now_us // 60_000_000
    pipe = client.pipeline(transaction=False)
    for lane in settings.lanes:
        pipe.llen(constants.queue_for_lane(lane))
    for lane in settings.lanes:
        pipe.zcard(constants.due_key(lane))
    for offset in range(MINUTES):
        pipe.hgetall(constants.minute_stats_key(minute - offset))
    pipe.hgetall(constants.stats_key("checks"))
    pipe.hgetall(constants.stats_key("rejected"))
    pipe.hgetall(constants.stats_key("monitored"))
    pipe.hgetall(constants.stats_key("receipts"))
    pipe.hgetall(constants.stats_key("deliveries"))
    replies_ = pipe.execute()
    lanes = list(settings.lanes)
    depths, waiting = replies_[: len(lanes)], replies_[len(lanes) : 2 * len(lanes)]
    per_minute = replies_[2 * len(lanes) : 2 * len(lanes) + MINUTES]
    checks, rejected, monitored, receipts, deliveries = replies_[2 * len(lanes) + MINUTES :]
    return {
        "redis": redacted_url(settings.redis_dsn),
        "workers": workers,
        "lanes": [
            {
                "lane": lane,
                "depth": depth,
                "waiting": parked,
                "rate": str(settings.lanes[lane]),
                "limiter": _limiter_text(limiter.lane_state(lane)),
            }
            for lane, depth, parked in zip(lanes, depths, waiting, strict=True)
        ],
        "per_minute": [
            {
                "minute": time.strftime("%H:%M", time.gmtime((minute - offset) * 60)),
                **{outcome: int(counts.get(outcome, 0)) for outcome in _OUTCOMES},
            }
            for offset, counts in enumerate(per_minute)
        ],
        "checks": check_results(checks),
        "rejected": {k: int(v) for k, v in rejected.items()},
        "monitored": {k: int(v) for k, v in monitored.items()},
        "delivery": delivery_summary(receipts, delivery_counts(deliveries)),
    }


def delivery_summary(receipts: dict[str, str], counts: list[DeliveryCount]) -> dict[str, Any]:
    """What the carriers reported (all time): the delivery ratio, sends by carrier code and by
    purpose, and what the receipts did."""
    totals = {"delivered": 0, "undelivered": 0}
    by_code: dict[str, int] = {}
    by_purpose: dict[str, dict[str, int]] = {}
    for count in counts:
        totals[count.result] = totals.get(count.result, 0) + count.count
        by_code[count.carrier_code] = by_code.get(count.carrier_code, 0) + count.count
        purpose = by_purpose.setdefault(count.purpose, {"delivered": 0, "undelivered": 0})
        purpose[count.result] = purpose.get(count.result, 0) + count.count
    return {
        **totals,
        "ratio": _ratio(totals),
        "by_carrier_code": dict(sorted(by_code.items(), key=lambda item: (-item[1], item[0]))),
        "by_purpose": {name: {**c, "ratio": _ratio(c)} for name, c in sorted(by_purpose.items())},
        "receipts": {outcome.value: int(receipts.get(outcome.value, 0)) for outcome in ReceiptOutcome},
    }


def _ratio(counts: dict[str, int]) -> float | None:
    seen = counts["delivered"] + counts["undelivered"]
    return round(counts["delivered"] / seen, 4) if seen else None


def delivery_lines(delivery: dict[str, Any]) -> list[str]:
    """The delivery section of the overview, as text lines."""
    if delivery["ratio"] is None:
        return ["Delivery (carrier receipts, all time): no receipt yet"]
    seen = delivery["delivered"] + delivery["undelivered"]
    lines = [
        f"Delivery (carrier receipts, all time): {delivery['ratio']:.1%} delivered "
        f"({delivery['delivered']} of {seen})",
        "  by carrier code: " + ", ".join(f"{code} {n}" for code, n in delivery["by_carrier_code"].items()),
        "  by purpose: "
        + ", ".join(
            f"{name} {c['ratio']:.1%} ({c['delivered']}/{c['delivered'] + c['undelivered']})"
            for name, c in delivery["by_purpose"].items()
        ),
    ]
    receipts = ", ".join(f"{k} {v}" for k, v in delivery["receipts"].items())
    return [*lines, f"  receipts: {receipts}"]


def print_overview(as_json: bool) -> None:
    """Print the overview (or its JSON)."""
    data = collect()
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False))
        return
    lines = [
        f"smsq fleet — Redis {data['redis']} — {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}",
        "",
    ]
    lines.append(f"Workers: {len(data['workers'])} live")
    lines += [f"  {name}" for name in data["workers"]] or ["  (none answered a ping within 1 s)"]
    lines += ["", f"  {'lane':<12}{'queued':>8}{'waiting':>9}  {'rate':<14}limiter"]
    lines += [
        f"  {row['lane']:<12}{row['depth']:>8}{row['waiting']:>9}  {row['rate']:<14}{row['limiter']}"
        for row in data["lanes"]
    ]
    lines += [
        "",
        "Sends per minute (UTC, newest first)",
        "  minute " + "".join(f"{o:>10}" for o in _OUTCOMES),
    ]
    lines += [
        f"  {row['minute']:<7}" + "".join(f"{row[o]:>10}" for o in _OUTCOMES) for row in data["per_minute"]
    ]
    summary = ", ".join(f"{k} {v}" for k, v in sorted(data["checks"].items())) or "none yet"
    lines += ["", f"Checks (all time): {summary}"]
    for title, key in (("Refused by limit", "rejected"), ("Monitor-mode hits", "monitored")):
        counts = ", ".join(f"{k} {v}" for k, v in sorted(data[key].items())) or "none"
        lines.append(f"{title}: {counts}")
    lines += delivery_lines(data["delivery"])
    click.echo("\n".join(lines))
