"""Every worker host exports the receipt counters kept in Redis: receipts by outcome, deliveries by
result, carrier code and purpose, and the send-to-delivery histogram, with no phone number."""

from __future__ import annotations

import uuid

import redis
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from producers.receipts import Receipt, ReceiptBatch
from producers.records import SendState
from producers.store import RecordStore
from tests.conftest import fixed_keyring
from worker.metrics import RedisCollector

PHONE = "13512340000"


def sent(store: RecordStore, purpose: str) -> str:
    ticket = uuid.uuid4().hex
    store.admit(
        ticket=ticket,
        sealed_phone=fixed_keyring().seal(PHONE),
        masked="135****0000",
        purpose=purpose,
        lane="default",
        rules=(),
        useful_life_s=120,
        record_ttl_s=600,
    )
    store.claim(ticket, lease_s=60, token="run")
    store.finish(
        ticket,
        SendState.SENT,
        live_code_keys=fixed_keyring().live_code_keys(PHONE),
        code_ttl_s=300,
        token="run",
    )
    return ticket


def samples(client: redis.Redis) -> tuple[dict[tuple[str, frozenset[tuple[str, str]]], float], str]:
    registry = CollectorRegistry()
    registry.register(RedisCollector(client, ["default"]))
    text = generate_latest(registry).decode()
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found, text


def test_receipt_counters_in_redis_are_exported_as_counters_and_a_histogram(
    redis_client: redis.Redis,
) -> None:
    store = RecordStore(redis_client)
    login, signup = sent(store, "login"), sent(store, "signup")
    slow = sent(store, "login")
    batch = ReceiptBatch(
        (
            Receipt(login, True, "DELIVERED", 1_800_000_004.0, 4.0),
            Receipt(signup, False, "MK:0001", 1_800_000_009.0, None),
            Receipt(login, True, "DELIVERED", 1_800_000_004.0, 4.0),
            Receipt(slow, True, "DELIVERED", None, 700.0),
        ),
        malformed=2,
        foreign=1,
    )
    store.apply_receipts(batch)
    found, text = samples(redis_client)
    assert found[("smsq_receipts_total", frozenset({("outcome", "new")}))] == 3
    assert found[("smsq_receipts_total", frozenset({("outcome", "duplicate")}))] == 1
    assert found[("smsq_receipts_total", frozenset({("outcome", "unmatched")}))] == 1
    assert found[("smsq_receipts_total", frozenset({("outcome", "malformed")}))] == 2
    assert found[("smsq_receipts_total", frozenset({("outcome", "changed")}))] == 0
    delivered = frozenset({("result", "delivered"), ("carrier_code", "DELIVERED"), ("purpose", "login")})
    undelivered = frozenset({("result", "undelivered"), ("carrier_code", "MK:0001"), ("purpose", "signup")})
    assert found[("smsq_deliveries_total", delivered)] == 2
    assert found[("smsq_deliveries_total", undelivered)] == 1
    assert found[("smsq_send_to_delivery_seconds_bucket", frozenset({("le", "2.0")}))] == 0
    assert found[("smsq_send_to_delivery_seconds_bucket", frozenset({("le", "5.0")}))] == 1
    assert found[("smsq_send_to_delivery_seconds_bucket", frozenset({("le", "600.0")}))] == 1
    assert found[("smsq_send_to_delivery_seconds_bucket", frozenset({("le", "+Inf")}))] == 2
    assert found[("smsq_send_to_delivery_seconds_count", frozenset())] == 2
    assert found[("smsq_send_to_delivery_seconds_sum", frozenset())] == 704
    assert PHONE not in text


def test_before_any_receipt_the_families_exist_with_zeros(redis_client: redis.Redis) -> None:
    found, _ = samples(redis_client)
    assert found[("smsq_receipts_total", frozenset({("outcome", "new")}))] == 0
    assert found[("smsq_send_to_delivery_seconds_count", frozenset())] == 0
    assert not any(name == "smsq_deliveries_total" for name, _ in found)
