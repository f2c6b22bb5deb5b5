"""The two commands a newcomer runs first: ``smsq demo`` proves the system end to end, ``smsq dev``
runs it until Ctrl-C and leaves nothing behind."""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from smsq.devstack.local import parse_env
from smsq.devstack.processes import Stack, http_ok, redis_answers, redis_server_binary, wait_until
from smsq.net import free_port


def smsq(*args: str) -> list[str]:
    return [sys.executable, "-m", "smsq.cli", *args]


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    """A Redis of these tests' own: the session's workers consume the shared one with the test
    suite's data keys, and would take (and fail to open) the sends of a stack with its own keys."""
    with Stack() as stack:
        yield stack.redis()


def test_the_demo_sends_checks_a_wrong_and_the_right_code_and_exits_0(redis_url: str) -> None:
    env = {**os.environ, "SMSQ_REDIS_URL": redis_url}
    env.pop("ALIBABA_CLOUD_ACCESS_KEY_ID", None)
    result = subprocess.run(
        smsq("demo", "--provider-latency-ms", "1000"),
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "check_code(wrong code) -> passed=False" in out
    assert "check_code(right code) -> passed=True" in out
    assert "status now: verified" in out
    # send_code() returned before the send happened: its ticket was still queued...
    assert re.search(r"-> ticket [0-9a-f]{32} \[queued\]", out), out
    # ...and the worker paid the provider's 1 s: a status that read "sent" sooner would be a lie
    delivered_ms = float(re.search(r"after ([0-9]+) ms", out).group(1))  # type: ignore[union-attr]
    assert delivered_ms >= 1000, out


def test_dev_runs_the_stack_until_interrupted_and_leaves_no_process_behind(
    redis_url: str, tmp_path: Path
) -> None:
    home = tmp_path / "dev-home"
    env = {**os.environ, "SMSQ_REDIS_URL": redis_url, "PYTHONUNBUFFERED": "1", "SMSQ_DEV_HOME": str(home)}
    env.pop("ALIBABA_CLOUD_ACCESS_KEY_ID", None)
    dev = subprocess.Popen(
        smsq("dev", "--concurrency", "2"),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # as a shell starts a background job (`make dev &`): SIGINT ignored, yet it must stop on it
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),  # noqa: PLW1509 - no threads here
    )
    lines: list[str] = []
    try:
        assert dev.stdout is not None
        for line in dev.stdout:
            lines.append(line)
            if line.startswith("logs:"):
                break
        banner = "".join(lines)
        assert "smsq dev is running" in banner, banner
        outbox = re.search(r"Emulator\s+(\S+)", banner).group(1)  # type: ignore[union-attr]
        flower = re.search(r"Flower\s+(\S+)", banner).group(1)  # type: ignore[union-attr]
        assert http_ok(outbox) and http_ok(f"{flower}/healthcheck")
        assert "smsq send 13511112222" in banner
        children = psutil.Process(dev.pid).children(recursive=True)
        assert len(children) >= 3  # emulator, worker, Flower (and Redis when none answered)
        # what a web app loads: the stack's settings, readable by their owner only, never printed
        exports = subprocess.run(smsq("env"), env=env, capture_output=True, text=True, check=True).stdout
        assert f"export SMSQ_REDIS_URL={redis_url}" in exports
        key = re.search(r"ALIBABA_CLOUD_ACCESS_KEY_SECRET=(\S+)", exports).group(1)  # type: ignore[union-attr]
        assert key not in banner
        assert stat.S_IMODE((home / "dev.env").stat().st_mode) == 0o600
        assert stat.S_IMODE(home.stat().st_mode) == 0o700
        # a newcomer sees the carrier's receipt arrive: the emulator pushes it to the dev gateway
        secret_file = home / "dev-receipts.env"
        assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
        secret = re.search(r'SMSQ_RECEIPT_PATH_SECRET="(\S+)"', secret_file.read_text()).group(1)  # type: ignore[union-attr]
        assert secret not in banner and secret not in exports
        gateway = re.search(r"Gateway\s+(\S+)/v1/", banner).group(1)  # type: ignore[union-attr]
        assert http_ok(f"{gateway}/healthz")
        stack_env = {**env, **parse_env((home / "dev.env").read_text())}  # what `eval "$(smsq env)"` sets
        phone = f"135{uuid.uuid4().int % 10**8:08d}"
        sent = subprocess.run(
            smsq("send", phone, "--wait", "30", "--json"),
            env=stack_env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert sent.returncode == 0, sent.stdout + sent.stderr
        ticket = json.loads(sent.stdout)["ticket"]

        def status() -> dict[str, object]:
            shown = subprocess.run(
                smsq("status", ticket, "--json"), env=stack_env, capture_output=True, text=True, check=True
            )
            return json.loads(shown.stdout)  # type: ignore[no-any-return]

        wait_until(
            lambda: status()["delivery"] == "delivered",
            timeout_s=60,
            what="delivery=delivered",
            interval_s=0.5,
        )
        final = status()
        assert (final["state"], final["carrier_code"]) == ("sent", "DELIVERED")
        text = subprocess.run(
            smsq("status", ticket), env=stack_env, capture_output=True, text=True, check=True
        ).stdout
        assert re.search(r"delivery: delivered", text), text
        log_dir = Path(banner.split("logs:", 1)[1].split()[0])
        logs = "".join(path.read_text(errors="replace") for path in log_dir.glob("*.log"))
        assert "POST /receipts/*** 200" in logs and secret not in logs
    finally:
        dev.send_signal(signal.SIGINT)
        dev.wait(timeout=60)
    assert not (home / "dev.env").exists()
    gone = subprocess.run(smsq("env"), env=env, capture_output=True, text=True, check=False)
    assert gone.returncode == 1 and "no smsq dev is running" in gone.stderr
    time.sleep(0.5)
    wait_until(
        lambda: not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in children),
        timeout_s=20,
        what="the dev stack's processes to exit",
    )


def test_the_redis_password_never_shows_on_screen_in_a_log_or_a_file_others_can_read(
    processes: Stack, tmp_path: Path
) -> None:
    """Finding 6: `smsq demo` printed the Redis URL of a running stack with its password, and a
    password containing "@" kept its tail in the banner."""
    password = f"pw@{uuid.uuid4().hex}"
    port = free_port()
    processes.spawn(
        "redis-with-password",
        [redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--requirepass", password],
    )  # fmt: skip
    url = f"redis://:{password}@127.0.0.1:{port}/0"
    wait_until(lambda: redis_answers(url), timeout_s=10, what="redis with a password")
    home = tmp_path / "dev-home"
    env = {**os.environ, "SMSQ_REDIS_URL": url, "PYTHONUNBUFFERED": "1", "SMSQ_DEV_HOME": str(home)}
    for name in ("ALIBABA_CLOUD_ACCESS_KEY_ID", "SMSQ_HASH_KEYS", "SMSQ_ENCRYPTION_KEYS"):
        env.pop(name, None)
    dev = subprocess.Popen(
        smsq("dev", "--concurrency", "2", "--no-flower"),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    try:
        assert dev.stdout is not None
        for line in dev.stdout:
            lines.append(line)
            if line.startswith("logs:"):
                break
        banner = "".join(lines)
        assert f"redis://:***@127.0.0.1:{port}/0" in banner, banner
        log_dir = Path(banner.split("logs:", 1)[1].strip())
        demo = subprocess.run(
            smsq("demo", "--provider-latency-ms", "0"),
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert demo.returncode == 0, demo.stdout + demo.stderr
        assert "reusing the running smsq dev stack (redis://:***@" in demo.stdout
        for shown in (banner, demo.stdout + demo.stderr):
            assert password not in shown and password.split("@")[1] not in shown
        for log in log_dir.glob("*.log"):
            assert password.split("@")[1] not in log.read_text(errors="replace"), log.name
        # the files that hold it (and the dev stack's keys) are readable by their owner only
        for name in ("dev.env", "dev.json", "dev-key.env", "dev-data-keys.env"):
            assert stat.S_IMODE((home / name).stat().st_mode) == 0o600, name
        assert "SMSQ_ENCRYPTION_KEYS" in (home / "dev.env").read_text()
    finally:
        dev.send_signal(signal.SIGINT)
        dev.wait(timeout=60)
