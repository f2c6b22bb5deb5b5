"""A push is read at the door: usable reports become typed receipts, anything else is counted and
skipped, and only a body that is not a batch at all is refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from producers.errors import InvalidArgument
from producers.receipts import (
    MAX_RECEIPTS_PER_BATCH,
    NO_CODE,
    OTHER_CODE,
    Receipt,
    ReceiptBatch,
    beijing_unix,
    carrier_code,
    parse_batch,
)

TICKET = "0123456789abcdef0123456789abcdef"


def report(**fields: Any) -> dict[str, Any]:
    """A report as Alibaba pushes it, delivered by default."""
    base: dict[str, Any] = {
        "phone_number": "13511112222",
        "send_time": "2026-12-01 10:00:00",
        "report_time": "2026-12-01 10:00:03",
        "success": True,
        "err_code": "DELIVERED",
        "err_msg": "用户接收成功",
        "sms_size": "1",
        "biz_id": "900125^123",
        "out_id": TICKET,
    }
    return base | fields


def push(*items: object) -> bytes:
    return json.dumps(list(items), ensure_ascii=False).encode()


def test_a_report_becomes_a_receipt_with_the_carriers_times_in_unix_seconds() -> None:
    batch = parse_batch(push(report()))
    reported = datetime(2026, 12, 1, 2, 0, 3, tzinfo=UTC).timestamp()  # 10:00:03 in Beijing
    assert batch == ReceiptBatch((Receipt(TICKET, True, "DELIVERED", reported, 3.0),))


def test_an_undelivered_report_keeps_its_carrier_code_and_has_no_delivery_time() -> None:
    (receipt,) = parse_batch(push(report(success=False, err_code="MK:0001"))).receipts
    assert (receipt.delivered, receipt.carrier_code, receipt.send_to_delivery_s) == (False, "MK:0001", None)
    assert receipt.reported_at is not None


def test_the_phone_number_is_never_read_into_a_receipt() -> None:
    (receipt,) = parse_batch(push(report(phone_number="13999998888"))).receipts
    assert "13999998888" not in repr(receipt)
    assert "phone" not in {name for name in Receipt.__slots__}  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "item",
    [
        "a string",
        42,
        None,
        [report()],
        report(success=None),
        report(success="yes"),
        report(success=1),
        {k: v for k, v in report().items() if k != "success"},
        report(out_id=12345),
        report(out_id={"$ne": 1}),
        report(err_code=["DELIVERED"]),
        report(err_code=7),
    ],
)
def test_a_malformed_item_is_counted_and_skipped_without_failing_the_batch(item: object) -> None:
    batch = parse_batch(push(report(), item, report(out_id="f" * 32)))
    assert batch.malformed == 1 and [r.ticket for r in batch.receipts] == [TICKET, "f" * 32]


@pytest.mark.parametrize(
    "out_id",
    [None, "", "order:42", "a b", "smsq:send:x", "*", "x" * 65, "../../etc", "票"],
)
def test_a_report_without_an_out_id_of_ours_is_foreign_not_malformed(out_id: str | None) -> None:
    batch = parse_batch(push(report(out_id=out_id)))
    assert (batch.receipts, batch.malformed, batch.foreign) == ((), 0, 1)


def test_a_report_with_no_out_id_field_at_all_is_foreign() -> None:
    item = {k: v for k, v in report().items() if k != "out_id"}
    assert parse_batch(push(item)).foreign == 1


def test_success_written_as_a_string_is_still_read() -> None:
    receipts = parse_batch(push(report(success="false"), report(success="TRUE"))).receipts
    assert [r.delivered for r in receipts] == [False, True]


@pytest.mark.parametrize(
    ("given", "recorded"),
    [
        ("DELIVERED", "DELIVERED"),
        ("MI:0024", "MI:0024"),
        ("", NO_CODE),
        (None, NO_CODE),
        ("用户关机", OTHER_CODE),
        ("A" * 33, OTHER_CODE),
        ("x|y", OTHER_CODE),
        ('DELIVERED"}', OTHER_CODE),
    ],
)
def test_carrier_codes_are_kept_short_and_plain(given: str | None, recorded: str) -> None:
    assert carrier_code(given) == recorded


@pytest.mark.parametrize(
    "fields",
    [
        {"report_time": "yesterday"},
        {"report_time": None},
        {"report_time": 1700000000},
        {"report_time": "2026-02-30 10:00:00"},
        {"send_time": "2026-12-01T10:00:00"},
        {"send_time": "2026-12-01 10:00:09"},  # reported before it was sent
    ],
)
def test_unreadable_or_inverted_times_leave_the_delivery_time_unknown_not_the_receipt(
    fields: dict[str, Any],
) -> None:
    (receipt,) = parse_batch(push(report(**fields))).receipts
    assert receipt.send_to_delivery_s is None and receipt.delivered


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"\xff\xfe[]",
        b"42",
        b'"a string"',
        b"null",
        b"[" * 100_000 + b"]" * 100_000,
    ],
)
def test_a_body_that_is_not_a_batch_is_refused(body: bytes) -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse_batch(body)
    assert caught.value.reason == "malformed_json"


def test_one_report_on_its_own_is_a_batch_of_one() -> None:
    assert len(parse_batch(json.dumps(report()).encode()).receipts) == 1


def test_an_empty_push_is_an_empty_batch() -> None:
    assert parse_batch(b"[]") == ReceiptBatch()


def test_more_reports_than_a_push_may_carry_are_refused_as_too_large() -> None:
    assert len(parse_batch(push(*[report()] * MAX_RECEIPTS_PER_BATCH)).receipts) == MAX_RECEIPTS_PER_BATCH
    with pytest.raises(InvalidArgument) as caught:
        parse_batch(push(*[report()] * (MAX_RECEIPTS_PER_BATCH + 1)))
    assert caught.value.reason == "body_too_large"


def test_beijing_time_is_utc_plus_eight() -> None:
    assert beijing_unix("1970-01-01 08:00:00") == 0.0
    assert beijing_unix("1970-01-01 08:00:00 ") is None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)


@given(items=st.lists(json_values | st.builds(report, out_id=st.text(max_size=70)), max_size=20))
def test_any_json_array_is_read_without_an_error_and_every_item_is_accounted_for(items: list[object]) -> None:
    batch = parse_batch(json.dumps(items).encode())
    assert batch.size == len(items)
