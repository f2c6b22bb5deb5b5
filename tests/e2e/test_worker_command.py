"""``smsq worker`` runs smsq's own worker, whatever the folder it is started from holds."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from producers import SendState, get_status, send_code
from smsq.devstack.processes import Stack
from tests.conftest import EmulatorHandle, clear_process_caches, smsq_environment

SMSQ = str(Path(sys.executable).parent / "smsq")
LANES = '{"default": "50/second", "shadow": "50/second"}'


def test_smsq_worker_serves_sends_from_a_folder_holding_its_own_worker_and_producers(
    tmp_path: Path,
    redis_url: str,
    redis_client: redis.Redis,
    emulator: EmulatorHandle,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # what a web project may well have: its own worker.py and a producers package
    (tmp_path / "worker.py").write_text("raise SystemExit('the folder\\'s worker.py was imported')\n")
    (tmp_path / "producers").mkdir()
    (tmp_path / "producers" / "__init__.py").write_text("raise SystemExit('the folder\\'s producers')\n")
    env = smsq_environment(redis_url, emulator, SMSQ_LANES=LANES)
    with Stack() as stack:
        worker = stack.spawn("shadowed", [SMSQ, "worker", "-Q", "smsq.shadow", "-c", "2"], env, cwd=tmp_path)
        worker.wait_for_log("ready.", timeout_s=60)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        clear_process_caches()
        ticket = send_code("13522229999", lane="shadow")
        deadline = time.monotonic() + 30
        status = get_status(ticket.id)
        while not status.state.final and time.monotonic() < deadline:
            time.sleep(0.05)
            status = get_status(ticket.id)
        log = worker.log_path.read_text() if worker.log_path else ""
    clear_process_caches()
    assert status.state is SendState.SENT, log
    assert "folder" not in log
    assert len(emulator.messages(phone="13522229999")) == 1


@pytest.mark.parametrize("command", [["smsq", "worker"], ["celery", "-A", "worker.app", "worker"]])
def test_a_worker_without_the_data_keys_refuses_to_start_in_one_line(
    redis_url: str, emulator: EmulatorHandle, command: list[str]
) -> None:
    """Finding 7: a worker that cannot open the records it takes must not take any."""
    env = smsq_environment(redis_url, emulator)
    del env["SMSQ_ENCRYPTION_KEYS"]
    argv = [str(Path(sys.executable).parent / command[0]), *command[1:], "-Q", "smsq.nothing", "-c", "1"]
    clean = {name: value for name, value in os.environ.items() if not name.startswith("SMSQ_")}
    result = subprocess.run(
        argv, env={**clean, **env}, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if "SMSQ_ENCRYPTION_KEYS" in line]
    assert lines == [
        "smsq: configuration error: SMSQ_ENCRYPTION_KEYS is not set: smsq keeps phone numbers out of Redis "
        "with it (generate one with `openssl rand -base64 32 | tr '+/' '-_'`; `smsq dev` writes its own to "
        "dev.env)"
    ], result.stderr[-2000:]
    assert "Traceback" not in result.stderr
