"""The command line: ``smsq emulator`` is the same command as ``python -m smsq.emulator``."""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
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
        "--receipt-url",
        "--receipt-delay-ms",
        "--receipt-batch-size",
        "--receipt-timeout-ms",
        "--receipt-retry-scale",
        "--receipt-undelivered-rate",
        "--receipt-undelivered-prefix",
        "--receipt-duplicate-rate",
        "--receipt-reorder-rate",
        "--receipt-lost-rate",
        "--control-token",
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


@pytest.mark.parametrize(
    "args",
    [
        ["--receipt-url", "ftp://127.0.0.1/r"],
        ["--receipt-undelivered-prefix", "2700000"],
        ["--receipt-batch-size", "0"],
        ["--receipt-lost-rate", "1.5"],
    ],
)
def test_bad_receipt_options_are_a_usage_error(args: list[str]) -> None:
    assert CliRunner().invoke(emulator_command, ["--key", "k:s", *args]).exit_code == 2


class _Collector(http.server.BaseHTTPRequestHandler):
    received: ClassVar[list[list[dict[str, Any]]]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        self.received.append(json.loads(self.rfile.read(length)))
        body = b'{"code": 0, "msg": "ok"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[tuple[str, list[list[dict[str, Any]]]]]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    _Collector.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/receipts", _Collector.received
    server.shutdown()
    server.server_close()


def test_receipt_flags_configure_a_running_emulator_that_pushes_to_the_receiver(
    processes: Any, collector: tuple[str, list[list[dict[str, Any]]]]
) -> None:
    url, received = collector
    endpoint = processes.emulator(
        free_port(),
        "receipt-key",
        "receipt-secret",
        [
            "--receipt-url",
            url,
            "--receipt-delay-ms",
            "10",
            "--receipt-batch-size",
            "5",
            "--receipt-timeout-ms",
            "2000",
            "--receipt-retry-scale",
            "0.01",
            "--receipt-undelivered-prefix",
            "1700000",
            "--receipt-undelivered-prefix",
            "1710000",
        ],
        name="emulator-receipt-flags",
    )
    handle = EmulatorHandle(endpoint, "receipt-key", "receipt-secret")
    assert handle.receipts() == {
        "url": url,
        "delay_ms": 10.0,
        "batch_size": 5,
        "timeout_ms": 2000.0,
        "retry_scale": 0.01,
        "undelivered_rate": 0.0,
        "undelivered_prefixes": ["1700000", "1710000"],
        "duplicate_rate": 0.0,
        "reorder_rate": 0.0,
        "lost_rate": 0.0,
    }
    body = handle.sdk_client().send_sms_verify_code(send_request("17000004321", out_id="t-1")).body
    deadline = time.monotonic() + 15
    while not received and time.monotonic() < deadline:
        time.sleep(0.01)
    ((report,),) = received
    assert (report["biz_id"], report["out_id"], report["err_code"]) == (body.model.biz_id, "t-1", "MK:0001")
    assert handle.messages()[0]["receipt"]["status"] == "pushed"
