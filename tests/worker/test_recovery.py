"""The recovery sweep against real Redis: who holds a send, and what happens to a send nobody holds.

These tests run on a Redis of their own: the test session's worker processes sweep the shared one
twice a second, and would publish the sends these tests leave for their own sweeper. Sends go to the
lane ``parked``, which nobody consumes, so every message the sweep publishes stays in Redis where the
test can count it.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

import pytest
import redis

from producers.keyring import get_keyring
from producers.records import SendState
from producers.settings import Settings, get_settings
from producers.store import RecordStore
from smsq.devstack.processes import Stack
from tests.conftest import clear_process_caches
from worker.recovery import DEAD_AFTER_S, Sweeper

LANE = "parked"
QUEUE = f"smsq.{LANE}"


@pytest.fixture(scope="module")
def own_redis_url() -> Iterator[str]:
    """An embedded Redis for this module alone."""
    with Stack() as stack:
        yield stack.redis()


@pytest.fixture
def redis_client(own_redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(own_redis_url, decode_responses=True)
    client.flushdb()  # this Redis belongs to this module
    yield client
    client.close()


@pytest.fixture
def settings(
    smsq_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, own_redis_url: str, redis_client: redis.Redis
) -> Settings:
    monkeypatch.setenv("SMSQ_REDIS_URL", own_redis_url)
    monkeypatch.setenv("SMSQ_LANES", '{"default": "50/second", "parked": "50/second"}')
    clear_process_caches()
    return get_settings()


@pytest.fixture
def store(redis_client: redis.Redis, settings: Settings) -> RecordStore:
    return RecordStore(redis_client)


@pytest.fixture
def sweeper(redis_client: redis.Redis, settings: Settings) -> Sweeper:
    return Sweeper(redis_client, settings, "test-worker/1")


def admit(store: RecordStore, *, life_s: int = 60) -> str:
    ticket = uuid.uuid4().hex
    phone = f"137{uuid.uuid4().int % 10**8:08d}"
    store.admit(
        ticket=ticket, sealed_phone=get_keyring().seal(phone), masked="137****0000", purpose="login",
        lane=LANE, rules=(), useful_life_s=life_s, record_ttl_s=600,
    )  # fmt: skip
    return ticket


def published(client: redis.Redis) -> list[str]:
    """The ticket of every message waiting in the lane's queue."""
    return [json.loads(raw)["headers"]["id"] for raw in client.lrange(QUEUE, 0, -1)]


def look_now(client: redis.Redis, ticket: str) -> None:
    """As if the send's time to be looked at had come (nobody vouched for it since)."""
    client.zadd("smsq:inflight", {ticket: 0})


def test_a_send_whose_run_died_is_published_again_once_its_lease_lapses(
    store: RecordStore, sweeper: Sweeper, redis_client: redis.Redis
) -> None:
    ticket = admit(store)
    assert store.claim(ticket, lease_s=0.2, token="dead-run").outcome == "claimed"
    look_now(redis_client, ticket)
    assert sweeper.sweep() == 0  # the lease still holds: the run may be alive
    assert redis_client.zscore("smsq:inflight", ticket) > 0  # looked at again when it would lapse
    time.sleep(0.3)
    look_now(redis_client, ticket)
    assert sweeper.sweep() == 1
    assert published(redis_client) == [ticket]
    # and the next run knows the first may have reached the provider
    claim = store.claim(ticket, lease_s=5, token="next-run")
    assert claim.outcome == "claimed" and claim.ambiguous_since is not None


def test_the_sends_a_dead_worker_held_are_published_again_and_only_those(
    store: RecordStore, sweeper: Sweeper, redis_client: redis.Redis
) -> None:
    held, done, other = admit(store), admit(store), admit(store)
    store.finish(done, SendState.FAILED, live_code_keys=(), code_ttl_s=1, fields={"reason": "x"})
    dead = Sweeper(redis_client, sweeper._settings, "dead-worker/2")
    dead.beat([held, done])
    sweeper.beat([other])
    # the dead worker stopped beating long ago; the living one just beat
    redis_client.zadd("smsq:workers", {"dead-worker/2": 1})
    assert sweeper.sweep() == 1
    assert published(redis_client) == [held]
    assert redis_client.zscore("smsq:workers", "dead-worker/2") is None
    assert not redis_client.exists("smsq:held:dead-worker/2")
    assert redis_client.zscore("smsq:workers", "test-worker/1") is not None


def test_a_live_worker_vouches_for_the_sends_it_holds(
    store: RecordStore, sweeper: Sweeper, redis_client: redis.Redis
) -> None:
    ticket = admit(store)
    look_now(redis_client, ticket)
    sweeper.beat([ticket])  # reserved by this worker: its time to be looked at moves on
    assert redis_client.zscore("smsq:inflight", ticket) > time.time() * 1000
    assert sweeper.sweep() == 0
    assert published(redis_client) == []
    assert DEAD_AFTER_S > 2  # a beat every 2 s: three missed beats before a worker counts as dead


def test_a_queued_send_nobody_received_is_published_again_only_when_its_queue_is_empty(
    store: RecordStore, sweeper: Sweeper, redis_client: redis.Redis
) -> None:
    lost = admit(store)
    redis_client.lpush(QUEUE, json.dumps({"headers": {"id": "another-send"}}))
    look_now(redis_client, lost)
    assert sweeper.sweep() == 0  # its message may be one of those still queued
    redis_client.delete(QUEUE)
    look_now(redis_client, lost)
    assert sweeper.sweep() == 1  # nothing queued and nobody holds it: its message was lost
    assert published(redis_client) == [lost]


def test_a_parked_send_is_published_when_its_rate_slot_comes_and_not_before(
    store: RecordStore, sweeper: Sweeper, redis_client: redis.Redis
) -> None:
    ticket = admit(store)
    store.claim(ticket, lease_s=5, token="run")
    slot_at = float(redis_client.time()[0]) + 1.5
    state = store.finish(ticket, SendState.QUEUED, live_code_keys=(), code_ttl_s=1, token="run",
                         fields={"slot_at": f"{slot_at:.3f}"})  # fmt: skip
    assert state is SendState.QUEUED
    assert sweeper.sweep() == 0  # 1.5 s ahead: beyond the half second it is published early by
    deadline = time.monotonic() + 5
    while not published(redis_client) and time.monotonic() < deadline:
        sweeper.sweep()
        time.sleep(0.05)
    assert published(redis_client) == [ticket]
    assert redis_client.zcard("smsq:due:parked") == 0


def test_a_send_nobody_can_serve_before_its_deadline_ends_expired_saying_whether_an_sms_may_be_out(
    store: RecordStore, sweeper: Sweeper, redis_client: redis.Redis
) -> None:
    never_tried, mid_call = admit(store, life_s=10), admit(store, life_s=10)
    store.claim(mid_call, lease_s=0.1, token="dead-run")
    for ticket in (never_tried, mid_call):
        redis_client.hset(f"smsq:send:{ticket}", "deadline_at", f"{time.time() - 1:.3f}")
        look_now(redis_client, ticket)
    time.sleep(0.2)
    assert sweeper.sweep() == 0
    assert store.status(never_tried).reason == "deadline_passed"
    assert (store.status(mid_call).state, store.status(mid_call).reason) == (
        SendState.EXPIRED,
        "ambiguous_expired",
    )
    assert redis_client.zscore("smsq:inflight", never_tried) is None


def test_an_expired_duplicate_message_never_overwrites_a_run_that_holds_the_send(
    store: RecordStore, redis_client: redis.Redis
) -> None:
    ticket = admit(store)
    store.claim(ticket, lease_s=30, token="live-run")
    # what the worker's expired-message handler writes: a decision made outside any run
    assert store.finish(ticket, SendState.EXPIRED, live_code_keys=(), code_ttl_s=1) is SendState.SENDING
    live = get_keyring().live_code_keys("13700000000")
    assert store.finish(ticket, SendState.SENT, live_code_keys=live, code_ttl_s=60, token="live-run") is (
        SendState.SENT
    )
    assert redis_client.zscore("smsq:inflight", ticket) is None  # final: out of the index


def test_a_final_send_leaves_every_recovery_index(store: RecordStore, redis_client: redis.Redis) -> None:
    ticket = admit(store)
    assert redis_client.zscore("smsq:inflight", ticket) is not None
    store.claim(ticket, lease_s=5, token="run")
    store.finish(
        ticket, SendState.SENT, live_code_keys=get_keyring().live_code_keys("13700000000"), code_ttl_s=60,
        token="run",
    )  # fmt: skip
    assert redis_client.zscore("smsq:inflight", ticket) is None
    assert redis_client.zscore("smsq:orphans", ticket) is None
