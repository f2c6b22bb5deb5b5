"""`smsq status` without a ticket against a Redis that is down: one line and exit 4, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from producers.constants import NO_CLOUD_PROBES

SMSQ = str(Path(sys.executable).parent / "smsq")


def test_the_overview_says_redis_is_down_in_one_line_and_exits_4() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMSQ_")}
    env |= NO_CLOUD_PROBES | {"SMSQ_REDIS_URL": "redis://:hunter2-password@127.0.0.1:1/0"}
    result = subprocess.run(
        [SMSQ, "status"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    output = result.stdout + result.stderr
    assert result.returncode == 4, output
    assert "Traceback" not in output and "hunter2" not in output
    assert output.strip() == "error: Redis is unavailable (service_unavailable)"
