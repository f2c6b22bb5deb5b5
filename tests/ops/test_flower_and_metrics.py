"""Operators' views against real processes: Flower shows every send without a phone number, and a
host's /metrics adds up its worker processes."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid

import pytest

from producers import SendState, check_code, mask_phone, send_code
from smsq.devstack.processes import Stack, http_ok, wait_until
from smsq.net import free_port
from tests.conftest import EmulatorHandle, clear_process_caches
from tests.e2e.helpers import wait_final

LANES = '{"default": "50/second", "ops": "100/second"}'


def fresh_number() -> str:
    return f"1391{uuid.uuid4().int % 10**7:07d}"


def get(url: str, auth: str | None = None) -> str:
    request = urllib.request.Request(url)
    if auth:
        request.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read().decode()


FLOWER_AUTH = "ops:flower-test-password"


def start_flower(stack: Stack, env: dict[str, str], port: int) -> None:
    """``smsq flower`` on ``port`` behind basic auth, once it answers."""
    stack.spawn(
        "flower",
        [sys.executable, "-m", "smsq.cli", "flower", "--port", str(port)],
        {**env, "SMSQ_FLOWER_BASIC_AUTH": FLOWER_AUTH},
    )
    wait_until(lambda: http_ok(f"http://127.0.0.1:{port}/healthcheck"), timeout_s=60, what="Flower")


@pytest.fixture
def ops_lane(smsq_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The producer and a dedicated worker use lane "ops", which the session workers never consume."""
    monkeypatch.setenv("SMSQ_LANES", LANES)
    clear_process_caches()
    return {**smsq_env, "SMSQ_LANES": LANES}


def test_flower_shows_every_send_with_its_final_state_and_no_phone_number(
    ops_lane: dict[str, str], emulator: EmulatorHandle
) -> None:
    auth, port = FLOWER_AUTH, free_port()
    with Stack() as stack:
        start_flower(stack, ops_lane, port)
        worker = stack.worker(ops_lane, queues=["smsq.ops"], concurrency=4, name="ops-worker")
        worker.wait_for_log("ready.", timeout_s=60)
        phones = [fresh_number() for _ in range(3)] + ["13900000007"]
        tickets = [send_code(phone, lane="ops").id for phone in phones]
        for ticket in tickets:
            assert wait_final(ticket).state in (SendState.SENT, SendState.FAILED)

        def flower_has_all() -> bool:
            tasks = json.loads(get(f"http://127.0.0.1:{port}/api/tasks", auth))
            return all(tasks.get(t, {}).get("state") == "SUCCESS" for t in tickets)

        wait_until(flower_has_all, timeout_s=30, what="Flower's task list")
        api = get(f"http://127.0.0.1:{port}/api/tasks", auth)
        pages = [
            get(f"http://127.0.0.1:{port}/task/{tickets[0]}", auth),
            get(f"http://127.0.0.1:{port}/tasks", auth),
        ]
        tasks = json.loads(api)
        assert {tasks[t]["name"] for t in tickets} == {"smsq.send_code"}
        assert mask_phone(phones[0]) in api  # operators can still tell sends apart
        for phone in phones:
            for text in (api, *pages):
                assert phone not in text


@pytest.mark.usefixtures("workers")
def test_flower_shows_check_tasks_with_neither_the_number_nor_the_code(
    smsq_env: dict[str, str], emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SMSQ_CHECK_MODE=worker publishes smsq.check_code: Flower lists those tasks, masked."""
    monkeypatch.setenv("SMSQ_CHECK_MODE", "worker")
    clear_process_caches()
    auth, port = FLOWER_AUTH, free_port()
    with Stack() as stack:
        start_flower(stack, smsq_env, port)
        check_worker = stack.spawn(
            "check-worker", [sys.executable, "-m", "smsq.cli", "worker", "--check", "-c", "4"], smsq_env
        )
        check_worker.wait_for_log("ready.", timeout_s=60)
        phone = fresh_number()
        assert wait_final(send_code(phone).id).state is SendState.SENT
        code = emulator.messages(phone)[0]["code"]
        wrong = "13572468"
        assert not check_code(phone, wrong).passed
        assert check_code(phone, code).passed

        def check_tasks() -> dict[str, dict[str, object]]:
            tasks = json.loads(get(f"http://127.0.0.1:{port}/api/tasks", auth))
            return {key: task for key, task in tasks.items() if task.get("name") == "smsq.check_code"}

        try:
            wait_until(
                lambda: [task.get("state") for task in check_tasks().values()] == ["SUCCESS"] * 2,
                timeout_s=30,
                what="Flower's check tasks",
            )
        except TimeoutError:
            raise AssertionError(f"Flower shows {check_tasks()}") from None
        texts = [get(f"http://127.0.0.1:{port}/api/tasks", auth), get(f"http://127.0.0.1:{port}/tasks", auth)]
        texts += [get(f"http://127.0.0.1:{port}/task/{token}", auth) for token in check_tasks()]
        texts += [get(f"http://127.0.0.1:{port}/api/task/info/{token}", auth) for token in check_tasks()]
        assert mask_phone(phone) in texts[0]  # operators can still tell checks apart
        for text in texts:
            for secret in (phone, phone[3:], code, wrong):
                assert secret not in text


def scrape(port: int) -> dict[tuple[str, frozenset], float]:
    samples: dict[tuple[str, frozenset], float] = {}
    for line in get(f"http://127.0.0.1:{port}/metrics").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name_labels, value = line.rsplit(" ", 1)
        if "{" in name_labels:
            name, labels = name_labels.split("{", 1)
            pairs = frozenset(
                tuple(p.split("=", 1)) for p in labels.rstrip("}").replace('"', "").split(",") if p
            )
        else:
            name, pairs = name_labels, frozenset()
        samples[(name, pairs)] = float(value)
    return samples


def test_a_hosts_metrics_count_every_send_by_outcome_across_its_worker_processes(
    ops_lane: dict[str, str], emulator: EmulatorHandle
) -> None:
    port = free_port()
    heartbeat = f"{tempfile.mkdtemp()}/heartbeat"
    env = {
        **ops_lane,
        "SMSQ_METRICS_PORT": str(port),
        "PROMETHEUS_MULTIPROC_DIR": tempfile.mkdtemp(),
        "SMSQ_HEARTBEAT_FILE": heartbeat,
    }
    with Stack() as stack:
        worker = stack.spawn(
            "prefork-worker",
            [
                sys.executable,
                "-m",
                "smsq.cli",
                "worker",
                "-Q",
                "smsq.ops",
                "--pool",
                "prefork",
                "-c",
                "3",
            ],
            env,
        )
        worker.wait_for_log("ready.", timeout_s=60)
        ok = [send_code(fresh_number(), lane="ops").id for _ in range(5)]
        bad = [send_code("13900000008", lane="ops").id]
        for ticket in ok + bad:
            wait_final(ticket)
        time.sleep(0.5)
        samples = scrape(port)
        wait_until(lambda: os.path.exists(heartbeat), timeout_s=10, what="the worker's heartbeat file")
        alive = subprocess.run(
            [sys.executable, "-m", "smsq.cli", "worker", "--healthcheck"],
            env={**os.environ, **env},
            capture_output=True,
            check=False,
        )
        pids = {
            line.split("ForkPoolWorker-")[1].split("]")[0]
            for line in worker.log_path.read_text().splitlines()
            if "ForkPoolWorker-" in line
        }
    sent = samples[("smsq_sends_total", frozenset({("lane", "ops"), ("outcome", "sent"), ("reason", "ok")}))]
    failed = samples[
        (
            "smsq_sends_total",
            frozenset({("lane", "ops"), ("outcome", "failed"), ("reason", "provider_daily_limit")}),
        )
    ]
    assert (sent, failed) == (5.0, 1.0)
    assert len(pids) > 1, "the sends were spread over more than one worker process"
    assert samples[("smsq_queue_depth", frozenset({("lane", "ops")}))] == 0.0
    assert alive.returncode == 0, "smsq worker --healthcheck sees the running worker's heartbeat"
    dead = subprocess.run(
        [sys.executable, "-m", "smsq.cli", "worker", "--healthcheck"],
        env={**os.environ, **env, "SMSQ_HEARTBEAT_FILE": f"{heartbeat}.missing"},
        capture_output=True,
        check=False,
    )
    assert dead.returncode == 1
