"""A lane backlog of 100 sends waiting at 1/s: nobody hoards it, operators see it, a kill loses none.

Issue 10's second acceptance item, at full size: it takes about two minutes, so ``make chaos``
runs it (marker ``chaos``), not ``make test``; ``tests/e2e/test_recovery.py`` runs the same
properties on four sends inside ``make test``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from producers import SendState, get_status, send_code
from producers.publisher import producer_app
from smsq.devstack.processes import Stack
from smsq.net import free_port
from tests.conftest import EmulatorHandle, use_settings
from tests.e2e.helpers import wait_final
from tests.e2e.test_recovery import fresh_number, holder, kill
from tests.ops.test_flower_and_metrics import scrape

pytestmark = pytest.mark.chaos

LANE = "backlog"
SENDS = 100
CONCURRENCY = 2  # threads per worker; the prefetch multiplier is 1, so a worker may hold 2 messages


@pytest.fixture
def backlog_env(smsq_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    overrides = {
        "SMSQ_LANES": '{"default": "50/second", "backlog": "1/second"}',
        "SMSQ_SEND_DEADLINE_S": "140",  # the 100th send's slot is 100 s away
        "SMSQ_RUN_LEASE_S": "4",
        "SMSQ_SEND_READ_TIMEOUT_S": "5",  # above the 1.5 s latency below (the test default is 1 s)
    }
    return {**smsq_env, **use_settings(monkeypatch, overrides)}


def held_by_celery() -> dict[str, int]:
    """Messages each worker holds, by Celery's own account (running + prefetched + ETA)."""
    inspect = producer_app().control.inspect(timeout=2.0)
    held: dict[str, int] = {}
    for method in ("active", "reserved", "scheduled"):
        for node, items in (getattr(inspect, method)() or {}).items():
            held[node] = held.get(node, 0) + len(items)
    return held


def test_a_backlog_of_100_waiting_sends_is_held_by_nobody_shown_to_operators_and_survives_a_kill(
    backlog_env: dict[str, str], emulator: EmulatorHandle, redis_client: redis.Redis
) -> None:
    emulator.set_faults(latency_ms=1500)  # every send is in flight for 1.5 s: a kill lands mid-call
    metrics_port = free_port()
    with Stack() as stack:
        workers = [
            stack.worker(
                {**backlog_env, "SMSQ_METRICS_PORT": str(metrics_port + i)},
                queues=[f"smsq.{LANE}"],
                concurrency=CONCURRENCY,
                name=f"backlog{i}",
            )
            for i in range(2)
        ]
        for worker in workers:
            worker.wait_for_log("ready.", timeout_s=60)
        phones = [fresh_number() for _ in range(SENDS)]
        tickets = [send_code(phone, lane=LANE).id for phone in phones]
        deadline = time.monotonic() + 30
        while redis_client.zcard(f"smsq:due:{LANE}") < SENDS // 2 and time.monotonic() < deadline:
            time.sleep(0.1)

        # 1. no worker process holds more than its prefetch
        held = held_by_celery()
        assert len(held) == 2 and all(count <= CONCURRENCY for count in held.values()), held

        # 2. the waiting sends show in `smsq status` and in a metric
        overview = subprocess.run(
            [str(Path(sys.executable).with_name("smsq")), "status", "--json"],
            env=backlog_env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        [row] = [row for row in json.loads(overview.stdout)["lanes"] if row["lane"] == LANE]
        assert row["waiting"] >= SENDS // 2, row
        waiting_metric = scrape(metrics_port)[("smsq_waiting_sends", frozenset({("lane", LANE)}))]
        assert waiting_metric >= SENDS // 2

        # 3. killing the worker that holds the current send loses none of them
        current = _a_send_in_flight(tickets)
        kill(holder(redis_client, workers, current))
        finals = [wait_final(ticket, timeout_s=200) for ticket in tickets]
    assert [status.state for status in finals] == [SendState.SENT] * SENDS, [
        (s.id, s.state, s.reason) for s in finals if s.state is not SendState.SENT
    ]
    assert all(len(emulator.messages(phone)) == 1 for phone in phones)
    assert all(status.sent_at is not None and status.sent_at <= status.deadline_at for status in finals)
    print(
        f"\nbacklog: {SENDS} sends at 1/s, held per worker {held}, waiting in `smsq status` "
        f"{row['waiting']}, smsq_waiting_sends {waiting_metric:.0f}; after the kill all sent once"
    )


def _a_send_in_flight(tickets: list[str], timeout_s: float = 20) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for ticket in tickets:
            if get_status(ticket).state is SendState.SENDING:
                return ticket
        time.sleep(0.1)
    raise AssertionError("no send was in flight")
