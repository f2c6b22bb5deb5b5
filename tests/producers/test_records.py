"""A status lookup tells the truth about sends whose worker or message was lost."""

from __future__ import annotations

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
    expired = SendStatus.from_hash("t", RECORD, T0 + 121)
    assert (expired.state, expired.reason) == (SendState.EXPIRED, "deadline_passed")


def test_a_send_whose_worker_died_mid_call_reads_as_sending_never_as_a_guess() -> None:
    # Its SMS may be out: only a run that asks the provider again can say (the recovery sweep
    # hands it to one), so the status never claims failed or expired for it by itself.
    sending = RECORD | {"state": "sending", "updated_at": str(T0 + 5)}
    assert SendStatus.from_hash("t", sending, T0 + 5 + 3600).state is SendState.SENDING


def test_a_parked_send_shows_the_rate_slot_it_waits_for() -> None:
    parked = RECORD | {"slot_at": str(T0 + 30)}
    assert SendStatus.from_hash("t", parked, T0 + 1).waiting_until == T0 + 30


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
