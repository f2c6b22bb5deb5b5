"""The command line: ``smsq emulator`` is the same command as ``python -m smsq.emulator``."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from click.testing import CliRunner

from smsq.cli import main
from smsq.cli.emulator_cmd import emulator as smsq_emulator
from smsq.emulator.cli import emulator as emulator_command
from smsq.net import free_port
from tests.conftest import EmulatorHandle
from tests.smsq.emulator.emu_helpers import fresh_phone, send_request


def test_smsq_emulator_is_the_emulator_command() -> None:
    assert smsq_emulator is emulator_command
    result = CliRunner().invoke(main, ["emulator", "--help"])
    assert result.exit_code == 0
    for option in (
        "--access-key-id",
        "--key",
        "--seed",
        "--rate-limit",
        "--retry-after-ms",
        "--daily-limit",
        "--throttle-rate",
        "--error-502-rate",
        "--hang-rate",
        "--drop-rate",
        "--hang-s",
        "--sign-name",
    ):
        assert option in result.output


def test_mismatched_key_options_are_a_usage_error() -> None:
    result = CliRunner().invoke(
        emulator_command, ["--access-key-id", "a", "--access-key-id", "b", "--access-key-secret", "s"]
    )
    assert result.exit_code == 2


def test_several_key_pairs_and_flags_are_honoured(processes: Any) -> None:
    endpoint = processes.emulator(
        free_port(),
        "first-key",
        "first-secret",
        [
            "--key",
            "second-key:second-secret",
            "--sign-name",
            "我的测试签名",
            "--daily-limit",
            "1",
            "--retry-after-ms",
            "300",
        ],
        name="emulator-cli-flags",
    )
    second = EmulatorHandle(endpoint, "second-key", "second-secret")
    phone = fresh_phone()
    body = (
        second.sdk_client()
        .send_sms_verify_code(send_request(phone, sign_name="我的测试签名", interval=0))
        .body
    )
    assert body.code == "OK"
    assert second.messages(phone)[0]["access_key_id"] == "second-key"
    again = second.sdk_client().send_sms_verify_code(send_request(phone, sign_name="我的测试签名"))
    assert again.body.code == "BUSINESS_LIMIT_CONTROL"
    first = EmulatorHandle(endpoint, "first-key", "first-secret")
    assert (
        first.sdk_client().send_sms_verify_code(send_request(fresh_phone())).body.code
        == "SmsSignNameNotExist"
    )


def test_binding_beyond_loopback_warns_on_stderr() -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "smsq.emulator",
            "--host",
            "0.0.0.0",
            "--port",
            str(free_port()),
            "--key",
            "k:s",
        ],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stderr is not None
        assert "WARNING" in process.stderr.readline()
    finally:
        process.terminate()
        process.wait(timeout=10)
