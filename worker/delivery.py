"""Deliver one send: claim it, wait for the upstream rate, call the provider, record the outcome.

This is the plain service function the Celery task calls; tests call it without Celery.

Retries: tenacity retries transient provider failures (throttling, 5xx, refused connections)
with jittered exponential backoff until the send's deadline. Permanent failures end the send at
once with their reason.

The rate: a run takes a token from the lane's and the account's limiters. A token valid within
``limiter_max_sleep_s`` is slept for; a later one is reserved all the same, and the send is *parked*:
handed back to Redis with its slot (``slot_at``), where the recovery sweep publishes it again when
the slot comes (worker/recovery.py). No message waits inside a worker, so none is hoarded, and a
worker's death strands nothing. The run that takes a parked send uses the slot reserved for it. A
retry that only confirms an earlier attempt (below) borrows its slot instead: it goes ahead of the
lane's parked sends and pushes the lane's next slot back, since behind a long backlog it would miss
the provider's interval and could never settle the truth.

The ambiguous case: a read timeout, a dropped connection or a 5xx may hide an SMS that went out.
The provider refuses a second send to the same number inside ``Interval`` (``biz.FREQUENCY``), so
a retry *inside that interval* is safe and tells us what happened: ``OK`` means the first request
never took effect (one SMS, this one); ``biz.FREQUENCY`` proves the first one went out (one SMS,
recorded as sent). Past the interval a retry could text a second, different code, so the send
fails as ``ambiguous_unconfirmed`` instead. The time of the first ambiguous attempt is kept in
the record, so a later run (after a re-queue, or after a worker died mid-call) keeps to the same
window.

The interval is per number, across schemes and purposes: ``biz.FREQUENCY`` is proof only when no
other send to the number was claimed for a provider call in the interval (the number's call log,
``constants.calls_key``). Otherwise that other send (a login code before this reset code, say) may
be what the provider refused for, and the send fails as ``ambiguous_unconfirmed``. Every time
compared with the record's is on the Redis server's clock.

The record holds the number sealed (``producers.keyring``); a run opens it after the claim. A record
that opens with none of the configured keys ends ``failed`` with reason ``undecryptable``.
"""

from __future__ import annotations

import contextlib
import enum
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from tenacity import RetryCallState, Retrying, retry_if_exception_type

from producers import errors
from producers.constants import RECORD_VERSION
from producers.keyring import Keyring, get_keyring
from producers.provider import SendReceipt
from producers.purposes import Purpose
from producers.records import SendState
from producers.settings import Settings
from producers.store import Claim, ClaimOutcome, RateRequest, RecordStore
from worker import metrics
from worker.leases import LeaseKeeper

#: A retry after an ambiguous attempt must reach the provider this long before its interval ends.
AMBIGUITY_MARGIN_S = 5.0
#: Pause after an ambiguous attempt, so a request still in flight at the provider has finished.
AMBIGUITY_PAUSE_S = 1.0
#: How long a lane runs slower after the provider answered Throttling (it recovers by itself).
THROTTLE_PENALTY_S = 5.0


class SendsSms(Protocol):
    """What delivery needs from the provider adapter."""

    def send(self, phone: str, *, out_id: str, purpose: Purpose) -> SendReceipt: ...


class LimiterDecision(Protocol):
    """The limiter's answer: wait ``go_after_s``; ``reserved`` says whether the token is held."""

    @property
    def go_after_s(self) -> float: ...

    @property
    def reserved(self) -> bool: ...


class SharesRate(Protocol):
    """What delivery needs from the shared upstream limiter."""

    def acquire(self, lane: str, max_wait_s: float) -> LimiterDecision: ...

    def claim_request(self, lane: str) -> RateRequest | None: ...

    def borrow(self, lane: str, max_wait_s: float) -> LimiterDecision: ...

    def account_token(self, max_wait_s: float) -> LimiterDecision: ...

    def penalize(self, lane: str, seconds: float) -> None: ...


class Park(Exception):
    """Raised when the rate slot reserved for the send lies too far ahead to sleep for."""

    def __init__(self, slot_at: float) -> None:
        super().__init__(f"parked until {slot_at:.3f}")
        self.slot_at = slot_at


class TooLate(Exception):
    """Raised when the upstream rate cannot give the send a slot before its deadline."""


class LeaseLost(Exception):
    """Raised before a provider call when this run no longer holds its send: its lease lapsed
    while its process stood still (paused, swapped out, cut off from Redis) during a sleep, and
    another run may have taken the send and sent it."""


class AmbiguityUnresolved(errors.ProviderPermanent):
    """Raised when an ambiguous attempt could not be confirmed inside the provider's interval."""

    reason = "ambiguous_unconfirmed"


class RunResult(enum.StrEnum):
    """How one run of the task ended (the ``outcome`` label of ``smsq_sends_total``)."""

    #: The send is sent: the provider accepted it, or proved that an earlier attempt went out.
    SENT = "sent"
    #: The send failed for good; the reason says why.
    FAILED = "failed"
    #: The send's useful life ran out before it could be sent.
    EXPIRED = "expired"
    #: The send had been verified already (only a late duplicate run sees this).
    VERIFIED = "verified"
    #: The send had already ended: this message was a redelivery, and nothing was done.
    DUPLICATE = "duplicate"
    #: No record (never admitted, or past its TTL): nothing to do.
    MISSING = "missing"
    #: Parked until its reserved rate slot; the recovery sweep publishes it again then.
    PARKED = "parked"
    #: Another run holds the send; this message was a duplicate, and nothing was done.
    BUSY = "busy"

    @classmethod
    def of(cls, state: SendState | None) -> RunResult:
        """The result for the state a record holds after a run finished it: ``BUSY`` when it is
        not final (the run's lease had lapsed and another run holds the send, so nothing landed)."""
        if state is None:
            return cls.MISSING
        return cls(state.value) if state.final else cls.BUSY


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one run of the task ended."""

    result: RunResult
    reason: str = ""
    lane: str = ""


@dataclass
class Delivery:
    """The collaborators of a delivery; one per worker process."""

    store: RecordStore
    provider: SendsSms
    limiter: SharesRate
    settings: Settings
    #: Renews the leases of running runs; None runs without renewal (runs shorter than a lease).
    leases: LeaseKeeper | None = None
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    keyring: Keyring = field(default_factory=get_keyring)

    def deliver(self, ticket: str, *, token: str, lane: str | None = None) -> Outcome:
        """Run one attempt at delivering ``ticket``.

        ``lane`` is the lane the message came through (its queue): the claim then takes the run's
        rate token in its own round trip, for a send of that lane, saving one round trip per send.

        If Redis fails mid-run, the send is handed back (best effort) and ``ServiceUnavailable``
        propagates; the recovery sweep re-publishes it once Redis answers (or once this run's lease
        lapses). An SMS that may already be out is remembered as ambiguous, so no later run can
        send a second code."""
        claim = self.store.claim(
            ticket,
            lease_s=self.settings.run_lease_s,
            token=token,
            calls_window_s=self.calls_window_s(),
            rate=None if lane is None else self.limiter.claim_request(lane),
        )
        if claim.outcome is not ClaimOutcome.CLAIMED:
            return _not_claimed(claim)
        if self.leases is None:
            return self._run(_Run(self, ticket, token, claim))
        with self.leases.holding(ticket, token):
            return self._run(_Run(self, ticket, token, claim))

    def calls_window_s(self) -> float:
        """How long a claim stays in the number's call log: the provider's interval, plus the
        longest a claimed run can take to reach the provider (rate sleep, connect, read)."""
        s = self.settings
        return s.provider_interval_s + s.limiter_max_sleep_s + s.connect_timeout_s + s.send_read_timeout_s

    def _unfit(self, run: _Run) -> str | None:
        """Why a run can never send its send (a final reason), or None once its purpose and
        number are ready."""
        claim = run.claim
        if claim.version != RECORD_VERSION:
            # written by another release: its fields may mean something else, so do not guess
            return "schema"
        try:
            run.purpose = self.settings.purpose(claim.purpose or "login")
            run.phone = self.keyring.unseal(claim.sealed_phone)
        except (errors.UnknownPurpose, errors.DecryptionFailed) as exc:
            # the purpose left SMSQ_PURPOSES after the send was queued, or the number is sealed
            # under a key this worker does not have: it can never be sent, so say why
            return exc.reason
        return None

    def _run(self, run: _Run) -> Outcome:
        claim = run.claim
        unfit = self._unfit(run)
        if unfit is not None:
            state = run.finish(SendState.FAILED, {"reason": unfit})
            return Outcome(RunResult.of(state), unfit, claim.lane)
        try:
            receipt = run.attempt()
        except TooLate:
            # the lane's backlog outlasts the send's useful life: waiting would only waste a slot
            state = run.finish(SendState.EXPIRED, {"reason": "rate_backlog"})
            return Outcome(RunResult.of(state), "rate_backlog", claim.lane)
        except Park as park:
            run.park(park.slot_at)
            metrics.limiter_parked(claim.lane)
            return Outcome(RunResult.PARKED, "rate", claim.lane)
        except LeaseLost:
            # another run holds the send (or the recovery sweep hands it to one): leave it to it
            return Outcome(RunResult.BUSY, "lease_lost", claim.lane)
        except errors.ServiceUnavailable:
            with contextlib.suppress(errors.ServiceUnavailable):
                run.hand_back()
            raise
        except errors.ProviderError as exc:
            reason = _final_reason(exc)
            state = run.finish(SendState.FAILED, {"reason": reason, "provider_code": exc.code or ""})
            return Outcome(RunResult.of(state), reason, claim.lane)
        try:
            state = run.finish(SendState.SENT, run.receipt_fields(receipt))
        except errors.ServiceUnavailable:
            # The SMS is out but could not be recorded: whoever runs it next must only confirm it.
            run.ambiguous_since = run.ambiguous_since or run.last_call_at
            with contextlib.suppress(errors.ServiceUnavailable):
                run.hand_back()
            raise
        if state is SendState.SENT:
            metrics.observe_enqueue_to_sent(claim.lane, run.now() - claim.created_at)
        return Outcome(RunResult.of(state), "ok", claim.lane)

    def give_up(self, ticket: str, reason: str, *, token: str) -> None:
        """End a send that a run could not finish (time limit, unexpected error) as ``failed``."""
        with contextlib.suppress(errors.ServiceUnavailable):
            self.store.finish(
                ticket,
                SendState.FAILED,
                live_code_keys=(),
                code_ttl_s=self.settings.code_ttl_s,
                token=token,
                fields={"reason": reason},
            )


def _not_claimed(claim: Claim) -> Outcome:
    """The outcome of a run that could not claim its send."""
    if claim.outcome is ClaimOutcome.BUSY:
        # A copy of a message whose run holds the send right now: leave it to that run. Should it
        # die, its lease lapses and the recovery sweep publishes the send again.
        return Outcome(RunResult.BUSY, "held")
    if claim.outcome is ClaimOutcome.DONE:
        return Outcome(RunResult.DUPLICATE, claim.state)
    if claim.outcome is ClaimOutcome.EXPIRED:
        return Outcome(RunResult.EXPIRED, claim.state)
    return Outcome(RunResult.MISSING, "no_record")


def _final_reason(exc: errors.ProviderError) -> str:
    """Why a send failed, when ``exc`` was the last answer before giving up."""
    if isinstance(exc, errors.ProviderTransient):
        return "provider_unavailable"  # retried until the deadline
    if isinstance(exc, errors.ProviderAmbiguous):
        return AmbiguityUnresolved.reason  # may have been delivered; never resent
    return exc.reason


def _may_have_been_processed(exc: errors.ProviderError) -> bool:
    """True when the provider may have acted on a request that failed this way."""
    if isinstance(exc, errors.ProviderAmbiguous):
        return True
    return isinstance(exc, errors.ProviderTransient) and exc.status is not None and exc.status >= 500


@dataclass
class _Run:
    """One task run: the retry loop over the provider, on the server's clock."""

    d: Delivery
    ticket: str
    token: str
    claim: Claim
    #: The number, once opened from the record.
    phone: str = ""
    #: What the code is for, resolved from the settings after the claim.
    purpose: Purpose | None = None
    ambiguous_since: float | None = None
    last_call_at: float | None = None
    confirmed_by: str = "provider_ok"
    #: The rate slot an earlier run reserved for this send, until the first attempt uses it.
    slot_at: float | None = None
    #: What the claim's rate request got, until the first attempt uses it.
    claim_rate: LimiterDecision | None = None
    skew: float = field(init=False)

    def __post_init__(self) -> None:
        self.ambiguous_since = self.claim.ambiguous_since
        self.slot_at = self.claim.slot_at
        self.claim_rate = self.claim.rate
        # Record times are Redis server times; convert our clock once instead of trusting it.
        self.skew = self.claim.server_now - self.d.clock()

    def now(self) -> float:
        """The Redis server's clock, as seen from this host."""
        return self.d.clock() + self.skew

    def attempt(self) -> SendReceipt:
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

    def finish(self, state: SendState, fields: dict[str, str]) -> SendState | None:
        """Record the run's outcome; returns the state the record holds afterwards."""
        purpose = self.purpose
        live_code_keys: tuple[str, ...] = ()
        if self.phone and purpose is not None:
            live_code_keys = self.d.keyring.live_code_keys(self.phone, purpose.scheme_name)
        return self.d.store.finish(
            self.ticket,
            state,
            live_code_keys=live_code_keys,
            code_ttl_s=purpose.code_ttl_s if purpose else self.d.settings.code_ttl_s,
            token=self.token,
            fields=fields,
        )

    def hand_back(self) -> None:
        """Return the send to ``queued`` for the recovery sweep to publish again at once, keeping
        any ambiguity on record."""
        self.finish(SendState.QUEUED, self._ambiguity())

    def park(self, slot_at: float) -> None:
        """Return the send to ``queued`` until the rate slot reserved for it at ``slot_at``."""
        self.finish(SendState.QUEUED, {**self._ambiguity(), "slot_at": f"{slot_at:.3f}"})

    def _ambiguity(self) -> dict[str, str]:
        return {} if self.ambiguous_since is None else {"ambiguous_since": f"{self.ambiguous_since:.3f}"}

    def receipt_fields(self, receipt: SendReceipt) -> dict[str, str]:
        return {
            "request_id": receipt.request_id,
            "biz_id": receipt.biz_id,
            "provider_latency_ms": f"{receipt.latency_s * 1000:.1f}",
            "confirmed_by": self.confirmed_by,
        }

    def _once(self) -> SendReceipt:
        slept = self._take_token()
        if slept or self.last_call_at is not None:
            self._still_held()
        if self.ambiguous_since is not None:
            window_ends = self.ambiguous_since + self.d.settings.provider_interval_s - AMBIGUITY_MARGIN_S
            if self.now() > window_ends:
                raise AmbiguityUnresolved("an earlier attempt may have been delivered; not resending")
        started = self.last_call_at = self.now()
        try:
            assert self.purpose is not None
            receipt = self.d.provider.send(self.phone, out_id=self.ticket, purpose=self.purpose)
        except errors.ProviderError as exc:
            metrics.provider_request("send", self.now() - started, exc)
            return self._after_error(exc, started)
        metrics.provider_request("send", receipt.latency_s, None)
        return receipt

    def _after_error(self, exc: errors.ProviderError, started: float) -> SendReceipt:
        """Re-raise ``exc`` for the retry loop, unless it proves an earlier attempt went out."""
        if isinstance(exc, errors.ProviderFrequency) and self.ambiguous_since is not None:
            since = started - self.d.calls_window_s()
            if self.d.store.other_calls(self.claim.calls_key, self.ticket, since=since):
                # another send to the number (another purpose, another scheme) may be what the
                # provider refused for: the interval proves nothing about this one
                raise AmbiguityUnresolved("another send to this number may explain the provider's refusal")
            # The provider refused a second send inside its interval: the first one went out.
            self.confirmed_by = "provider_frequency"
            return SendReceipt(biz_id="", request_id="", latency_s=self.now() - started)
        if _may_have_been_processed(exc) and self.ambiguous_since is None:
            self.ambiguous_since = started
            self.d.store.mark_ambiguous(self.ticket, started)
        if isinstance(exc, errors.ProviderThrottled):
            self.d.limiter.penalize(self.claim.lane, THROTTLE_PENALTY_S)
        raise exc

    def _still_held(self) -> None:
        """Raise :class:`LeaseLost` unless this run still holds its send (renewing its lease).

        Checked before every provider call that follows a sleep (a rate slot, a retry's backoff):
        the claim proved the lease only for the call right after it."""
        leases = self.d.leases
        if leases is not None and not leases.still_holds(self.ticket, self.token):
            raise LeaseLost

    def _take_token(self) -> bool:
        """Wait for this attempt's rate token: the slot an earlier run reserved, or a new one.
        Returns whether it slept for it."""
        max_sleep = self.d.settings.limiter_max_sleep_s
        if self.slot_at is not None:
            slot_at, self.slot_at = self.slot_at, None
            wait = slot_at - self.now()
            if wait > max_sleep:  # an early copy of the message: keep the slot, come back for it
                raise Park(slot_at)
            # The lane's slot was reserved for this send; the account's token is taken now. It is
            # slept for even past max_sleep (the account cap saturated), as parking again would
            # take a second one.
            account = self.d.limiter.account_token(max(0.0, self.claim.deadline_at - self.now()))
            if not account.reserved:
                raise TooLate
            wait = max(wait, account.go_after_s)
        else:
            # the token the claim took (first attempt only); when it could not, nothing was taken
            decision: LimiterDecision | None = self.claim_rate
            self.claim_rate = None
            if decision is None and self.ambiguous_since is not None:
                # An earlier attempt may be out: only a retry inside the provider's interval can tell,
                # so this one goes ahead of the lane's parked sends instead of queueing behind them.
                decision = self.d.limiter.borrow(self.claim.lane, max_sleep)
            if decision is None or not decision.reserved:
                # Reserve whatever slot comes before the deadline; no slot in time means no send.
                room = max(0.0, self.claim.deadline_at - self.now())
                decision = self.d.limiter.acquire(self.claim.lane, room)
            if not decision.reserved:
                raise TooLate
            wait = decision.go_after_s
            if wait > max_sleep:
                raise Park(self.now() + wait)
        if wait <= 0:
            return False
        metrics.limiter_waited(self.claim.lane, wait)
        self.d.sleep(wait)
        return True

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
        return self.now() + upcoming >= self.claim.deadline_at

    def _before_sleep(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        metrics.retried(self.claim.lane, getattr(exc, "reason", "error"))
