"""The two commands a newcomer runs first: ``smsq demo`` proves the system end to end, ``smsq dev``
runs it until Ctrl-C and leaves nothing behind."""

from __future__ import annotations

import os
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import psutil

from smsq.devstack.processes import http_ok, wait_until


def smsq(*args: str) -> list[str]:
    return [sys.executable, "-m", "smsq.cli", *args]


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
