"""receipts.lua against real Redis: a receipt sets a send's delivery, never its state; applying is
idempotent and order-free; nothing is created for a send smsq does not know; counters count each
send's result once."""

from __future__ import annotations

import itertools
import uuid
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from producers import constants
from producers.receipts import Receipt, ReceiptBatch
from producers.records import Delivery, SendState
from producers.store import ClaimOutcome, RecordStore
from tests.conftest import fixed_keyring

T0_MS = 1_800_000_000_000
PHONE = "13511112222"
DELIVERY_FIELDS = {"delivery", "carrier_code", "reported_at", "receipt_at", "delivery_s", "receipts"}


@pytest.fixture
def store(redis_client: redis.Redis) -> RecordStore:
    return RecordStore(redis_client)


def admitted(store: RecordStore, *, purpose: str = "login", now_ms: int = T0_MS) -> str:
    ticket = uuid.uuid4().hex
    store.admit(
        ticket=ticket,
        sealed_phone=fixed_keyring().seal(PHONE),
        masked="135****2222",
        purpose=purpose,
        lane="default",
        rules=(),
        useful_life_s=120,
        record_ttl_s=3600,
        now_ms=now_ms,
    )
    return ticket


def in_state(store: RecordStore, state: SendState, *, purpose: str = "login") -> str:
    """A send moved to ``state`` the way producers and workers move it."""
    ticket = admitted(store, purpose=purpose)
    if state is SendState.QUEUED:
        return ticket
    claim = store.claim(ticket, lease_s=60, token="run", now_ms=T0_MS + 10)
    assert claim.outcome is ClaimOutcome.CLAIMED
    if state is SendState.SENDING:
        return ticket
    final = SendState.SENT if state is SendState.VERIFIED else state
    store.finish(
        ticket,
        final,
        live_code_keys=fixed_keyring().live_code_keys(PHONE),
        code_ttl_s=300,
        token="run",
        now_ms=T0_MS + 200,
    )
    if state is SendState.VERIFIED:
        assert store.check_passed(ticket, live_code_keys=fixed_keyring().live_code_keys(PHONE)) == ticket
    return ticket


def delivered(ticket: str, *, at: float | None = 1_800_000_003.0, took: float | None = 3.0) -> Receipt:
    return Receipt(ticket, True, "DELIVERED", at, took)


def undelivered(ticket: str, code: str = "MK:0001", *, at: float | None = 1_800_000_004.0) -> Receipt:
    return Receipt(ticket, False, code, at, None)


def apply(store: RecordStore, *receipts: Receipt, malformed: int = 0, foreign: int = 0) -> list[str]:
    outcomes = store.apply_receipts(ReceiptBatch(receipts, malformed, foreign), now_ms=T0_MS + 5000)
    return [outcome.value for outcome in outcomes]


def stats(client: redis.Redis, name: str) -> dict[str, str]:
    return client.hgetall(constants.stats_key(name))  # type: ignore[return-value]


# --- a receipt and the send it names ---------------------------------------------------------------


def test_a_receipt_for_a_sent_send_records_its_delivery_and_times(
    store: RecordStore, redis_client: redis.Redis
) -> None:
    ticket = in_state(store, SendState.SENT)
    assert apply(store, delivered(ticket)) == ["new"]
    status = store.status(ticket)
    assert status.state is SendState.SENT
    assert (status.delivery, status.carrier_code) == (Delivery.DELIVERED, "DELIVERED")
    assert (status.reported_at, status.send_to_delivery_s) == (1_800_000_003.0, 3.0)
    assert status.receipt_at == (T0_MS + 5000) / 1000


@pytest.mark.parametrize("state", list(SendState))
def test_a_receipt_never_changes_the_state_or_any_other_field_of_the_send(
    store: RecordStore, redis_client: redis.Redis, state: SendState
) -> None:
    ticket = in_state(store, state) if state is not SendState.EXPIRED else expired(store)
    key = constants.record_key(ticket)
    before, ttl = redis_client.hgetall(key), redis_client.ttl(key)
    apply(store, undelivered(ticket), delivered(ticket), undelivered(ticket, "UNDELIV"))
    after = redis_client.hgetall(key)
    assert {k: v for k, v in after.items() if k not in DELIVERY_FIELDS} == before
    assert after["state"] == state.value
    assert 0 < redis_client.ttl(key) <= ttl  # the record keeps its TTL


def expired(store: RecordStore) -> str:
    ticket = admitted(store)
    claim = store.claim(ticket, lease_s=60, token="run", now_ms=T0_MS + 121_000)
    assert claim.outcome is ClaimOutcome.EXPIRED
    return ticket


def test_a_receipt_that_arrives_before_sent_waits_unseen_and_shows_once_the_send_is_sent(
    store: RecordStore,
) -> None:
    ticket = admitted(store)
    store.claim(ticket, lease_s=60, token="run", now_ms=T0_MS + 10)
    assert apply(store, delivered(ticket)) == ["new"]
    sending = store.status(ticket)
    assert sending.state is SendState.SENDING and sending.delivery is None and sending.carrier_code is None
    store.finish(
        ticket,
        SendState.SENT,
        live_code_keys=fixed_keyring().live_code_keys(PHONE),
        code_ttl_s=300,
        token="run",
        now_ms=T0_MS + 200,
    )
    assert store.status(ticket).delivery is Delivery.DELIVERED


def test_a_receipt_after_verified_leaves_it_verified(store: RecordStore) -> None:
    ticket = in_state(store, SendState.VERIFIED)
    assert apply(store, delivered(ticket)) == ["new"]
    status = store.status(ticket)
    assert (status.state, status.delivery) == (SendState.VERIFIED, Delivery.DELIVERED)


def test_a_receipt_for_a_failed_send_shows_that_an_sms_reached_the_phone(store: RecordStore) -> None:
    ticket = in_state(store, SendState.FAILED)
    assert store.status(ticket).delivery is None
    apply(store, delivered(ticket))
    status = store.status(ticket)
    assert (status.state, status.delivery) == (SendState.FAILED, Delivery.DELIVERED)


def test_an_undelivered_receipt_keeps_the_carriers_code(store: RecordStore) -> None:
    ticket = in_state(store, SendState.SENT)
    apply(store, undelivered(ticket, "MI:0024"))
    status = store.status(ticket)
    assert (status.delivery, status.carrier_code, status.send_to_delivery_s) == (
        Delivery.UNDELIVERED,
        "MI:0024",
        None,
    )


def test_a_receipt_for_no_known_send_creates_nothing_and_counts_as_unmatched(
    store: RecordStore, redis_client: redis.Redis
) -> None:
    ghost = uuid.uuid4().hex
    assert apply(store, delivered(ghost), foreign=2, malformed=3) == ["unmatched"]
    assert not redis_client.exists(constants.record_key(ghost))
    assert stats(redis_client, "receipts") == {"unmatched": "3", "malformed": "3"}
    assert stats(redis_client, "deliveries") == {}


# --- idempotent and order-free ----------------------------------------------------------------------


def test_the_same_push_twice_changes_nothing_the_second_time_and_counts_each_send_once(
    store: RecordStore, redis_client: redis.Redis
) -> None:
    first, second = in_state(store, SendState.SENT), in_state(store, SendState.SENT, purpose="signup")
    batch = (delivered(first), undelivered(second))
    assert apply(store, *batch) == ["new", "new"]
    snapshot = [redis_client.hgetall(constants.record_key(t)) for t in (first, second)]
    assert apply(store, *batch) == ["duplicate", "duplicate"]
    again = [redis_client.hgetall(constants.record_key(t)) for t in (first, second)]
    assert [{k: v for k, v in r.items() if k != "receipts"} for r in again] == [
        {k: v for k, v in r.items() if k != "receipts"} for r in snapshot
    ]
    assert [r["receipts"] for r in again] == ["2", "2"]
    assert stats(redis_client, "receipts") == {"new": "2", "duplicate": "2"}
    assert stats(redis_client, "deliveries") == {
        "delivered|DELIVERED|login": "1",
        "undelivered|MK:0001|signup": "1",
    }


def test_delivered_wins_over_undelivered_whichever_arrives_first(
    store: RecordStore, redis_client: redis.Redis
) -> None:
    late_good, late_bad = in_state(store, SendState.SENT), in_state(store, SendState.SENT)
    assert apply(store, undelivered(late_good)) == ["new"]
    assert apply(store, delivered(late_good)) == ["changed"]
    assert apply(store, delivered(late_bad)) == ["new"]
    assert apply(store, undelivered(late_bad)) == ["duplicate"]
    for ticket in (late_good, late_bad):
        status = store.status(ticket)
        assert (status.delivery, status.carrier_code) == (Delivery.DELIVERED, "DELIVERED")
    # the overruled send counts once per result it held; the other never counted its failure
    assert stats(redis_client, "deliveries") == {
        "delivered|DELIVERED|login": "2",
        "undelivered|MK:0001|login": "1",
    }
    assert stats(redis_client, "receipts") == {"new": "2", "changed": "1", "duplicate": "1"}


def test_between_two_failures_the_earlier_report_wins_then_the_smaller_code(store: RecordStore) -> None:
    ticket = in_state(store, SendState.SENT)
    apply(store, undelivered(ticket, "UNDELIV", at=1_800_000_009.0))
    assert apply(store, undelivered(ticket, "MK:0005", at=1_800_000_005.0)) == ["changed"]
    assert apply(store, undelivered(ticket, "EXPIRED", at=1_800_000_005.0)) == ["changed"]
    assert apply(store, undelivered(ticket, "REJECTD", at=1_800_000_005.0)) == ["duplicate"]
    assert apply(store, undelivered(ticket, "AAA", at=None)) == ["duplicate"]
    assert store.status(ticket).carrier_code == "EXPIRED"


receipt_shapes = st.tuples(
    st.booleans(),
    st.sampled_from(["DELIVERED", "MK:0001", "MI:0024", "UNDELIV", "none"]),
    st.one_of(st.none(), st.integers(0, 5).map(lambda n: 1_800_000_000.0 + n)),
)


def best(shapes: list[tuple[bool, str, float | None]]) -> tuple[str, str, float | None]:
    """The model: delivered beats undelivered, then the earlier report, then the smaller code."""

    def key(shape: tuple[bool, str, float | None]) -> tuple[int, float, str]:
        ok, code, at = shape
        return (0 if ok else 1, float("inf") if at is None else at, code)

    ok, code, at = min(shapes, key=key)
    return ("delivered" if ok else "undelivered", code, at)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(shapes=st.lists(receipt_shapes, min_size=1, max_size=6), data=st.data())
def test_any_order_and_any_repetition_of_the_same_receipts_leaves_the_same_delivery(
    store: RecordStore, redis_client: redis.Redis, shapes: list[tuple[bool, str, float | None]], data: Any
) -> None:
    ticket = in_state(store, SendState.SENT)
    receipts = [Receipt(ticket, ok, code, at, None) for ok, code, at in shapes]
    pushes = data.draw(st.permutations(receipts + data.draw(st.lists(st.sampled_from(receipts), max_size=4))))
    cut = data.draw(st.integers(0, len(pushes)))
    apply(store, *pushes[:cut])
    apply(store, *pushes[cut:])
    record = redis_client.hgetall(constants.record_key(ticket))
    result, code, at = best(shapes)
    assert (record["delivery"], record["carrier_code"]) == (result, code)
    assert record.get("reported_at") == (None if at is None else f"{at:.3f}")
    assert record["state"] == "sent"


# --- counters -----------------------------------------------------------------------------------------


def test_the_delivery_time_is_observed_once_per_delivered_send_in_its_bucket(
    store: RecordStore, redis_client: redis.Redis
) -> None:
    tickets = [in_state(store, SendState.SENT) for _ in range(4)]
    apply(
        store,
        delivered(tickets[0], took=3.0),
        delivered(tickets[1], took=0.0),
        delivered(tickets[2], took=9999.0),
        delivered(tickets[3], took=None),
        delivered(tickets[0], took=3.0),  # a duplicate is not observed again
        undelivered(tickets[2]),
    )
    assert stats(redis_client, "delivery_time") == {
        "le:5": "1",
        "le:1": "1",
        "le:+Inf": "1",
        "count": "3",
        "sum": "10002",
    }


def test_beyond_the_series_cap_a_new_carrier_code_counts_as_other(
    store: RecordStore, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("producers.store.MAX_DELIVERY_SERIES", 2)
    codes = iter(f"X:{n:04d}" for n in itertools.count())
    for _ in range(4):
        apply(store, undelivered(in_state(store, SendState.SENT), next(codes)))
    assert stats(redis_client, "deliveries") == {
        "undelivered|X:0000|login": "1",
        "undelivered|X:0001|login": "1",
        "undelivered|other|login": "2",
    }


def test_beyond_the_series_cap_a_new_purpose_adds_no_series(
    store: RecordStore, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without SMSQ_PURPOSES any purpose name is accepted: past the cap, new purposes must not each
    add a series to smsq_deliveries_total."""
    monkeypatch.setattr("producers.store.MAX_DELIVERY_SERIES", 2)
    for n in range(6):
        apply(store, undelivered(in_state(store, SendState.SENT, purpose=f"p{n}"), "MK:0001"))
    assert stats(redis_client, "deliveries") == {
        "undelivered|MK:0001|p0": "1",
        "undelivered|MK:0001|p1": "1",
        "undelivered|other|p2": "1",
        "undelivered|other|p3": "1",
        "undelivered|other|other": "2",
    }


def test_two_receipts_for_one_send_in_one_push_are_applied_in_turn(store: RecordStore) -> None:
    ticket = in_state(store, SendState.SENT)
    assert apply(store, undelivered(ticket), delivered(ticket), delivered(ticket)) == [
        "new",
        "changed",
        "duplicate",
    ]


def test_an_empty_push_changes_nothing(store: RecordStore, redis_client: redis.Redis) -> None:
    assert apply(store) == []
    assert stats(redis_client, "receipts") == {}
