"""``smsq chaos --quick``: one worker killed mid-call and one Redis restart under load, judged from the
outbox and the status lookup alone. Asserts the invariants from its JSON, never a timing."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, dict[str, Any]]:
    path = tmp_path_factory.mktemp("chaos") / "quick.json"
    process = subprocess.run(
        [sys.executable, "-m", "smsq.cli", "chaos", "--quick", "--json", str(path)],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert path.exists(), process.stderr[-3000:]
    return process.returncode, json.loads(path.read_text())


@pytest.fixture(scope="module")
def quick(quick_run: tuple[int, dict[str, Any]]) -> dict[str, Any]:
    figures: dict[str, Any] = quick_run[1]["pools"]["threads"]["scenarios"]["quick"]
    return figures


pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]


def test_the_quick_run_really_killed_a_worker_and_restarted_redis_under_load(quick: dict[str, Any]) -> None:
    assert quick["accepted"] >= 60
    assert [kill["pids"] for kill in quick["kills"] if kill["pids"]], "no worker process was killed"
    assert [event for event in quick["redis"] if event["kind"] == "redis-restart"]


def test_no_accepted_send_is_lost(quick: dict[str, Any]) -> None:
    assert quick["lost"] == 0, quick["examples"]["lost"]


def test_no_send_reaches_a_phone_twice(quick: dict[str, Any]) -> None:
    assert quick["doubled"] == 0, quick["examples"]["doubled"]


def test_no_status_contradicts_the_outbox(quick: dict[str, Any]) -> None:
    assert quick["false_status"] == 0, quick["examples"]["false_status"]


def test_no_worker_process_exits_by_itself(quick: dict[str, Any]) -> None:
    assert quick["worker_exits"] == []


def test_no_final_state_changes(quick: dict[str, Any]) -> None:
    assert quick["final_changed"] == 0, quick["examples"]["final_changed"]


def test_the_exit_status_tells_whether_every_invariant_held(quick_run: tuple[int, dict[str, Any]]) -> None:
    returncode, report = quick_run
    assert returncode == (0 if report["passed"] else 1)
