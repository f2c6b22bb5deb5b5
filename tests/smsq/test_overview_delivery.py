"""The fleet overview's delivery section: the ratio, sends by carrier code and by purpose."""

from __future__ import annotations

from producers.receipts import delivery_counts
from smsq.cli.overview import delivery_lines, delivery_summary


def test_the_overview_sums_deliveries_by_code_and_purpose() -> None:
    raw = {
        "delivered|DELIVERED|login": "96",
        "undelivered|MK:0001|login": "3",
        "undelivered|UNDELIV|signup": "1",
        "delivered|DELIVERED|signup": "0",
    }
    summary = delivery_summary({"new": "100", "duplicate": "7"}, delivery_counts(raw))
    assert (summary["delivered"], summary["undelivered"], summary["ratio"]) == (96, 4, 0.96)
    assert summary["by_carrier_code"] == {"DELIVERED": 96, "MK:0001": 3, "UNDELIV": 1}
    assert summary["by_purpose"]["signup"] == {"delivered": 0, "undelivered": 1, "ratio": 0.0}
    assert summary["receipts"] == {"new": 100, "changed": 0, "duplicate": 7, "unmatched": 0, "malformed": 0}
    lines = delivery_lines(summary)
    assert lines[0] == "Delivery (carrier receipts, all time): 96.0% delivered (96 of 100)"
    assert "login 97.0% (96/99)" in lines[2] and "signup 0.0% (0/1)" in lines[2]


def test_before_any_receipt_the_overview_says_so() -> None:
    summary = delivery_summary({}, [])
    assert summary["ratio"] is None
    assert delivery_lines(summary) == ["Delivery (carrier receipts, all time): no receipt yet"]
