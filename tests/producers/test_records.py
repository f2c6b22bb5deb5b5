"""A status lookup tells the truth about sends whose worker or message was lost."""

from __future__ import annotations

from producers.constants import TASK_TIME_LIMIT_S
from producers.records import Delivery, SendState, SendStatus

T0 = 1_700_000_000.0
RECORD = {
    "state": "queued",
    "masked": "135****2222",
    "lane": "default",
    "purpose": "login",
    "created_at": str(T0),
    "updated_at": str(T0),
    "deadline_at": str(T0 + 120),
    "attempts": "0",
}


def test_a_send_still_queued_past_its_deadline_reads_as_expired() -> None:
    assert SendStatus.from_hash("t", RECORD, T0 + 119).state is SendState.QUEUED
    assert SendStatus.from_hash("t", RECORD, T0 + 121).state is SendState.EXPIRED


def test_a_send_still_sending_long_after_the_task_time_limit_reads_as_failed_worker_lost() -> None:
    sending = RECORD | {"state": "sending", "updated_at": str(T0 + 5)}
    assert SendStatus.from_hash("t", sending, T0 + 5 + TASK_TIME_LIMIT_S).state is SendState.SENDING
    lost = SendStatus.from_hash("t", sending, T0 + 5 + TASK_TIME_LIMIT_S + 61)
    assert (lost.state, lost.reason) == (SendState.FAILED, "worker_lost")


def test_a_sent_record_reports_the_time_from_enqueue_to_sent() -> None:
    sent = RECORD | {"state": "sent", "sent_at": str(T0 + 0.25), "request_id": "r", "biz_id": "b"}
    status = SendStatus.from_hash("t", sent, T0 + 10_000)
    assert status.state is SendState.SENT and status.enqueue_to_sent_s == 0.25


def test_a_sent_send_awaits_its_receipt_then_reads_unknown_after_the_wait() -> None:
    sent = RECORD | {"state": "sent", "sent_at": str(T0 + 1)}
    waiting = SendStatus.from_hash("t", sent, T0 + 1 + 600, receipt_wait_s=600)
    assert waiting.delivery is Delivery.PENDING
    assert SendStatus.from_hash("t", sent, T0 + 1 + 601, receipt_wait_s=600).delivery is Delivery.UNKNOWN


def test_a_receipt_after_the_wait_still_counts() -> None:
    late = RECORD | {
        "state": "verified",
        "sent_at": str(T0),
        "delivery": "delivered",
        "carrier_code": "DELIVERED",
    }
    status = SendStatus.from_hash("t", late, T0 + 86_000, receipt_wait_s=60)
    assert (status.state, status.delivery) == (SendState.VERIFIED, Delivery.DELIVERED)


def test_a_send_that_is_not_sent_has_no_delivery_even_with_a_receipt_on_record() -> None:
    receipt = {"delivery": "delivered", "carrier_code": "DELIVERED", "receipt_at": str(T0 + 2)}
    for state in ("queued", "sending"):
        status = SendStatus.from_hash("t", RECORD | {"state": state} | receipt, T0 + 1)
        assert (status.delivery, status.carrier_code, status.receipt_at) == (None, None, None)
    assert SendStatus.from_hash("t", RECORD | {"state": "failed"}, T0 + 1).delivery is None
    assert (
        SendStatus.from_hash("t", RECORD | {"state": "failed"} | receipt, T0 + 1).delivery
        is Delivery.DELIVERED
    )


def test_a_lost_message_reads_expired_and_shows_no_delivery_without_a_receipt() -> None:
    assert SendStatus.from_hash("t", RECORD, T0 + 121).delivery is None
