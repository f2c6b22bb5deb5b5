"""Acceptance 1: the seed article's two sample programs run unchanged (but for credentials and endpoint)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

SAMPLES = Path(__file__).parent / "seed_samples"


def _run(sample: str, emulator: Any, *args: str) -> str:
    env = {
        **os.environ,
        "SAMPLE_KEY_ID": emulator.key_id,
        "SAMPLE_KEY_SECRET": emulator.key_secret,
        "SAMPLE_ENDPOINT": emulator.endpoint,
    }
    done = subprocess.run(
        [sys.executable, str(SAMPLES / sample), *args],
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_seed_samples_send_then_check_pass_once_and_then_unknown(emulator: Any) -> None:
    sent = _run("send_sample.py", emulator)
    lines = sent.splitlines()
    assert "200" in lines
    assert "'Code': 'OK'" in sent

    (message,) = emulator.messages("13511112222")
    assert message["template_code"] == "100001"
    assert len(message["code"]) == 4 and message["code"].isdigit()

    checked = _run("check_sample.py", emulator, message["code"])
    assert "200" in checked.splitlines()
    assert "'Code': 'OK'" in checked
    assert "'VerifyResult': 'PASS'" in checked

    again = _run("check_sample.py", emulator, message["code"])
    assert "'VerifyResult': 'UNKNOWN'" in again
