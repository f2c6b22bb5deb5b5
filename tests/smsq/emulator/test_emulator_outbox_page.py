"""The HTML outbox, read by headless Chromium the way a developer's browser reads it."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from typing import Any

import pytest

from tests.smsq.emulator.emu_helpers import fresh_phone, send_request


@pytest.mark.browser
def test_headless_chromium_finds_the_newest_message_on_the_outbox_page(emulator: Any) -> None:
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    client = emulator.sdk_client()
    older, newest = fresh_phone(), fresh_phone()
    for phone in (older, newest):
        assert client.send_sms_verify_code(send_request(phone)).body.code == "OK"
    newest_code = emulator.messages(newest)[0]["code"]

    with tempfile.TemporaryDirectory(prefix="smsq-chromium-") as profile:
        done = subprocess.run(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={profile}",
                "--dump-dom",
                f"http://{emulator.endpoint}/_emulator/",
            ],
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 0, done.stderr
    dom = done.stdout
    assert 'http-equiv="refresh"' in dom
    newest_row = dom.split('<tr class="newest">', 1)[1].split("</tr>", 1)[0]
    assert newest in newest_row
    assert newest_code in newest_row
    assert dom.index(newest) < dom.index(older)  # newest first
