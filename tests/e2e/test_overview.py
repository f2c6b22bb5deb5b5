"""``smsq status`` without a ticket gives a person the fleet at a glance."""

from __future__ import annotations

import json
import uuid

import pytest
from click.testing import CliRunner

from producers import send_code
from smsq.cli import main
from tests.e2e.helpers import wait_final

pytestmark = pytest.mark.usefixtures("workers")


def test_the_overview_lists_live_workers_queues_sends_per_minute_and_checks(smsq_env: dict[str, str]) -> None:
    ticket = send_code(f"135{uuid.uuid4().int % 10**8:08d}")
    wait_final(ticket.id)
    result = CliRunner().invoke(main, ["status", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert len(data["workers"]) >= 2
    assert data["lanes"][0]["lane"] == "default"
    assert data["per_minute"][0]["sent"] + data["per_minute"][1]["sent"] >= 1
    text = CliRunner().invoke(main, ["status"]).output
    assert "Workers: " in text and "Sends per minute" in text and "default" in text
