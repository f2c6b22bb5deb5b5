"""The RPC scripts of worker mode (producers/rpc.py) on a real Redis, with simulated time: every
race between a caller that gives up and a worker that answers settles once."""

from __future__ import annotations

import time
import uuid

import pytest
import redis

from producers import errors
from producers.constants import rpc_claim_key, rpc_reply_key
from producers.rpc import Answer, Reply, RpcCalls, Settled, wait_for_reply

NOW = 1_800_000_000_000
DEADLINE = NOW + 2_000
HOLD = 5_000


@pytest.fixture
def calls(redis_client: redis.Redis) -> RpcCalls:
    return RpcCalls(redis_client)


def token() -> str:
    return uuid.uuid4().hex


def keys(client: redis.Redis) -> list[str]:
    return sorted(client.scan_iter("smsq:rpc:*"))


def test_a_worker_claims_before_the_deadline_and_its_answer_reaches_the_caller_leaving_nothing(
    calls: RpcCalls, redis_client: redis.Redis
) -> None:
    call = token()
    assert calls.claim(call, deadline_ms=DEADLINE, hold_ms=HOLD, now_ms=NOW) is Settled.CLAIMED
    assert 0 < redis_client.pttl(rpc_claim_key(call)) <= DEADLINE - NOW + HOLD
    assert calls.reply(call, Reply(Answer.FAILED), deadline_ms=DEADLINE, now_ms=NOW + 100)
    text = wait_for_reply(redis_client, rpc_reply_key(call), 1.0, socket_timeout_s=5.0)
    assert text is not None and Reply.from_text(text) == Reply(Answer.FAILED)
    # only the mark that the call was answered, and only until its deadline
    assert keys(redis_client) == [rpc_claim_key(call)]
    assert 0 < redis_client.pttl(rpc_claim_key(call)) <= DEADLINE - NOW - 100


def test_a_copy_of_an_answered_call_asks_the_provider_nothing(
    calls: RpcCalls, redis_client: redis.Redis
) -> None:
    """A publish retried after a lost reply, or a broker's redelivery, brings the same message
    again: the second copy must not ask the provider a second time for one reserved attempt."""
    call = token()
    assert calls.claim(call, deadline_ms=DEADLINE, hold_ms=HOLD, now_ms=NOW) is Settled.CLAIMED
    assert calls.reply(call, Reply(Answer.FAILED), deadline_ms=DEADLINE, now_ms=NOW + 100)
    assert calls.claim(call, deadline_ms=DEADLINE, hold_ms=HOLD, now_ms=NOW + 200) is Settled.ANSWERED


def test_an_answer_after_the_deadline_leaves_nothing(calls: RpcCalls, redis_client: redis.Redis) -> None:
    call = token()
    assert calls.claim(call, deadline_ms=DEADLINE, hold_ms=HOLD, now_ms=NOW) is Settled.CLAIMED
    assert calls.reply(call, Reply(Answer.FAILED), deadline_ms=DEADLINE, now_ms=DEADLINE + 10)
    redis_client.delete(rpc_reply_key(call))  # the caller's pop
    assert keys(redis_client) == []


def test_a_worker_never_claims_a_call_past_its_deadline(calls: RpcCalls, redis_client: redis.Redis) -> None:
    assert calls.claim(token(), deadline_ms=DEADLINE, hold_ms=HOLD, now_ms=DEADLINE) is Settled.LATE
    assert keys(redis_client) == []


def test_a_caller_that_gives_up_early_stops_any_later_claim_until_its_deadline(
    calls: RpcCalls, redis_client: redis.Redis
) -> None:
    call = token()
    assert calls.abandon(call, deadline_ms=DEADLINE, now_ms=DEADLINE - 10) is False  # unclaimed
    assert calls.claim(call, deadline_ms=DEADLINE, hold_ms=HOLD, now_ms=DEADLINE - 5) is Settled.ABANDONED
    assert 0 < redis_client.pttl(rpc_claim_key(call)) <= 11  # the marker dies with the deadline


def test_a_caller_gone_after_the_claim_keeps_the_attempt_and_the_late_answer_is_dropped(
    calls: RpcCalls, redis_client: redis.Redis
) -> None:
    call = token()
    assert calls.claim(call, deadline_ms=DEADLINE, hold_ms=HOLD, now_ms=NOW) is Settled.CLAIMED
    assert calls.abandon(call, deadline_ms=DEADLINE, now_ms=DEADLINE) is True  # claimed: it counts
    assert not calls.reply(
        call, Reply(Answer.PASSED), deadline_ms=DEADLINE, now_ms=DEADLINE
    )  # reaches no one
    assert keys(redis_client) == []


def test_a_caller_gone_early_after_the_claim_still_stops_a_copy_until_the_deadline(
    calls: RpcCalls, redis_client: redis.Redis
) -> None:
    call = token()
    assert calls.claim(call, deadline_ms=DEADLINE, hold_ms=HOLD, now_ms=NOW) is Settled.CLAIMED
    assert calls.abandon(call, deadline_ms=DEADLINE, now_ms=NOW + 10) is True
    assert not calls.reply(call, Reply(Answer.PASSED), deadline_ms=DEADLINE, now_ms=NOW + 20)
    assert calls.claim(call, deadline_ms=DEADLINE, hold_ms=HOLD, now_ms=NOW + 30) is Settled.ANSWERED


def test_an_answer_pushed_just_as_the_wait_ran_out_is_still_the_callers(
    calls: RpcCalls, redis_client: redis.Redis
) -> None:
    call = token()
    calls.claim(call, deadline_ms=DEADLINE, hold_ms=HOLD, now_ms=NOW)
    calls.reply(call, Reply(Answer.PASSED), deadline_ms=DEADLINE, now_ms=DEADLINE)
    assert calls.abandon(call, deadline_ms=DEADLINE, now_ms=DEADLINE) == Reply(Answer.PASSED)
    assert keys(redis_client) == []


def test_waiting_for_a_reply_that_never_comes_ends_at_the_timeout_in_slices_below_the_socket_timeout(
    redis_client: redis.Redis,
) -> None:
    started = time.monotonic()
    assert wait_for_reply(redis_client, rpc_reply_key(token()), 0.6, socket_timeout_s=0.25) is None
    assert 0.6 <= time.monotonic() - started < 0.9


@pytest.mark.parametrize(
    "error",
    [
        errors.ProviderTransient("provider answered InternalError", code="InternalError", status=500),
        errors.ProviderThrottled("throttled", code="Throttling.User", status=400, retry_after=1.5),
        errors.ProviderAmbiguous("no answer from the provider (ReadTimeout)"),
        errors.ProviderPermanent("no keys", code="InvalidCredentials", reason="provider_no_credentials"),
        errors.DecryptionFailed("the sealed phone number opens with none of SMSQ_ENCRYPTION_KEYS"),
    ],
)
def test_a_workers_error_is_rebuilt_as_the_same_class_with_the_same_fields(error: errors.SmsqError) -> None:
    reply = Reply.from_text(Reply.failure(Answer.ERROR, error).to_text())
    rebuilt = reply.rebuilt_error()
    assert type(rebuilt) is type(error)
    assert (str(rebuilt), rebuilt.reason) == (str(error), error.reason)
    for name in ("code", "status", "request_id", "retry_after"):
        assert getattr(rebuilt, name, None) == getattr(error, name, None)
