"""Delivery against the emulator over HTTP with the real SDK, store and limiter (no Celery).

A fake clock drives the retry waits so the deadline and the provider's interval pass without
real sleeping; every provider call is a real HTTP request.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import redis

from producers.errors import ServiceUnavailable
from producers.keyring import Keyring, get_keyring
from producers.process import reset_caches
from producers.provider import DypnsapiProvider
from producers.records import SendState
from producers.settings import Settings, get_settings
from producers.store import RecordStore
from tests.conftest import TEST_HASH_KEY, EmulatorHandle
from worker.delivery import Delivery
from worker.leases import LeaseKeeper
from worker.limiter import UpstreamLimiter


class FakeClock:
    """Wall-clock time that jumps forward when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = time.time()
        self.slept: list[float] = []

    def time(self) -> float:
        return self.now + 0.0

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def settings(smsq_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    # The fake clock skips sleeps but the limiter runs on Redis's real clock: a fast lane keeps
    # the limiter out of the way here (it has its own tests).
    monkeypatch.setenv("SMSQ_LANES", '{"default": "1000/second"}')
    monkeypatch.setenv("SMSQ_ACCOUNT_RATE", "2000/second")
    reset_caches()
    return get_settings()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def delivery(settings: Settings, redis_client: redis.Redis, clock: FakeClock) -> Delivery:
    client = redis.Redis.from_url(settings.redis_dsn, decode_responses=True)
    return Delivery(
        RecordStore(client),
        DypnsapiProvider(settings),
        UpstreamLimiter.from_settings(settings, client),
        settings,
        clock=clock.time,
        sleep=clock.sleep,
    )


def admit(delivery: Delivery, phone: str, keyring: Keyring | None = None) -> str:
    ticket = uuid.uuid4().hex
    admission = delivery.store.admit(
        ticket=ticket,
        sealed_phone=(keyring or get_keyring()).seal(phone),
        masked="x",
        purpose="login",
        lane="default",
        rules=(),
        useful_life_s=delivery.settings.send_deadline_s,
        record_ttl_s=600,
    )
    assert admission.outcome == "ok"
    return ticket


def requests_seen(emulator: EmulatorHandle) -> int:
    return sum(emulator.stats()["requests"].get("SendSmsVerifyCode", {}).values())


def test_a_send_is_delivered_once_and_recorded_with_the_provider_ids(
    delivery: Delivery, emulator: EmulatorHandle
) -> None:
    ticket = admit(delivery, "13522223333")
    outcome = delivery.deliver(ticket, token="t1")
    assert outcome.result == "sent"
    status = delivery.store.status(ticket)
    assert status.state == "sent"
    assert status.provider_request_id and status.biz_id
    messages = emulator.messages("13522223333")
    assert len(messages) == 1
    assert messages[0]["out_id"] == ticket


def test_a_redelivered_task_does_not_send_twice(delivery: Delivery, emulator: EmulatorHandle) -> None:
    ticket = admit(delivery, "13522223334")
    assert delivery.deliver(ticket, token="first").result == "sent"
    assert delivery.deliver(ticket, token="second").result == "duplicate"
    assert len(emulator.messages("13522223334")) == 1


@pytest.mark.parametrize(
    ("phone", "reason"),
    [("13900000007", "provider_bad_number"), ("13900000008", "provider_daily_limit")],
)
def test_a_permanent_provider_error_fails_at_once_with_its_reason(
    delivery: Delivery, emulator: EmulatorHandle, phone: str, reason: str
) -> None:
    ticket = admit(delivery, phone)
    outcome = delivery.deliver(ticket, token="t")
    assert (outcome.result, outcome.reason) == ("failed", reason)
    assert delivery.store.status(ticket).reason == reason
    assert requests_seen(emulator) == 1


def test_transient_errors_are_retried_until_the_provider_accepts(
    delivery: Delivery, emulator: EmulatorHandle, clock: FakeClock
) -> None:
    ticket = admit(delivery, "13900000010")  # answers 503 twice, then OK
    outcome = delivery.deliver(ticket, token="t")
    assert outcome.result == "sent"
    assert requests_seen(emulator) == 3
    assert len(clock.slept) >= 2


@pytest.mark.parametrize("phone", ["13900000002", "13900000003", "13900000004", "13900000001"])
def test_a_provider_that_keeps_failing_transiently_fails_the_send_at_its_deadline(
    delivery: Delivery, emulator: EmulatorHandle, clock: FakeClock, phone: str
) -> None:
    ticket = admit(delivery, phone)
    outcome = delivery.deliver(ticket, token="t")
    assert (outcome.result, outcome.reason) == ("failed", "provider_unavailable")
    assert requests_seen(emulator) >= 3
    assert clock.now <= delivery.store.status(ticket).deadline_at + delivery.settings.retry_max_s


def test_a_read_timeout_then_frequency_control_is_recorded_as_one_sent_sms(
    delivery: Delivery, emulator: EmulatorHandle
) -> None:
    ticket = admit(delivery, "13900000009")  # first request processed, answer never comes
    outcome = delivery.deliver(ticket, token="t")
    assert outcome.result == "sent"
    assert len(emulator.messages("13900000009")) == 1
    record = delivery.store._redis.hgetall(f"smsq:send:{ticket}")
    assert record["confirmed_by"] == "provider_frequency"
    assert record["ambiguous_since"]


def test_a_dropped_first_request_is_retried_and_sends_exactly_one_sms(
    delivery: Delivery, emulator: EmulatorHandle
) -> None:
    ticket = admit(delivery, "13900000011")  # first connection dropped before processing
    assert delivery.deliver(ticket, token="t").result == "sent"
    assert len(emulator.messages("13900000011")) == 1


def test_an_ambiguity_that_cannot_be_resolved_inside_the_interval_fails_without_resending(
    delivery: Delivery, emulator: EmulatorHandle
) -> None:
    ticket = admit(delivery, "13900000006")  # every connection dropped
    outcome = delivery.deliver(ticket, token="t")
    assert (outcome.result, outcome.reason) == ("failed", "ambiguous_unconfirmed")
    assert emulator.messages("13900000006") == []


def test_a_send_past_its_deadline_is_recorded_expired_without_calling_the_provider(
    delivery: Delivery, emulator: EmulatorHandle, settings: Settings
) -> None:
    ticket = uuid.uuid4().hex
    delivery.store.admit(
        ticket=ticket,
        sealed_phone=get_keyring().seal("13522223335"),
        masked="x",
        purpose="login",
        lane="default",
        rules=(),
        useful_life_s=10,
        record_ttl_s=600,
        now_ms=int((time.time() - 60) * 1000),
    )
    assert delivery.deliver(ticket, token="t").result == "expired"
    assert delivery.store.status(ticket).state == "expired"
    assert requests_seen(emulator) == 0


def test_a_sent_record_keeps_not_even_the_sealed_number_and_names_the_live_code_by_digest(
    delivery: Delivery, emulator: EmulatorHandle, redis_client: redis.Redis
) -> None:
    ticket = admit(delivery, "13522223350")
    assert "sealed_phone" in redis_client.hgetall(f"smsq:send:{ticket}")  # queued: the worker needs it
    assert delivery.deliver(ticket, token="t").result == "sent"
    record = redis_client.hgetall(f"smsq:send:{ticket}")
    assert "sealed_phone" not in record
    assert not any("13522223350" in value or "1352222" in value for value in record.values())
    [live] = [key for key in redis_client.scan_iter("smsq:last:*")]
    assert redis_client.get(live) == ticket and "1352222" not in live
    assert live == get_keyring().live_code_keys("13522223350")[0]


def test_a_record_no_configured_key_opens_fails_with_reason_undecryptable_and_sends_nothing(
    delivery: Delivery, emulator: EmulatorHandle, redis_client: redis.Redis
) -> None:
    """Finding 7: a worker with the wrong key ends the send with a reason; it never crashes."""
    other = Keyring([TEST_HASH_KEY.encode()], [Keyring.new_encryption_key().encode()])
    ticket = admit(delivery, "13522223351", keyring=other)
    outcome = delivery.deliver(ticket, token="t")
    assert (outcome.result, outcome.reason) == ("failed", "undecryptable")
    assert delivery.store.status(ticket).reason == "undecryptable"
    assert "sealed_phone" not in redis_client.hgetall(f"smsq:send:{ticket}")
    assert requests_seen(emulator) == 0


def test_a_record_sealed_under_the_previous_key_is_still_sent_after_a_rotation(
    delivery: Delivery, emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    old_encryption = settings.encryption_keys[0].get_secret_value()
    ticket = admit(delivery, "13522223352")  # sealed with the key in use until now
    monkeypatch.setenv("SMSQ_ENCRYPTION_KEYS", f"{Keyring.new_encryption_key()},{old_encryption}")
    reset_caches()
    delivery.keyring = get_keyring()
    assert delivery.deliver(ticket, token="t").result == "sent"
    assert len(emulator.messages("13522223352")) == 1


def test_a_record_of_another_schema_version_fails_with_reason_schema_without_calling_the_provider(
    delivery: Delivery, emulator: EmulatorHandle, redis_client: redis.Redis
) -> None:
    ticket = admit(delivery, "13522223336")
    redis_client.hset(f"smsq:send:{ticket}", "v", "99")  # what a later release might write
    outcome = delivery.deliver(ticket, token="t")
    assert (outcome.result, outcome.reason) == ("failed", "schema")
    assert delivery.store.status(ticket).reason == "schema"
    assert requests_seen(emulator) == 0


def slow_lane(delivery: Delivery, rate: str) -> None:
    from producers.limits import parse_rate

    delivery.limiter = UpstreamLimiter(delivery.store._redis, {"default": parse_rate(rate)})


#: A run told its lane takes its rate token in the claim's round trip; one not told, separately.
#: Either way the limiter must decide the same.
BOTH_WAYS = pytest.mark.parametrize("lane", [None, "default"], ids=["token_apart", "token_in_claim"])


@BOTH_WAYS
def test_a_long_wait_for_the_upstream_rate_parks_the_send_in_redis_with_its_reserved_slot(
    delivery: Delivery, emulator: EmulatorHandle, redis_client: redis.Redis, lane: str | None
) -> None:
    first, second = admit(delivery, "13522223336"), admit(delivery, "13522223337")
    slow_lane(delivery, "1/5second")  # the first send takes the token, the second waits ~5 s
    assert delivery.deliver(first, token="a", lane=lane).result == "sent"
    outcome = delivery.deliver(second, token="b", lane=lane)
    assert (outcome.result, outcome.reason) == ("parked", "rate")
    status = delivery.store.status(second)
    assert status.state == "queued" and status.waiting_until is not None
    assert 2.5 < status.waiting_until - time.time() <= 5.5
    parked = redis_client.zrange("smsq:due:default", 0, -1, withscores=True)
    assert parked == [(second, pytest.approx(status.waiting_until * 1000, abs=1))]
    assert len(emulator.messages("13522223337")) == 0
    # an early copy of its message keeps the slot it has: no second token is taken from the lane
    tat = redis_client.get("smsq:gcra:lane:default")
    assert delivery.deliver(second, token="c", lane=lane).result == "parked"
    assert redis_client.get("smsq:gcra:lane:default") == tat
    assert delivery.store.status(second).waiting_until == status.waiting_until


@BOTH_WAYS
def test_a_send_the_rate_cannot_serve_before_its_deadline_expires_instead_of_waiting(
    delivery: Delivery, emulator: EmulatorHandle, lane: str | None
) -> None:
    first, second = admit(delivery, "13522223344"), admit(delivery, "13522223345")
    slow_lane(delivery, "1/minute")  # the next token comes long after the 10 s deadline
    assert delivery.deliver(first, token="a", lane=lane).result == "sent"
    outcome = delivery.deliver(second, token="b", lane=lane)
    assert (outcome.result, outcome.reason) == ("expired", "rate_backlog")
    assert emulator.messages("13522223345") == []


def test_a_run_told_its_lane_takes_its_token_in_the_claim_and_runs_no_limiter_script(
    delivery: Delivery, emulator: EmulatorHandle, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    from producers.limits import parse_rate

    # slow limiters, so that the taken token's TAT outlives the send (a key expires at its TAT)
    delivery.limiter = UpstreamLimiter(
        delivery.store._redis, {"default": parse_rate("1/minute")}, parse_rate("1/minute"), max_wait_s=1
    )
    taken_apart: list[object] = []
    real_take = delivery.limiter.take

    def take(*args: Any, **kwargs: Any) -> Any:
        taken_apart.append(args)
        return real_take(*args, **kwargs)

    monkeypatch.setattr(delivery.limiter, "take", take)
    ticket = admit(delivery, "13522223346")
    assert delivery.deliver(ticket, token="a", lane="default").result == "sent"
    assert taken_apart == []
    # the token was taken all the same: from the lane's limiter and from the account's
    assert redis_client.get("smsq:gcra:lane:default") and redis_client.get("smsq:gcra:account")
    assert len(emulator.messages("13522223346")) == 1


def test_a_claim_takes_no_token_for_a_send_of_another_lane_than_it_was_told(
    delivery: Delivery, emulator: EmulatorHandle, redis_client: redis.Redis
) -> None:
    from producers.limits import parse_rate

    limiter = UpstreamLimiter(
        delivery.store._redis, {"default": parse_rate("1/minute"), "other": parse_rate("1/minute")}
    )
    delivery.limiter = limiter
    ticket = admit(delivery, "13522223347")  # a send of lane "default"
    claim = delivery.store.claim(ticket, lease_s=5, token="a", rate=limiter.claim_request("other"))
    assert claim.outcome == "claimed" and claim.rate is None
    assert redis_client.get("smsq:gcra:lane:other") is None


def test_a_sign_name_the_provider_does_not_know_fails_the_send_after_one_call(
    settings: Settings, redis_client: redis.Redis, clock: FakeClock, emulator: EmulatorHandle
) -> None:
    wrong = settings.model_copy(update={"sign_name": "不存在的签名"})
    client = redis.Redis.from_url(settings.redis_dsn, decode_responses=True)
    delivery = Delivery(
        RecordStore(client),
        DypnsapiProvider(wrong),
        UpstreamLimiter.from_settings(wrong, client),
        wrong,
        clock=clock.time,
        sleep=clock.sleep,
    )
    ticket = admit(delivery, "13522223338")
    outcome = delivery.deliver(ticket, token="t")
    assert (outcome.result, outcome.reason) == ("failed", "provider_config")
    assert requests_seen(emulator) == 1
    assert emulator.messages("13522223338") == []


class FailingOnce:
    """Wraps a collaborator so that one named method raises ServiceUnavailable once (a Redis blip)."""

    def __init__(self, inner: object, method: str, when: object = None) -> None:
        self._inner, self._method, self._when, self.failed = inner, method, when, False

    def __getattr__(self, name: str) -> object:
        target = getattr(self._inner, name)
        if name != self._method:
            return target

        def call(*args: object, **kwargs: object) -> object:
            if not self.failed and (self._when is None or self._when in args):
                self.failed = True
                raise ServiceUnavailable("Redis is unavailable")
            return target(*args, **kwargs)

        return call


def test_a_redis_failure_mid_run_hands_the_send_back_so_the_next_run_sends_it(
    delivery: Delivery, emulator: EmulatorHandle
) -> None:
    ticket = admit(delivery, "13522223340")
    delivery.limiter = FailingOnce(delivery.limiter, "acquire")  # type: ignore[assignment]
    with pytest.raises(ServiceUnavailable):
        delivery.deliver(ticket, token="first")
    assert delivery.store.status(ticket).state == "queued"
    # handed to the recovery sweep, which publishes it again at once
    assert delivery.store._redis.zscore("smsq:orphans", ticket) is not None
    assert delivery.deliver(ticket, token="second").result == "sent"
    assert len(emulator.messages("13522223340")) == 1


def test_an_sms_sent_but_not_recorded_is_only_confirmed_by_the_next_run_never_sent_again(
    delivery: Delivery, emulator: EmulatorHandle
) -> None:
    ticket = admit(delivery, "13522223341")
    real_store = delivery.store
    delivery.store = FailingOnce(real_store, "finish", when="sent")  # type: ignore[assignment]
    with pytest.raises(ServiceUnavailable):
        delivery.deliver(ticket, token="first")
    delivery.store = real_store
    outcome = delivery.deliver(ticket, token="second")
    assert outcome.result == "sent"
    assert real_store._redis.hget(f"smsq:send:{ticket}", "confirmed_by") == "provider_frequency"
    assert len(emulator.messages("13522223341")) == 1


def test_a_send_held_by_a_live_run_is_left_to_it(delivery: Delivery, redis_client: redis.Redis) -> None:
    ticket = admit(delivery, "13522223342")
    assert delivery.store.claim(ticket, lease_s=30, token="live-run").outcome == "claimed"
    assert delivery.deliver(ticket, token="redelivered").result == "busy"
    assert delivery.store.status(ticket).state == "sending"
    assert redis_client.get(f"smsq:lease:{ticket}") == "live-run"


def test_a_run_that_lost_its_lease_cannot_hand_the_send_back(delivery: Delivery) -> None:
    ticket = admit(delivery, "13522223343")
    delivery.store.claim(ticket, lease_s=30, token="owner")
    state = delivery.store.finish(ticket, SendState.QUEUED, live_code_keys=(), code_ttl_s=300, token="stale")
    assert state == "sending"


def _taken_over(delivery: Delivery, ticket: str, redis_client: redis.Redis) -> None:
    """A run "stale" claimed ``ticket``, its lease lapsed (its process stood still), and a run
    "owner" claimed the send after it."""
    assert delivery.store.claim(ticket, lease_s=30, token="stale").outcome == "claimed"
    redis_client.delete(f"smsq:lease:{ticket}")
    assert delivery.store.claim(ticket, lease_s=30, token="owner").outcome == "claimed"


@pytest.mark.parametrize("state", [SendState.FAILED, SendState.EXPIRED])
def test_a_run_that_lost_its_lease_cannot_end_the_send_another_run_now_holds(
    delivery: Delivery, redis_client: redis.Redis, state: SendState
) -> None:
    ticket = admit(delivery, "13522223344")
    _taken_over(delivery, ticket, redis_client)

    stale = delivery.store.finish(
        ticket,
        state,
        live_code_keys=(),
        code_ttl_s=300,
        token="stale",
        fields={"reason": "provider_frequency"},
    )
    assert stale == "sending"  # e.g. the owner's own SMS made the stale run's call fail: not a fact
    live = "smsq:test:live-code"
    owner = delivery.store.finish(
        ticket, SendState.SENT, live_code_keys=(live,), code_ttl_s=300, token="owner"
    )
    assert owner == "sent"
    assert redis_client.get(live) == ticket  # the code the user got is the one a check passes
    assert delivery.store.status(ticket).state == "sent"


def test_a_run_that_lost_its_lease_still_records_a_send_the_provider_took(
    delivery: Delivery, redis_client: redis.Redis
) -> None:
    ticket = admit(delivery, "13522223345")
    _taken_over(delivery, ticket, redis_client)

    live = ("smsq:test:live-code",)
    state = delivery.store.finish(ticket, SendState.SENT, live_code_keys=live, code_ttl_s=300, token="stale")
    assert state == "sent"  # the provider's OK is a fact, whoever holds the lease
    assert (
        delivery.store.finish(ticket, SendState.FAILED, live_code_keys=(), code_ttl_s=300, token="owner")
        == "sent"
    )


def leased(delivery: Delivery, settings: Settings, sleep: Callable[[float], None]) -> Delivery:
    """``delivery``'s collaborators, with leases renewed (as a worker's runs have) and ``sleep``."""
    client = redis.Redis.from_url(settings.redis_dsn, decode_responses=True)
    leases = LeaseKeeper(client, settings.run_lease_s)
    return Delivery(delivery.store, delivery.provider, delivery.limiter, settings, leases=leases, sleep=sleep)


def test_a_run_whose_lease_lapsed_while_it_slept_never_calls_the_provider_again(
    settings: Settings, delivery: Delivery, emulator: EmulatorHandle, redis_client: redis.Redis
) -> None:
    """The process of run "stale" stands still in a retry's backoff (paused, swapped out) longer
    than its lease; the recovery sweep hands the send to run "owner", which sends it. When "stale"
    wakes up it must not send a second code."""
    ticket = admit(delivery, "13900000011")  # first request dropped unprocessed, then normal
    seen: list[int] = []

    def stood_still(seconds: float) -> None:
        redis_client.delete(f"smsq:lease:{ticket}")  # the lease lapsed meanwhile
        owner = Delivery(
            delivery.store, delivery.provider, delivery.limiter, settings, sleep=FakeClock().sleep
        )
        assert owner.deliver(ticket, token="owner").result == "sent"
        seen.append(requests_seen(emulator))

    stale = leased(delivery, settings, stood_still)
    outcome = stale.deliver(ticket, token="stale")

    assert (outcome.result, outcome.reason) == ("busy", "lease_lost")
    assert seen == [2] and requests_seen(emulator) == 2  # the stale run asked nothing after waking
    assert len(emulator.messages("13900000011")) == 1
    assert delivery.store.status(ticket).state == "sent"


def test_a_run_that_slept_for_its_rate_slot_still_sends_while_it_holds_its_lease(
    settings: Settings, delivery: Delivery, emulator: EmulatorHandle
) -> None:
    ticket = admit(delivery, "13900000011")  # a retry: the second call follows a backoff sleep
    run = leased(delivery, settings, FakeClock().sleep)
    assert run.deliver(ticket, token="only").result == "sent"
    assert requests_seen(emulator) == 2
    assert len(emulator.messages("13900000011")) == 1


def test_an_ambiguous_attempt_is_remembered_once_and_never_on_a_record_redis_lost(
    delivery: Delivery, redis_client: redis.Redis
) -> None:
    ticket = admit(delivery, "13522223346")
    delivery.store.mark_ambiguous(ticket, 100.0)
    delivery.store.mark_ambiguous(ticket, 200.0)
    assert redis_client.hget(f"smsq:send:{ticket}", "ambiguous_since") == "100.000"  # the earliest

    lost = uuid.uuid4().hex  # a run whose record went with Redis's data
    delivery.store.mark_ambiguous(lost, 100.0)
    assert not redis_client.exists(f"smsq:send:{lost}")


def test_deadlines_and_windows_are_judged_on_the_redis_clock_not_the_workers(
    delivery: Delivery, emulator: EmulatorHandle, clock: FakeClock
) -> None:
    clock.now -= 100  # this worker's clock is 100 s behind Redis
    ticket = admit(delivery, "13900000006")  # every connection dropped: ambiguous until the deadline
    outcome = delivery.deliver(ticket, token="t")
    assert (outcome.result, outcome.reason) == ("failed", "ambiguous_unconfirmed")
    # the 10 s deadline (server time) ended it, not 100 s of this host's clock
    assert sum(clock.slept) <= delivery.settings.send_deadline_s + delivery.settings.retry_max_s
