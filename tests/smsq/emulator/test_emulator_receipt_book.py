"""Unit tests of the receipt book: draws, batches, the retry schedule and its bounds, with explicit times."""

from __future__ import annotations

import json
from typing import Any

import pytest

from smsq.emulator.catalog import DELIVERED, UNDELIVERED_CODES, sms_parts
from smsq.emulator.pusher import accepted
from smsq.emulator.receipts import (
    RETRY_DELAYS_S,
    PushOutcome,
    ReceiptBook,
    ReceiptSettings,
    ReceiptStatus,
    beijing_time,
)
from smsq.emulator.state import Message

URL = "http://127.0.0.1:9/receipts"


def _message(n: int, phone: str | None = None, out_id: str | None = "t") -> Message:
    return Message(
        phone=phone or f"1351{n:07d}",
        code="1234",
        text="【速通互联验证码】您的验证码为1234。",
        sign_name="速通互联验证码",
        template_code="100001",
        template_param={"code": "1234", "min": "5"},
        scheme_name="默认方案",
        biz_id=f"biz-{n}",
        out_id=out_id,
        request_id="r",
        access_key_id="k",
        sent_at=1_767_225_600.0 + n,
    )


def _book(seed: int | None = 1, max_receipts: int = 100_000, **settings: Any) -> ReceiptBook:
    base = ReceiptSettings(url=URL, delay_ms=1000.0, retry_scale=1.0)
    return ReceiptBook(base.updated(settings), seed, max_receipts)


def _biz_ids(body: bytes) -> list[str]:
    return [item["biz_id"] for item in json.loads(body)]


def test_a_receipt_is_due_after_the_delay_and_carries_the_send() -> None:
    book = _book()
    receipt = book.record(_message(1), now=100.0)
    assert book.next_due() == pytest.approx(101.0)
    assert book.take_batch(100.999) is None
    batch = book.take_batch(101.0)
    assert batch is not None
    (report,) = json.loads(batch.body)
    assert report == receipt.report
    assert report["send_time"] == "2026-01-01 08:00:01"  # Beijing time, UTC+8
    assert report["report_time"] == "2026-01-01 08:00:02"  # one delay later
    assert (report["success"], report["err_code"], report["sms_size"]) == (True, DELIVERED, "1")
    assert report["out_id"] == "t"


def test_a_send_without_out_id_gives_a_receipt_without_out_id() -> None:
    receipt = _book().record(_message(1, out_id=None), now=0.0)
    assert "out_id" not in receipt.report


def test_without_a_url_nothing_is_due_and_receipts_wait_pending() -> None:
    book = _book(url=None)
    receipt = book.record(_message(1), now=0.0)
    assert book.next_due() is None
    assert book.take_batch(1e9) is None
    assert receipt.status is ReceiptStatus.PENDING
    book.update({"url": URL})
    assert book.take_batch(1e9) is not None


def test_batches_hold_at_most_batch_size_receipts_in_due_order() -> None:
    book = _book(batch_size=3)
    for n in range(7):
        book.record(_message(n), now=float(n) / 100)
    sizes, order = [], []
    while (batch := book.take_batch(10.0)) is not None:
        sizes.append(len(batch.items))
        order += _biz_ids(batch.body)
    assert sizes == [3, 3, 1]
    assert order == [f"biz-{n}" for n in range(7)]


def test_a_failed_batch_is_retried_after_1_5_and_10_minutes_then_dropped() -> None:
    book = _book(retry_scale=1.0)
    receipt = book.record(_message(1), now=0.0)
    batch = book.take_batch(1.0)
    assert batch is not None
    now = 1.0
    for delay in RETRY_DELAYS_S:
        book.finish(batch, PushOutcome.STATUS, now)
        assert receipt.status is ReceiptStatus.FAILED
        assert book.next_due() == pytest.approx(now + delay)
        assert book.take_batch(now + delay - 0.001) is None
        again = book.take_batch(now + delay)
        assert again is batch  # the same batch, the same body
        now += delay
    book.finish(batch, PushOutcome.TIMEOUT, now)
    assert (receipt.status, receipt.attempts) == (ReceiptStatus.DROPPED, 4)
    assert book.next_due() is None
    stats = book.stats()
    assert (stats["pushes"], stats["pushes_ok"], stats["batches_dropped"], stats["receipts_dropped"]) == (
        4,
        0,
        1,
        1,
    )
    assert stats["push_failures"] == {"status": 3, "timeout": 1}


def test_the_retry_scale_shrinks_the_schedule() -> None:
    book = _book(retry_scale=0.001)
    book.record(_message(1), now=0.0)
    batch = book.take_batch(1.0)
    assert batch is not None
    book.finish(batch, PushOutcome.CONNECTION, 1.0)
    assert book.next_due() == pytest.approx(1.060)


def test_a_recovered_batch_is_pushed_and_not_retried_again() -> None:
    book = _book()
    receipt = book.record(_message(1), now=0.0)
    batch = book.take_batch(1.0)
    assert batch is not None
    book.finish(batch, PushOutcome.BODY, 1.0)
    retry = book.take_batch(61.0)
    assert retry is batch
    book.finish(batch, PushOutcome.OK, 61.0)
    assert (receipt.status, receipt.attempts, receipt.accepted) == (ReceiptStatus.PUSHED, 2, 1)
    assert book.next_due() is None


def test_a_duplicate_is_queued_only_after_the_original_was_accepted() -> None:
    book = _book(duplicate_rate=1.0)
    receipt = book.record(_message(1), now=0.0)
    first = book.take_batch(1.0)
    assert first is not None
    assert book.take_batch(1e9) is None  # no copy yet: it follows the accepted original
    book.finish(first, PushOutcome.OK, 1.0)
    copy = book.take_batch(2.0)
    assert copy is not None and copy is not first
    assert copy.body == first.body
    book.finish(copy, PushOutcome.OK, 2.0)
    assert (receipt.accepted, receipt.status) == (2, ReceiptStatus.PUSHED)


def test_faults_off_means_every_receipt_is_delivered_once_in_order() -> None:
    book = _book(seed=3)
    receipts = [book.record(_message(n), now=0.0) for n in range(200)]
    batch = book.take_batch(1.0)
    assert batch is not None
    assert _biz_ids(batch.body) == [f"biz-{n}" for n in range(100)]
    assert all(r.report["success"] and not r.duplicate for r in receipts)
    assert all(r.status is ReceiptStatus.PENDING for r in receipts)


def test_undelivered_receipts_carry_a_real_carrier_code_and_its_message() -> None:
    book = _book(undelivered_rate=1.0)
    reports = [book.record(_message(n), now=0.0).report for n in range(200)]
    assert all(not r["success"] for r in reports)
    assert {r["err_code"] for r in reports} == set(UNDELIVERED_CODES)  # 200 draws reach all of them
    assert all(r["err_msg"] == UNDELIVERED_CODES[r["err_code"]] for r in reports)


def test_numbers_under_an_undelivered_prefix_never_receive() -> None:
    book = _book(undelivered_prefixes=["1700000"])
    pumped = book.record(_message(1, phone="17000001234"), now=0.0).report
    near = book.record(_message(2, phone="17000011234"), now=0.0).report
    assert (pumped["success"], pumped["err_code"]) == (False, "MK:0001")
    assert (near["success"], near["err_code"]) == (True, DELIVERED)


def test_a_lost_receipt_is_never_queued() -> None:
    book = _book(lost_rate=1.0)
    receipt = book.record(_message(1), now=0.0)
    assert receipt.status is ReceiptStatus.LOST
    assert book.take_batch(1e9) is None
    assert book.stats()["lost"] == 1


def test_a_held_back_receipt_is_due_after_later_ones() -> None:
    book = _book(reorder_rate=1.0)
    book.record(_message(1), now=0.0)
    assert book.next_due() is not None
    assert 2.0 <= book.next_due() < 3.0  # type: ignore[operator] - two to three delays


def test_the_same_seed_draws_the_same_receipts_and_another_seed_does_not() -> None:
    faults = {"undelivered_rate": 0.3, "duplicate_rate": 0.3, "lost_rate": 0.3, "reorder_rate": 0.3}

    def draws(seed: int) -> list[tuple[Any, ...]]:
        book = _book(seed=seed, **faults)
        receipts = [book.record(_message(n), now=0.0) for n in range(100)]
        return [(r.report["err_code"], r.duplicate, r.status) for r in receipts]

    assert draws(7) == draws(7)
    assert draws(7) != draws(8)


def test_reset_restarts_the_stream_and_restores_the_startup_settings() -> None:
    book = _book(seed=5, undelivered_rate=0.5)
    first = [book.record(_message(n), now=0.0).report["err_code"] for n in range(50)]
    book.update({"undelivered_rate": 0.0, "url": None})
    book.reset()
    assert book.settings.undelivered_rate == 0.5 and book.settings.url == URL
    assert book.stats()["created"] == 0 and book.get("biz-1") is None
    assert [book.record(_message(n), now=0.0).report["err_code"] for n in range(50)] == first


def test_a_push_finished_after_a_reset_changes_nothing() -> None:
    book = _book()
    book.record(_message(1), now=0.0)
    batch = book.take_batch(1.0)
    assert batch is not None
    book.reset()
    book.finish(batch, PushOutcome.STATUS, 1.0)
    assert book.next_due() is None
    assert book.stats()["push_failures"] == {}


def test_receipts_queue_and_retries_stay_bounded() -> None:
    book = _book(max_receipts=50, url=None)
    for n in range(1000):
        book.record(_message(n), now=0.0)
    stats = book.stats()
    assert stats["kept"] == 50
    assert stats["pending"] <= 2 * 50 + 1
    assert stats["evicted"] == 950
    book.update({"url": URL, "batch_size": 10})
    while (batch := book.take_batch(10.0)) is not None:
        book.finish(batch, PushOutcome.STATUS, 10.0)
    assert book.stats()["retrying"] <= 50


@pytest.mark.parametrize(
    "changes",
    [
        {"url": "ftp://127.0.0.1/r"},
        {"url": "file:///etc/passwd"},
        {"url": "http://user:pw@127.0.0.1/r"},
        {"url": "http:///nohost"},
        {"url": "http://127.0.0.1/r#frag"},
        {"url": 5},
        {"url": "http://127.0.0.1/" + "a" * 3000},
        {"delay_ms": -1},
        {"timeout_ms": 0},
        {"retry_scale": 0},
        {"batch_size": 0},
        {"batch_size": 1.5},
        {"batch_size": 100_000},
        {"undelivered_rate": 1.5},
        {"lost_rate": True},
        {"duplicate_rate": float("nan")},
        {"undelivered_prefixes": "1700000"},
        {"undelivered_prefixes": ["17a"]},
        {"undelivered_prefixes": ["2700000"]},
        {"undelivered_prefixes": ["1" * 12]},
        {"no_such_setting": 1},
    ],
)
def test_bad_settings_are_refused_with_a_reason(changes: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"\w"):
        ReceiptSettings().updated(changes)


@pytest.mark.parametrize(
    ("status", "body", "outcome"),
    [
        (200, b'{"code": 0, "msg": "ok"}', PushOutcome.OK),
        (200, b'{"code": 0.0}', PushOutcome.OK),
        (200, b'{"code": 1, "msg": "no"}', PushOutcome.BODY),
        (200, b'{"code": "0"}', PushOutcome.BODY),
        (200, b'{"code": false}', PushOutcome.BODY),
        (200, b'{"msg": "ok"}', PushOutcome.BODY),
        (200, b"[0]", PushOutcome.BODY),
        (200, b"OK", PushOutcome.BODY),
        (200, b"\xff\xfe", PushOutcome.BODY),
        (204, b"", PushOutcome.STATUS),
        (201, b'{"code": 0}', PushOutcome.STATUS),
        (500, b'{"code": 0}', PushOutcome.STATUS),
    ],
)
def test_only_http_200_with_code_0_counts_as_accepted(status: int, body: bytes, outcome: PushOutcome) -> None:
    assert accepted(status, body) is outcome


def test_sms_size_counts_parts_of_70_then_67_characters() -> None:
    assert [sms_parts("字" * n) for n in (1, 70, 71, 134, 135)] == [1, 1, 2, 2, 3]


def test_beijing_time_is_utc_plus_8() -> None:
    assert beijing_time(1_767_225_600.0) == "2026-01-01 08:00:00"
    assert beijing_time(1_767_225_600.0 + 16 * 3600) == "2026-01-02 00:00:00"
