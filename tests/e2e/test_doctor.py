"""``smsq doctor`` passes on a working stack and names the part that is down."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from producers.constants import NO_CLOUD_PROBES
from smsq.devstack.processes import Stack
from smsq.net import free_port

SMSQ = str(Path(sys.executable).parent / "smsq")


def _doctor(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {name: value for name, value in os.environ.items() if not name.startswith(("SMSQ_", "ALIBABA"))}
    return subprocess.run(
        [SMSQ, "doctor"],
        env={**clean, **NO_CLOUD_PROBES, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_doctor_passes_every_check_on_a_running_stack(workers: Stack, worker_env: dict[str, str]) -> None:
    result = _doctor(worker_env)
    lines = result.stdout.splitlines()
    assert result.returncode == 0, result.stdout + result.stderr
    names = [line.split()[1] for line in lines]
    assert names == ["configuration", "redis", "broker", "workers", "data-keys", "credentials", "provider"]
    assert all(line.split()[0] in ("ok", "warn") for line in lines), result.stdout
    assert [line for line in lines if line.startswith("ok") and "provider" in line.split()[1]]
    assert worker_env["ALIBABA_CLOUD_ACCESS_KEY_SECRET"] not in result.stdout


def test_doctor_names_redis_when_it_is_down_and_skips_what_needs_it(
    worker_env: dict[str, str],
) -> None:
    env = worker_env | {"SMSQ_REDIS_URL": f"redis://:pw-not-shown@127.0.0.1:{free_port()}/0"}
    result = _doctor(env)
    assert result.returncode == 1
    lines = {line.split()[1]: line for line in result.stdout.splitlines()}
    assert lines["redis"].startswith("FAIL") and "start Redis" in lines["redis"]
    assert lines["workers"].startswith("skip") and lines["broker"].startswith("skip")
    assert lines["provider"].startswith("ok")  # the provider does not need Redis
    assert "pw-not-shown" not in result.stdout


def test_doctor_says_when_the_key_is_refused(worker_env: dict[str, str]) -> None:
    result = _doctor(worker_env | {"ALIBABA_CLOUD_ACCESS_KEY_SECRET": "not-the-emulators-secret"})
    provider = next(line for line in result.stdout.splitlines() if line.split()[1] == "provider")
    assert result.returncode == 1
    assert provider.startswith("FAIL") and "SignatureDoesNotMatch" in provider, result.stdout


def test_doctor_says_when_the_data_keys_are_missing(worker_env: dict[str, str]) -> None:
    env = {name: value for name, value in worker_env.items() if name != "SMSQ_HASH_KEYS"}
    result = _doctor(env)
    keys = next(line for line in result.stdout.splitlines() if line.split()[1] == "data-keys")
    assert result.returncode == 1
    assert keys.startswith("FAIL") and "SMSQ_HASH_KEYS is not set" in keys, result.stdout


def test_doctor_on_a_keyless_web_host_in_worker_mode_asks_for_a_check_worker_not_a_key(
    workers: Stack, worker_env: dict[str, str]
) -> None:
    """The session's workers serve the lanes only: no check worker answers for smsq.check."""
    web = {
        name: value for name, value in worker_env.items() if not name.startswith(("ALIBABA", "SMSQ_ALIYUN"))
    }
    result = _doctor(web | {"SMSQ_CHECK_MODE": "worker"})
    lines = {line.split()[1]: line for line in result.stdout.splitlines()}
    assert result.returncode == 1
    assert lines["workers"].startswith("FAIL") and "smsq worker --check" in lines["workers"]
    assert lines["credentials"].startswith("ok") and "none needed" in lines["credentials"]
    assert lines["provider"].startswith("ok") and "worker host" in lines["provider"]
