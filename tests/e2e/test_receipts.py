"""Delivery receipts end to end: real workers send through the emulator, the emulator pushes its
receipts over HTTP to a real ``smsq gateway`` process listening on its own receipt port, and a
send's status shows what the carrier reported, whatever the order, however often, and never by
changing the send's state."""

from __future__ import annotations

import json
import secrets
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from producers import Delivery, SendState, check_code, get_status, send_code
from producers.records import SendStatus
from smsq.devstack.processes import Stack, wait_until
from smsq.net import free_port
from tests.conftest import EmulatorHandle, smsq_environment
from tests.e2e.helpers import wait_final

pytestmark = pytest.mark.usefixtures("workers")

SECRET = secrets.token_urlsafe(32)


class ReceiptGateway:
    """A gateway process: /v1 on ``base``, the receipt route alone on ``receipts``."""

    def __init__(self, base: str, receipt_port: int) -> None:
        self.base = base
        self.receipts = f"http://127.0.0.1:{receipt_port}"
        self.receipt_url = f"{self.receipts}/receipts/{SECRET}"

    def post(self, url: str, body: Any) -> int:
        request = urllib.request.Request(
            url, data=json.dumps(body).encode(), method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return exc.code

    def status(self, ticket: str) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.base}/v1/codes/{ticket}", timeout=10) as response:
            return json.loads(response.read())  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def receipt_gateway(
    processes: Stack, redis_url: str, emulator_session: EmulatorHandle
) -> Iterator[ReceiptGateway]:
    receipt_port = free_port()
    env = smsq_environment(redis_url, emulator_session)
    base = processes.gateway(
        env,
        free_port(),
        receipt_secret=SECRET,
        extra_args=["--receipt-port", str(receipt_port)],
        name="receipt-gateway",
    )
    yield ReceiptGateway(base, receipt_port)


@pytest.fixture
def pushing(emulator: EmulatorHandle, receipt_gateway: ReceiptGateway) -> EmulatorHandle:
    """The emulator (reset) with its receipts pushed to the gateway's receipt port after 100 ms."""
    emulator.set_receipts(url=receipt_gateway.receipt_url, delay_ms=100)
    return emulator


def fresh_number(prefix: str = "135") -> str:
    return f"{prefix}{uuid.uuid4().int % 10 ** (11 - len(prefix)):0{11 - len(prefix)}d}"


def wait_delivery(ticket: str, expected: Delivery, timeout_s: float = 30.0) -> SendStatus:
    wait_until(
        lambda: get_status(ticket).delivery is expected, timeout_s=timeout_s, what=f"delivery={expected}"
    )
    return get_status(ticket)


def record(client: redis.Redis, ticket: str) -> dict[str, str]:
    return client.hgetall(f"smsq:send:{ticket}")  # type: ignore[return-value]


def test_a_sent_code_reads_pending_then_delivered_when_the_carriers_receipt_arrives(
    smsq_env: dict[str, str],
    emulator: EmulatorHandle,
    receipt_gateway: ReceiptGateway,
    redis_client: redis.Redis,
) -> None:
    ticket = send_code(fresh_number()).id
    sent = wait_final(ticket)
    assert (sent.state, sent.delivery) == (SendState.SENT, Delivery.PENDING)  # no receipt URL yet
    emulator.set_receipts(url=receipt_gateway.receipt_url, delay_ms=100)  # pushes what waited
    status = wait_delivery(ticket, Delivery.DELIVERED)
    assert (status.state, status.carrier_code) == (SendState.SENT, "DELIVERED")
    assert status.receipt_at is not None and status.reported_at is not None
    assert status.send_to_delivery_s is not None and status.send_to_delivery_s >= 0
    shown = receipt_gateway.status(ticket)  # the gateway's status route shows it too
    assert (shown["state"], shown["delivery"], shown["carrier_code"]) == ("sent", "delivered", "DELIVERED")
    counters = redis_client.hgetall("smsq:stats:receipts")
    assert counters == {"new": "1"}
    from click.testing import CliRunner

    from smsq.cli import main

    fleet = json.loads(CliRunner().invoke(main, ["status", "--json"]).output)["delivery"]
    assert (fleet["delivered"], fleet["ratio"], fleet["by_carrier_code"]) == (1, 1.0, {"DELIVERED": 1})


def test_a_duplicated_receipt_changes_nothing_and_is_counted_once(
    smsq_env: dict[str, str], pushing: EmulatorHandle, redis_client: redis.Redis
) -> None:
    pushing.set_receipts(duplicate_rate=1.0)
    phone = fresh_number()
    ticket = send_code(phone).id
    assert wait_final(ticket).state is SendState.SENT

    def both_accepted() -> bool:
        messages = pushing.messages(phone)
        return bool(messages) and messages[0]["receipt"]["accepted"] == 2

    wait_until(both_accepted, timeout_s=30, what="the receipt and its duplicate to be accepted")
    status = get_status(ticket)
    assert (status.state, status.delivery) == (SendState.SENT, Delivery.DELIVERED)
    assert record(redis_client, ticket)["receipts"] == "2"
    assert redis_client.hgetall("smsq:stats:receipts") == {"new": "1", "duplicate": "1"}
    assert redis_client.hgetall("smsq:stats:deliveries") == {"delivered|DELIVERED|login": "1"}


def test_a_receipt_that_arrives_before_the_worker_records_sent_is_kept_for_it(
    smsq_env: dict[str, str], pushing: EmulatorHandle, redis_client: redis.Redis
) -> None:
    # 13900000009: the emulator sends the first request's SMS (and its receipt comes 100 ms later)
    # but holds the answer; the worker's read times out after 1 s, it retries inside the provider's
    # interval, gets biz.FREQUENCY and only then records `sent`.
    ticket = send_code("13900000009").id
    status = wait_final(ticket)
    assert status.state is SendState.SENT
    raw = record(redis_client, ticket)
    assert raw["confirmed_by"] == "provider_frequency"
    assert float(raw["receipt_at"]) < float(raw["sent_at"]), "the receipt came first"
    assert (status.delivery, status.carrier_code) == (Delivery.DELIVERED, "DELIVERED")


def test_a_receipt_after_verified_leaves_the_send_verified(
    smsq_env: dict[str, str], emulator: EmulatorHandle, receipt_gateway: ReceiptGateway
) -> None:
    phone = fresh_number()
    ticket = send_code(phone).id
    assert wait_final(ticket).state is SendState.SENT
    assert check_code(phone, emulator.messages(phone)[0]["code"]).passed
    assert get_status(ticket).state is SendState.VERIFIED
    emulator.set_receipts(url=receipt_gateway.receipt_url, delay_ms=0)
    status = wait_delivery(ticket, Delivery.DELIVERED)
    assert status.state is SendState.VERIFIED


def test_an_undelivered_receipt_shows_the_carriers_code(
    smsq_env: dict[str, str], pushing: EmulatorHandle, redis_client: redis.Redis
) -> None:
    pushing.set_receipts(undelivered_prefixes=["1700000"])
    ticket = send_code(fresh_number("1700000"), purpose="signup").id
    assert wait_final(ticket).state is SendState.SENT
    status = wait_delivery(ticket, Delivery.UNDELIVERED)
    assert (status.state, status.carrier_code, status.send_to_delivery_s) == (SendState.SENT, "MK:0001", None)
    assert redis_client.hgetall("smsq:stats:deliveries") == {"undelivered|MK:0001|signup": "1"}


def test_a_push_without_the_path_secret_is_a_404_and_stores_nothing(
    smsq_env: dict[str, str],
    emulator: EmulatorHandle,
    receipt_gateway: ReceiptGateway,
    redis_client: redis.Redis,
) -> None:
    phone = fresh_number()
    ticket = send_code(phone).id
    assert wait_final(ticket).state is SendState.SENT
    report = emulator.messages(phone)[0]["receipt"]["report"]  # the real report, never pushed
    for url in (
        f"{receipt_gateway.receipts}/receipts/",
        f"{receipt_gateway.receipts}/receipts/{SECRET[:-2]}",
        f"{receipt_gateway.receipts}/receipts/{secrets.token_urlsafe(32)}",
        f"{receipt_gateway.base}/receipts/{SECRET}",  # the receipt route lives on its own port only
    ):
        assert receipt_gateway.post(url, [report]) == 404, url
    assert get_status(ticket).delivery is Delivery.PENDING
    assert "delivery" not in record(redis_client, ticket)
    assert not redis_client.exists("smsq:stats:receipts")
    assert receipt_gateway.post(receipt_gateway.receipt_url, [report]) == 200  # the same report, right path
    assert get_status(ticket).delivery is Delivery.DELIVERED
