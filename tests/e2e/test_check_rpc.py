"""SMSQ_CHECK_MODE=worker: check_code as a synchronous RPC to dedicated check workers.

A web process and the gateway run with no Alibaba variable at all; the check workers hold the key.
The lockout stays exact, no worker means ServiceUnavailable within the bound with the attempt given
back, and no reply key outlives its call.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis

from producers import CheckResult, SendState, ServiceUnavailable, acheck_code, check_code, send_code
from producers.constants import CHECK_QUEUE
from producers.rpc import REDIS_CLOCK
from smsq.devstack.processes import Child, Stack, wait_until
from smsq.net import free_port
from tests.conftest import EmulatorHandle, clear_process_caches, record_sent
from tests.e2e.helpers import wait_final
from tests.smsq.gateway_client import Gateway

#: Every variable that would let a process reach Alibaba: none is set for the web tier here.
ALIBABA_VARIABLES = (
    "ALIBABA_CLOUD_ACCESS_KEY_ID",
    "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
    "ALIBABA_CLOUD_SECURITY_TOKEN",
    "SMSQ_ALIYUN_ENDPOINT",
    "SMSQ_ALIYUN_PROTOCOL",
)
TIMEOUT_S = 2.0


def fresh_number() -> str:
    return f"139{uuid.uuid4().int % 10**8:08d}"


def web_environment(env: dict[str, str]) -> dict[str, str]:
    """A web tier's variables in worker mode: Redis and the data keys, nothing of Alibaba."""
    web = {name: value for name, value in env.items() if name not in ALIBABA_VARIABLES}
    return web | {"SMSQ_CHECK_MODE": "worker", "SMSQ_CHECK_TIMEOUT_S": str(TIMEOUT_S)}


@pytest.fixture(scope="module")
def check_worker(processes: Stack, worker_env: dict[str, str]) -> Iterator[Child]:
    """A dedicated check worker (``smsq worker --check``), with the Alibaba key."""
    child = processes.smsq_worker(
        worker_env,
        node=f"check-{uuid.uuid4().hex[:6]}@%h",
        concurrency=16,
        name="check-worker",
        extra_args=["--check", "--without-mingle"],
    )
    child.wait_for_log("ready.", timeout_s=60)
    yield child
    child.stop()
    processes.children.remove(child)


@pytest.fixture
def web_env(smsq_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """This process as a web process in worker mode, with no Alibaba variable set."""
    for name in ALIBABA_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    web = web_environment(smsq_env)
    for name, value in web.items():
        monkeypatch.setenv(name, value)
    clear_process_caches()
    yield web
    clear_process_caches()


def rpc_keys(client: redis.Redis, *, deadline_in_s: float = TIMEOUT_S) -> list[str]:
    """What the calls left behind: every RPC key but the marks of answered calls, each of which
    lives at most until its call's deadline, ``deadline_in_s`` from the call (a copy of its
    message is refused meanwhile)."""
    left = []
    for key in sorted(client.scan_iter("smsq:rpc:*")):
        ttl_ms = client.pttl(key)
        if client.get(key) != "answered" or not 0 < ttl_ms <= deadline_in_s * 1000:
            left.append(key)
    return left


def sent_code(phone: str, emulator: EmulatorHandle) -> str:
    assert wait_final(send_code(phone).id).state is SendState.SENT
    return str(emulator.messages(phone)[0]["code"])


@pytest.mark.usefixtures("workers", "check_worker")
def test_a_web_process_and_the_gateway_without_alibaba_variables_check_through_the_check_workers(
    web_env: dict[str, str], emulator: EmulatorHandle, processes: Stack, redis_client: redis.Redis
) -> None:
    """Acceptance 1: right passes, wrong fails with attempts_left, the 6th is locked, and 200
    concurrent wrong checks through the gateway reach the provider exactly 5 times."""
    child_env = {name: value for name, value in os.environ.items() if name not in ALIBABA_VARIABLES}
    # a web process: five wrong answers, a sixth locked, then another number's right code passes
    wrong_phone, right_phone = fresh_number(), fresh_number()
    sent_code(wrong_phone, emulator)
    right_code = sent_code(right_phone, emulator)
    answers = []
    for phone, codes in ((wrong_phone, ["00000000"] * 6), (right_phone, ["00000000", right_code])):
        web = subprocess.run(
            [sys.executable, "-m", "tests.e2e.check_web", phone],
            input="\n".join(codes) + "\n",
            env={**child_env, **web_env},
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        *checks, loaded = [json.loads(line) for line in web.stdout.splitlines()]
        assert loaded == {"sdk_modules": []}, "a web process in worker mode loads no Alibaba SDK"
        answers += checks
    assert answers == [
        *({"passed": False, "attempts_left": left} for left in (4, 3, 2, 1, 0)),
        {"error": "CheckLocked"},
        {"passed": False, "attempts_left": 4},
        {"passed": True, "attempts_left": 5},
    ]
    assert emulator.stats()["check_requests"] == 7

    # the gateway: 200 concurrent wrong checks of one code, exactly 5 reach the provider
    gateway_url = processes.gateway({**child_env, **web_env}, free_port(), name="gateway-worker-mode")
    gateway = Gateway(gateway_url, processes.children[-1])
    storm_phone = fresh_number()
    sent_code(storm_phone, emulator)
    before = emulator.stats()["check_requests"]
    body = {"phone": storm_phone, "code": "00000000"}
    with ThreadPoolExecutor(max_workers=50) as pool:
        replies = list(pool.map(lambda _: gateway.call("POST", "/v1/checks", body), range(200)))
    statuses = sorted(reply.status for reply in replies)
    assert statuses == [200] * 5 + [429] * 195, [reply.text for reply in replies if reply.status >= 500]
    failed = sorted(reply.json["attempts_left"] for reply in replies if reply.status == 200)
    assert failed == [0, 1, 2, 3, 4]
    assert emulator.stats()["check_requests"] - before == 5
    assert rpc_keys(redis_client) == []


@pytest.mark.usefixtures("workers", "check_worker")
def test_no_reply_key_outlives_a_passed_or_failed_check(
    web_env: dict[str, str], emulator: EmulatorHandle, redis_client: redis.Redis
) -> None:
    phone = fresh_number()
    code = sent_code(phone, emulator)
    assert check_code(phone, "00000000") == CheckResult(False, 4)
    assert rpc_keys(redis_client) == []
    assert check_code(phone, code).passed
    assert rpc_keys(redis_client) == []


def acheck_code_run(phone: str, code: str) -> CheckResult:
    """``acheck_code`` on an event loop of its own: it waits with BLPOP on redis.asyncio."""
    return asyncio.run(acheck_code(phone, code))


@pytest.mark.parametrize("check_code", [check_code, acheck_code_run], ids=["sync", "async"])
def test_with_every_worker_stopped_a_check_is_unavailable_within_the_bound_and_gives_the_attempt_back(
    web_env: dict[str, str],
    emulator: EmulatorHandle,
    processes: Stack,
    monkeypatch: pytest.MonkeyPatch,
    check_code: Callable[[str, str], CheckResult],
) -> None:
    """Acceptance 3, on a Redis of its own that no worker of any kind serves (both APIs)."""
    lonely_url = processes.redis()
    monkeypatch.setenv("SMSQ_REDIS_URL", lonely_url)
    clear_process_caches()
    client = redis.Redis.from_url(lonely_url, decode_responses=True)
    phone = fresh_number()
    record_sent(client, phone)
    started = time.monotonic()
    with pytest.raises(ServiceUnavailable, match="no check worker answered"):
        check_code(phone, "00000000")
    waited = time.monotonic() - started
    assert TIMEOUT_S <= waited < TIMEOUT_S + 1.0
    assert [client.get(key) for key in client.scan_iter("smsq:checks:*")] == ["0"]  # given back
    assert emulator.stats()["check_requests"] == 0
    assert rpc_keys(client) == []
    assert client.llen(CHECK_QUEUE) == 1  # the message waits, past its deadline: never answered


@pytest.mark.usefixtures("workers", "check_worker")
def test_a_late_answer_counts_once_never_passes_the_check_and_leaves_no_key(
    web_env: dict[str, str],
    emulator: EmulatorHandle,
    redis_client: redis.Redis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The caller gives up at 0.5 s while the worker's provider call takes 0.8 s: the caller is told
    ServiceUnavailable and the attempt stays counted (the provider judged it); the worker's PASS
    arrives after that and is dropped, so the send is not verified."""
    phone = fresh_number()
    code = sent_code(phone, emulator)
    ticket = emulator.messages(phone)[0]["out_id"]
    monkeypatch.setenv("SMSQ_CHECK_TIMEOUT_S", "0.5")
    clear_process_caches()
    emulator.set_faults(latency_ms=800)
    with pytest.raises(ServiceUnavailable, match="the attempt counts"):
        check_code(phone, code)
    # the worker's answer comes 0.3 s later, and is dropped: its claim goes, nothing else appears
    wait_until(lambda: rpc_keys(redis_client) == [], timeout_s=10, what="the worker's late answer")
    assert emulator.stats()["check_requests"] == 1  # the worker did ask
    assert redis_client.get(f"smsq:checks:{ticket}") == "1"  # counted once, not given back
    assert redis_client.hget(f"smsq:send:{ticket}", "state") == "sent"  # never verified
    assert rpc_keys(redis_client) == []


@pytest.mark.usefixtures("workers", "check_worker")
@pytest.mark.parametrize("error_s", [-30.0, 30.0], ids=["reading-behind", "reading-ahead"])
def test_a_wrong_reading_of_the_redis_clock_never_yields_a_wrong_verdict_and_is_corrected(
    web_env: dict[str, str],
    emulator: EmulatorHandle,
    redis_client: redis.Redis,
    monkeypatch: pytest.MonkeyPatch,
    error_s: float,
) -> None:
    """A call's deadline is set from this process's reading of the Redis clock, before its
    reservation (whose script queues the task). Read 30 s behind, the deadline has passed by the
    server's clock: no worker may take the call, so the caller gets ServiceUnavailable at once
    and the attempt back; read 30 s ahead, the caller still waits no longer than its timeout. The
    reservation's reply corrects the reading: the next check is answered."""
    phone = fresh_number()
    code = sent_code(phone, emulator)
    monkeypatch.setattr(REDIS_CLOCK, "_offset_ms", REDIS_CLOCK._offset_ms + error_s * 1000)
    started = time.monotonic()
    if error_s < 0:
        with pytest.raises(ServiceUnavailable, match="no check worker answered"):
            check_code(phone, "00000000")
        assert time.monotonic() - started < TIMEOUT_S
        assert emulator.stats()["check_requests"] == 0
        assert check_code(phone, "00000000") == CheckResult(False, 4)  # the first was given back
    else:
        assert check_code(phone, "00000000") == CheckResult(False, 4)
    assert abs(REDIS_CLOCK.now_ms() - int(redis_client.time()[0]) * 1000) < 2000
    assert check_code(phone, code).passed
    # read ahead, the calls' deadlines lie error_s later: so do their marks' ends
    deadline_in_s = TIMEOUT_S + max(0.0, error_s)
    wait_until(
        lambda: rpc_keys(redis_client, deadline_in_s=deadline_in_s) == [],
        timeout_s=5,
        what="the calls' keys to go",
    )
