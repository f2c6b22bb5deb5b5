"""Deliver one send: claim it, wait for the upstream rate, call the provider, record the outcome.

This is the plain service function the Celery task calls; tests call it without Celery.

Retries: tenacity retries transient provider failures (throttling, 5xx, refused connections)
with jittered exponential backoff until the send's deadline. Permanent failures end the send at
once with their reason.

The ambiguous case: a read timeout (or a dropped connection) may hide an SMS that went out. The
provider refuses a second send to the same number inside ``Interval`` (``biz.FREQUENCY``), so a
retry *inside that interval* is safe and tells us what happened: ``OK`` means the first request
never took effect (one SMS, this one); ``biz.FREQUENCY`` proves the first one went out (one SMS,
recorded as sent). Past the interval a retry could text a second, different code, so the send
fails as ``ambiguous_unconfirmed`` instead. A worker that died mid-call leaves the same situation,
and the next claim reports it the same way.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from tenacity import RetryCallState, Retrying, retry_if_exception_type

from producers import errors
from producers.provider import SendReceipt
from producers.settings import Settings
from producers.store import RecordStore
from worker import metrics
from worker.celeryconfig import task_time_limit

#: The lease outlives the task's hard time limit, so no second copy starts while one runs.
LEASE_S = task_time_limit + 30
#: A retry after an ambiguous attempt must reach the provider this long before its interval ends.
AMBIGUITY_MARGIN_S = 5.0
#: Pause after an ambiguous attempt, so a request still in flight at the provider has finished.
AMBIGUITY_PAUSE_S = 1.0
#: How long a lane runs slower after the provider answered Throttling (it recovers by itself).
THROTTLE_PENALTY_S = 5.0


class SendsSms(Protocol):
    """What delivery needs from the provider adapter."""

    def send(self, phone: str, *, out_id: str) -> SendReceipt: ...


class LimiterDecision(Protocol):
    """The limiter's answer: wait ``go_after_s``; ``reserved`` says whether the token is held."""

    @property
    def go_after_s(self) -> float: ...

    @property
    def reserved(self) -> bool: ...


class SharesRate(Protocol):
    """What delivery needs from the shared upstream limiter."""

    def acquire(self, lane: str, max_wait_s: float) -> LimiterDecision: ...

    def penalize(self, lane: str, seconds: float) -> None: ...


class Requeue(Exception):
    """Raised when the send must wait longer than a task should sleep: re-queue it after ``countdown``."""

    def __init__(self, countdown: float) -> None:
        super().__init__(f"re-queue in {countdown:.3f} s")
        self.countdown = countdown


class AmbiguityUnresolved(errors.ProviderPermanent):
    """Raised when an ambiguous attempt could not be confirmed inside the provider's interval."""

    reason = "ambiguous_unconfirmed"


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one run of the task ended."""

    state: str  # sent | failed | expired | duplicate | missing | requeued
    reason: str = ""
    lane: str = ""


@dataclass
class Delivery:
    """The collaborators of a delivery; one per worker process."""

    store: RecordStore
    provider: SendsSms
    limiter: SharesRate
    settings: Settings
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep

    def deliver(self, ticket: str, *, token: str) -> Outcome:
        """Run one attempt at delivering ``ticket``; raise :class:`Requeue` to wait for the rate."""
        claim = self.store.claim(ticket, lease_s=LEASE_S, token=token)
        if claim.outcome in ("done", "busy"):
            return Outcome("duplicate", claim.state or "in_progress")
        if claim.outcome in ("missing", "expired"):
            return Outcome(claim.outcome, "deadline_passed" if claim.outcome == "expired" else "no_record")
        attempt = _Attempt(self, ticket, claim.phone, claim.lane, claim.deadline_at, claim.ambiguous_since)
        try:
            receipt = attempt.run()
        except Requeue:
            self._finish(ticket, claim.phone, "queued", {})
            raise
        except errors.ProviderError as exc:
            reason = _final_reason(exc)
            fields = {"reason": reason, "provider_code": exc.code or ""}
            state = self._finish(ticket, claim.phone, "failed", fields)
            return Outcome(state, reason, claim.lane)
        fields = {
            "request_id": receipt.request_id,
            "biz_id": receipt.biz_id,
            "provider_latency_ms": f"{receipt.latency_s * 1000:.1f}",
            "confirmed_by": attempt.confirmed_by,
        }
        state = self._finish(ticket, claim.phone, "sent", fields)
        if state == "sent":
            metrics.observe_enqueue_to_sent(claim.lane, self.clock() - claim.created_at)
        return Outcome(state, "ok", claim.lane)

    def give_up(self, ticket: str, reason: str) -> None:
        """End a send that a run could not finish (time limit, unexpected error) as ``failed``."""
        with contextlib.suppress(errors.ServiceUnavailable):
            self._finish(ticket, "", "failed", {"reason": reason})

    def _finish(self, ticket: str, phone: str, state: str, fields: dict[str, str]) -> str:
        return self.store.finish(
            ticket, state, phone=phone, code_ttl_s=self.settings.code_ttl_s, fields=fields
        )


def _final_reason(exc: errors.ProviderError) -> str:
    """Why a send failed, when ``exc`` was the last answer before giving up."""
    if isinstance(exc, errors.ProviderTransient):
        return "provider_unavailable"  # retried until the deadline
    if isinstance(exc, errors.ProviderAmbiguous):
        return AmbiguityUnresolved.reason  # may have been delivered; never resent
    return exc.reason


class _Attempt:
    """The retry loop of one task run."""

    def __init__(
        self,
        delivery: Delivery,
        ticket: str,
        phone: str,
        lane: str,
        deadline_at: float,
        ambiguous_since: float | None,
    ) -> None:
        self.d = delivery
        self.ticket = ticket
        self.phone = phone
        self.lane = lane
        self.deadline_at = deadline_at
        self.ambiguous_since = ambiguous_since
        self.confirmed_by = "provider_ok"

    def run(self) -> SendReceipt:
        """Attempt the send until it succeeds, fails for good, or its deadline comes."""
        retrying = Retrying(
            retry=retry_if_exception_type((errors.ProviderTransient, errors.ProviderAmbiguous)),
            wait=self._wait,
            stop=self._stop,
            sleep=self.d.sleep,
            before_sleep=self._before_sleep,
            reraise=True,
        )
        return retrying(self._once)

    def _once(self) -> SendReceipt:
        self._take_token()
        if self.ambiguous_since is not None:
            window_ends = self.ambiguous_since + self.d.settings.provider_interval_s - AMBIGUITY_MARGIN_S
            if self.d.clock() > window_ends:
                raise AmbiguityUnresolved("an earlier attempt may have been delivered; not resending")
        started = self.d.clock()
        try:
            receipt = self.d.provider.send(self.phone, out_id=self.ticket)
        except errors.ProviderError as exc:
            metrics.provider_request("send", self.d.clock() - started, exc)
            return self._after_error(exc, started)
        metrics.provider_request("send", receipt.latency_s, None)
        return receipt

    def _after_error(self, exc: errors.ProviderError, started: float) -> SendReceipt:
        """Re-raise ``exc`` for the retry loop, unless it proves an earlier attempt went out."""
        if isinstance(exc, errors.ProviderAmbiguous) and self.ambiguous_since is None:
            self.ambiguous_since = started
            self.d.store.mark_ambiguous(self.ticket, started)
        elif isinstance(exc, errors.ProviderFrequency) and self.ambiguous_since is not None:
            # The provider refused a second send inside its interval: the first one went out.
            self.confirmed_by = "provider_frequency"
            return SendReceipt(biz_id="", request_id="", latency_s=self.d.clock() - started)
        elif isinstance(exc, errors.ProviderThrottled):
            self.d.limiter.penalize(self.lane, THROTTLE_PENALTY_S)
        raise exc

    def _take_token(self) -> None:
        decision = self.d.limiter.acquire(self.lane, self.d.settings.limiter_max_sleep_s)
        if not decision.reserved:
            metrics.limiter_requeued(self.lane)
            raise Requeue(decision.go_after_s)
        if decision.go_after_s > 0:
            metrics.limiter_waited(self.lane, decision.go_after_s)
            self.d.sleep(decision.go_after_s)

    def _wait(self, state: RetryCallState) -> float:
        s = self.d.settings
        exc = state.outcome.exception() if state.outcome else None
        backoff = min(s.retry_max_s, s.retry_initial_s * 2.0 ** (state.attempt_number - 1))
        backoff = backoff / 2 + random.uniform(0, backoff / 2)  # noqa: S311 - jitter, not crypto
        if isinstance(exc, errors.ProviderThrottled) and exc.retry_after:
            return max(backoff, exc.retry_after)
        if isinstance(exc, errors.ProviderAmbiguous):
            return max(backoff, AMBIGUITY_PAUSE_S)
        return backoff

    def _stop(self, state: RetryCallState) -> bool:
        upcoming = state.upcoming_sleep or 0.0
        return self.d.clock() + upcoming >= self.deadline_at

    def _before_sleep(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        reason = getattr(exc, "reason", "error")
        metrics.retried(self.lane, reason)
