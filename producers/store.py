"""Send records, check counters and abuse-limit logs in Redis, each change one atomic script.

The scripts live beside this module in ``lua/``; this class is the only code that knows the
record's fields. Producers admit sends and count checks; workers claim and finish sends. Key names
derived from a number or an IP, and the sealed number, come from :mod:`producers.keyring`: this
module never sees a number in the clear.
"""

from __future__ import annotations

import contextlib
import enum
import functools
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

import redis
import redis.asyncio

from producers import constants
from producers.connections import get_async_redis, get_redis
from producers.effect import Effect
from producers.errors import ServiceUnavailable, TicketNotFound
from producers.outbound import outbound_args
from producers.receipts import MAX_DELIVERY_SERIES, ReceiptBatch, ReceiptOutcome
from producers.records import SendState, SendStatus
from producers.scripts import AsyncScripts, Scripts

T = TypeVar("T")
P = ParamSpec("P")

if TYPE_CHECKING:
    from producers.outbound import Outbound
    from producers.pumping import Breaker

#: Purposes whose sends and verifications are counted apart (``conversion_counts``); beyond, "other".
MAX_PURPOSE_SERIES = 32


class AdmissionOutcome(enum.StrEnum):
    """What :meth:`RecordStore.admit` did."""

    #: Recorded as ``queued``: publish it.
    OK = "ok"
    #: The idempotency key (for this number and purpose) matched an earlier send: its ticket is
    #: returned, nothing new recorded.
    DUPLICATE = "duplicate"
    #: An abuse limit refused the send: nothing recorded.
    LIMITED = "limited"


class ClaimOutcome(enum.StrEnum):
    """What :meth:`RecordStore.claim` allows a worker to do."""

    #: The run holds the lease: call the provider.
    CLAIMED = "claimed"
    #: The send already ended (a redelivered message): do nothing.
    DONE = "done"
    #: Another run holds the lease right now: look again later.
    BUSY = "busy"
    #: The deadline passed; recorded as expired.
    EXPIRED = "expired"
    #: No record (never admitted, or past its TTL).
    MISSING = "missing"


class CheckOutcome(enum.StrEnum):
    """What :meth:`RecordStore.begin_check` decided."""

    #: Reserved: ask the provider.
    OK = "ok"
    #: The number has no live code: the check fails without asking anyone.
    NO_CODE = "nocode"
    #: The live code was sent for another purpose: the check fails without asking anyone.
    WRONG_PURPOSE = "wrongpurpose"
    #: The live code had its share of wrong answers.
    LOCKED = "locked"
    #: A check limit refused: nothing counted.
    LIMITED = "limited"


@dataclass(frozen=True, slots=True)
class LimitRule:
    """One abuse rule applied to one subject: at most ``limit`` events per ``window_s``.

    ``key`` is the log it counts in; ``older_keys`` name the same subject under older hash keys
    (during a key rotation) and count too, but are never written."""

    name: str
    key: str
    limit: int
    window_s: int
    monitor: bool = False
    older_keys: tuple[str, ...] = ()

    @property
    def keys(self) -> tuple[str, ...]:
        """Every log the rule reads, the one it writes first."""
        return (self.key, *self.older_keys)


def _rule_keys_and_args(rules: tuple[LimitRule, ...]) -> tuple[list[str], list[Any]]:
    """The KEYS and ARGV tail that ``read_rules`` (lua/prelude.lua) reads."""
    keys: list[str] = []
    args: list[Any] = [len(rules)]
    for rule in rules:
        keys += rule.keys
        args += [rule.limit, rule.window_s * 1000, rule.name, "1" if rule.monitor else "0", len(rule.keys)]
    return keys, args


@dataclass(frozen=True, slots=True)
class Admission:
    """The answer of :meth:`RecordStore.admit`."""

    outcome: AdmissionOutcome
    ticket: str = ""
    state: str = ""
    created_at: float = 0.0
    #: lane and purpose of the original send, for a duplicate
    lane: str = ""
    purpose: str = ""
    rule: str = ""
    retry_after_s: float = 0.0
    monitored: tuple[str, ...] = ()
    #: This send tripped the pumping breaker (refused in enforce mode, admitted in monitor mode).
    tripped: bool = False


@dataclass(frozen=True, slots=True)
class CheckReservation:
    """The answer of :meth:`RecordStore.begin_check`."""

    outcome: CheckOutcome
    #: The send whose code is live (ok, locked).
    ticket: str = ""
    #: Answers counted against that code, this one included (ok).
    used: int = 0
    #: The rule that refused (limited).
    rule: str = ""
    #: Seconds until the rule admits one more (limited) or the locked code expires (locked).
    retry_after_s: float = 0.0
    #: The Redis server's clock when the reservation was taken, ms (ok): a check's RPC deadline
    #: counts from it. A reading, not part of the decision: left out of comparisons.
    server_ms: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class RateRequest:
    """A run's rate token, taken in its claim's round trip (``worker.limiter`` builds it): from
    every limiter of ``lane`` or from none, if it is valid within ``max_wait_s``."""

    lane: str
    #: The limiters' TAT keys, then their penalty keys (lua/prelude.lua ``gcra_take``).
    keys: tuple[str, ...]
    #: Each limiter's emission interval (µs) and burst.
    args: tuple[int, ...]
    max_wait_s: float


@dataclass(frozen=True, slots=True)
class RateTaken:
    """What the claim's rate request got: wait ``go_after_s``; ``reserved`` says whether the token
    is held (when not, nothing was taken)."""

    go_after_s: float
    reserved: bool


@dataclass(frozen=True, slots=True)
class Claim:
    """The answer of :meth:`RecordStore.claim`: what the worker may do with a send."""

    outcome: ClaimOutcome
    #: the final state ("done"), or the reason ("expired")
    state: str = ""
    #: The number, sealed (``producers.keyring.Keyring.unseal`` opens it).
    sealed_phone: str = ""
    lane: str = ""
    created_at: float = 0.0
    deadline_at: float = 0.0
    attempts: int = 0
    #: When an earlier attempt may have reached the provider without an answer; None otherwise.
    ambiguous_since: float | None = None
    #: The Redis server's clock at the claim (record times are on it), or seconds of lease left
    #: when the outcome is "busy".
    server_now: float = 0.0
    busy_for_s: float = 0.0
    #: Schema version of the record (``constants.RECORD_VERSION`` for records this release writes).
    version: int = 0
    #: The rate slot (server time, s) an earlier run reserved for this send, now this run's to use.
    slot_at: float | None = None
    #: What the code is for (its template, scheme and validity come from the purpose's settings).
    purpose: str = ""
    #: The number's log of recent provider calls (``constants.calls_key``); "" for older records.
    calls_key: str = ""
    #: The run's rate token when the claim was asked for one and could take it (see claim.lua).
    rate: RateTaken | None = None


class Op(Effect[T]):
    """One atomic operation on the records: a script, its keys and arguments, and how to read its
    reply. Built once (the ``*_op`` functions below) for :class:`RecordStore` and
    :class:`AsyncRecordStore` alike; as an effect it runs on the process's own Redis client."""

    def __init__(self, script: str, keys: list[str], args: list[Any], read: Callable[[Any], T]) -> None:
        self.script, self.keys, self.args, self.read = script, keys, args, read

    def run(self) -> T:
        return store_for(get_redis()).run(self)

    async def arun(self) -> T:
        return await async_store_for(get_async_redis()).run(self)


class Count(Effect[None]):
    """Add one to a global counter, best effort (see :meth:`RecordStore.count`)."""

    def __init__(self, name: str, field: str) -> None:
        self.name, self.field = name, field

    def run(self) -> None:
        store_for(get_redis()).count(self.name, self.field)

    async def arun(self) -> None:
        await async_store_for(get_async_redis()).count(self.name, self.field)


# --- the producers' operations (send, check, status) ----------------------------------------------


def _admission(reply: Any) -> Admission:
    outcome = AdmissionOutcome(reply[0])
    if outcome is AdmissionOutcome.LIMITED:
        return Admission(
            outcome, rule=reply[1], retry_after_s=int(reply[2]) / 1000, tripped=reply[3] == "tripped"
        )
    if outcome is AdmissionOutcome.DUPLICATE:
        created = float(reply[3]) if reply[3] else 0.0
        return Admission(
            outcome,
            ticket=reply[1],
            state=reply[2],
            created_at=created,
            lane=reply[4],
            purpose=reply[5],
        )
    monitored = tuple(name for name in reply[3].split(",") if name)
    return Admission(
        outcome,
        ticket=reply[1],
        created_at=int(reply[2]) / 1000,
        monitored=monitored,
        tripped=reply[4] == "tripped",
    )


def admit_op(
    *,
    ticket: str,
    sealed_phone: str,
    masked: str,
    purpose: str,
    lane: str,
    rules: tuple[LimitRule, ...],
    useful_life_s: int,
    record_ttl_s: int,
    idempotency_keys: tuple[str, ...] = (),
    idempotency_ttl_s: int = 300,
    calls_key: str = "",
    breaker: Breaker | None = None,
    outbound: Outbound | None = None,
    now_ms: int | None = None,
) -> Op[Admission]:
    """Check every rule and write the record (``queued``), or change nothing.

    ``idempotency_keys`` are the names of the caller's key (``Keyring.idempotency_keys``),
    the one to write first; it lives ``idempotency_ttl_s``. ``calls_key`` names the number's
    log of provider calls (``Keyring.calls_key``), which the send's runs enter. ``breaker``
    judges the send's prefix and purpose (``producers.pumping``); None skips it. ``outbound`` is the
    send's Celery message (:mod:`producers.outbound`), queued with the record; None when the caller
    publishes it after the admission."""
    rule_keys, rule_args = _rule_keys_and_args(rules)
    args: list[Any] = [
        ticket,
        "" if now_ms is None else now_ms,
        record_ttl_s,
        len(idempotency_keys),
        useful_life_s,
        sealed_phone,
        masked,
        purpose,
        lane,
        constants.record_key(""),
        constants.minute_stats_key(""),
        constants.RECORD_VERSION,
        idempotency_ttl_s,
        constants.DISPATCH_GRACE_S * 1000,
        calls_key,
        0 if breaker is None else len(breaker.keys),
        *(["off", 0, 0, 0, 0, 0, "", 0, 0] if breaker is None else breaker.script_args()),
        constants.stats_key("conversion"),
        MAX_PURPOSE_SERIES,
        *outbound_args(outbound),
        *rule_args,
    ]
    pump_keys = () if breaker is None else breaker.keys
    keys = [
        constants.record_key(ticket),
        constants.inflight_key(),
        *pump_keys,
        *idempotency_keys,
        *rule_keys,
    ]
    return Op("enqueue", keys, args, _admission)


def unadmit_op(
    ticket: str, reason: str, *, rules: tuple[LimitRule, ...], idempotency_keys: tuple[str, ...]
) -> Op[SendState | None]:
    """End a send whose publish failed as ``failed``, and give back what its admission took: its
    place in every limit and its idempotency key. Unless a worker has taken it already (the
    broker got the message, only its reply was lost): then nothing changes. Returns the state
    the send is in afterwards (None without a record)."""
    keys = [
        constants.record_key(ticket),
        constants.lease_key(ticket),
        *idempotency_keys[:1],
        *(rule.key for rule in rules),
        constants.inflight_key(),
    ]
    return Op("unadmit", keys, [ticket, reason, "1" if idempotency_keys else "0"], _state_or_none)


def status_op(ticket: str, *, receipt_wait_s: float = constants.DEFAULT_RECEIPT_WAIT_S) -> Op[SendStatus]:
    """The record as a status lookup shows it (a sent send without a receipt ``receipt_wait_s``
    after ``sent`` reads as delivery ``unknown``); raises ``TicketNotFound`` past its TTL."""

    def read(reply: Any) -> SendStatus:
        flat, (seconds, micros) = reply
        if not flat:
            raise TicketNotFound("no send with that ticket (unknown, or older than its record TTL)")
        data = dict(zip(flat[::2], flat[1::2], strict=True))
        # judged on the Redis server's clock, like every time the record holds
        now = int(seconds) + int(micros) / 1_000_000
        return SendStatus.from_hash(ticket, data, now, receipt_wait_s=receipt_wait_s)

    return Op("status", [constants.record_key(ticket)], [], read)


def _reservation(reply: Any) -> CheckReservation:
    outcome = CheckOutcome(reply[0])
    if outcome is CheckOutcome.LIMITED:
        return CheckReservation(outcome, rule=reply[1], retry_after_s=int(reply[2]) / 1000)
    if outcome is CheckOutcome.LOCKED:
        return CheckReservation(outcome, ticket=reply[1], retry_after_s=int(reply[2]) / 1000)
    if outcome is CheckOutcome.OK:
        return CheckReservation(outcome, ticket=reply[1], used=int(reply[2]), server_ms=int(reply[3]))
    return CheckReservation(outcome)


def begin_check_op(
    *,
    live_code_keys: tuple[str, ...],
    rules: tuple[LimitRule, ...],
    max_failures: int,
    purpose: str = "",
    now_ms: int | None = None,
    outbound: Outbound | None = None,
) -> Op[CheckReservation]:
    """Count a check against its limits and reserve an answer against the number's live code
    (see lua/check_begin.lua), or change nothing when a limit refuses. With ``purpose``, only
    a live code sent for that purpose is reserved (``wrongpurpose`` otherwise). ``outbound`` is
    the check task's message (:mod:`producers.outbound`), queued only with a reservation."""
    rule_keys, rule_args = _rule_keys_and_args(rules)
    keys = [constants.stats_key("checks"), *live_code_keys, *rule_keys]
    args: list[Any] = [
        max_failures,
        "" if now_ms is None else now_ms,
        uuid.uuid4().hex,
        constants.check_attempts_key(""),
        len(live_code_keys),
        purpose,
        constants.record_key(""),
        *outbound_args(outbound),
        *rule_args,
    ]
    return Op("check_begin", keys, args, _reservation)


def refund_check_op(ticket: str) -> Op[None]:
    """Give back a reservation against ``ticket``'s code whose call reached no verdict."""
    return Op("refund_check", [constants.check_attempts_key(ticket)], [], _nothing)


def check_passed_op(ticket: str, *, live_code_keys: tuple[str, ...]) -> Op[str]:
    """``ticket``'s code passed: clear its counter, retire it as the live code, mark it verified."""
    return Op(
        "verified",
        [constants.check_attempts_key(ticket), constants.stats_key("checks"), *live_code_keys],
        [
            ticket,
            constants.record_key(""),
            constants.minute_stats_key(""),
            "",
            constants.stats_key("conversion"),
            MAX_PURPOSE_SERIES,
        ],
        str,
    )


def _nothing(_reply: Any) -> None:
    return None


def _state_or_none(reply: Any) -> SendState | None:
    """A script's reply naming a send's state, or ``"missing"``."""
    return None if reply == "missing" else SendState(reply)


def _runs(build: Callable[P, Op[T]]) -> Callable[Concatenate[RecordStore, P], T]:
    """A :class:`RecordStore` method that runs the operation ``build`` makes."""

    def method(self: RecordStore, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return self.run(build(*args, **kwargs))

    method.__doc__ = build.__doc__
    return method


def _awaits(build: Callable[P, Op[T]]) -> Callable[Concatenate[AsyncRecordStore, P], Coroutine[Any, Any, T]]:
    """An :class:`AsyncRecordStore` method that runs the operation ``build`` makes."""

    async def method(self: AsyncRecordStore, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return await self.run(build(*args, **kwargs))

    method.__doc__ = build.__doc__
    return method


class RecordStore:
    """Atomic operations on send records and their counters."""

    def __init__(self, client: redis.Redis) -> None:
        self._redis = client
        self._scripts = Scripts(client, "producers")

    def run(self, op: Op[T]) -> T:
        """Run one operation and read its reply."""
        return op.read(self._scripts.run(op.script, op.keys, op.args))

    # --- producers ------------------------------------------------------------------------------

    admit = _runs(admit_op)
    unadmit = _runs(unadmit_op)
    status = _runs(status_op)

    # --- delivery receipts ----------------------------------------------------------------------

    def apply_receipts(self, batch: ReceiptBatch, *, now_ms: int | None = None) -> tuple[ReceiptOutcome, ...]:
        """Record a push of delivery receipts on the sends they name, in one atomic script (see
        receipts.lua), and count them; returns each receipt's outcome. Never changes a state."""
        keys = [
            constants.stats_key("receipts"),
            constants.stats_key("deliveries"),
            constants.stats_key("delivery_time"),
            *(constants.record_key(receipt.ticket) for receipt in batch.receipts),
        ]
        args: list[Any] = [
            "" if now_ms is None else now_ms,
            batch.malformed,
            batch.foreign,
            MAX_DELIVERY_SERIES,
            ",".join(str(bound) for bound in constants.DELIVERY_TIME_BUCKETS_S),
        ]
        for receipt in batch.receipts:
            args += [
                "1" if receipt.delivered else "0",
                receipt.carrier_code,
                _seconds(receipt.reported_at),
                _seconds(receipt.send_to_delivery_s),
            ]
        reply = self._scripts.run("receipts", keys, args)
        return tuple(ReceiptOutcome(outcome) for outcome in reply)

    # --- workers --------------------------------------------------------------------------------

    def claim(
        self,
        ticket: str,
        *,
        lease_s: float,
        token: str,
        calls_window_s: float = 120,
        rate: RateRequest | None = None,
        now_ms: int | None = None,
    ) -> Claim:
        """Take a send for one attempt (see claim.lua for the outcomes). The claim enters the send
        in its number's log of provider calls, kept ``calls_window_s``. With ``rate``, a run that
        claims a send of that lane takes its rate token in the same round trip (``Claim.rate``)."""
        keys = [constants.record_key(ticket), constants.lease_key(ticket), constants.inflight_key()]
        args: list[Any] = [
            int(lease_s * 1000),
            token,
            "" if now_ms is None else now_ms,
            constants.minute_stats_key(""),
            ticket,
            int(calls_window_s * 1000),
        ]
        if rate is not None:
            keys += rate.keys
            args += [round(rate.max_wait_s * 1_000_000), rate.lane, *rate.args]
        reply = self._scripts.run("claim", keys, args)
        outcome = ClaimOutcome(reply[0])
        if outcome is ClaimOutcome.BUSY:
            return Claim(outcome, busy_for_s=int(reply[1]) / 1000)
        if outcome is not ClaimOutcome.CLAIMED:
            return Claim(outcome, state=reply[1] if len(reply) > 1 else "")
        return Claim(
            outcome,
            sealed_phone=reply[1],
            lane=reply[2],
            created_at=float(reply[3]),
            deadline_at=float(reply[4]),
            attempts=int(reply[5]),
            ambiguous_since=float(reply[6]) if reply[6] else None,
            server_now=int(reply[7]) / 1000,
            version=int(reply[8] or 0),
            slot_at=float(reply[9]) if reply[9] else None,
            purpose=reply[10],
            calls_key=reply[11],
            rate=RateTaken(int(reply[12]) / 1_000_000, reply[13] == "1") if reply[12] else None,
        )

    def other_calls(self, calls_key: str, ticket: str, *, since: float) -> int:
        """How many sends other than ``ticket`` entered the number's call log at or after ``since``
        (server time, s): each may have started the provider's resend interval."""
        if not calls_key:
            return 0
        try:
            recent = self._redis.zrangebyscore(calls_key, int(since * 1000), "+inf")
        except redis.RedisError as exc:
            raise ServiceUnavailable("Redis is unavailable") from exc
        return sum(1 for member in recent if member != ticket)

    def mark_ambiguous(self, ticket: str, since: float) -> None:
        """Remember that an attempt begun at ``since`` (server time) may have reached the provider
        (on the record, if it still exists)."""
        self._scripts.run("mark_ambiguous", [constants.record_key(ticket)], [f"{since:.3f}"])

    def finish(
        self,
        ticket: str,
        state: SendState,
        *,
        live_code_keys: tuple[str, ...],
        code_ttl_s: int,
        token: str = "",
        fields: dict[str, str] | None = None,
        now_ms: int | None = None,
    ) -> SendState | None:
        """Move a send to ``state`` unless it already ended; return the state it holds now (None
        when the record is gone).

        ``token`` is the lease of the run deciding; a run whose lease was lost cannot hand the
        send back. An empty token is a decision made outside a run (an expired message): it never
        overrides a run that holds the send. Handing back (``queued``) with a ``slot_at`` field
        parks the send until that rate slot; without one, the recovery sweep re-publishes it.
        ``live_code_keys`` (``Keyring.live_code_keys`` of the number) are needed for ``sent``
        only: that send's code becomes the number's live code."""
        args: list[Any] = [
            state.value,
            "" if now_ms is None else now_ms,
            code_ttl_s,
            ticket,
            constants.minute_stats_key(""),
            token,
            constants.DISPATCH_GRACE_S * 1000,
            constants.due_key(""),
        ]
        for name, value in (fields or {}).items():
            args += [name, value]
        if state is SendState.SENT and not live_code_keys:
            raise ValueError("a sent code needs the number's live-code key names")
        keys = [
            constants.record_key(ticket),
            constants.lease_key(ticket),
            constants.inflight_key(),
            constants.orphans_key(),
            *live_code_keys,
        ]
        return _state_or_none(self._scripts.run("finish", keys, args))

    # --- checks ---------------------------------------------------------------------------------

    begin_check = _runs(begin_check_op)
    refund_check = _runs(refund_check_op)
    check_passed = _runs(check_passed_op)

    def unlock(self, live_code_keys: tuple[str, ...]) -> tuple[str | None, int]:
        """Lift the lockout of a number's live code (an operator's override, counted): returns its
        ticket (None without a live code) and the answers that had counted against it."""
        ticket, used = self._scripts.run(
            "unlock",
            [constants.stats_key("admin"), *live_code_keys],
            [constants.check_attempts_key("")],
        )
        return ticket or None, int(used)

    def count(self, name: str, field: str, amount: int = 1) -> None:
        """Add to a global counter (exported by every worker host's /metrics). Best effort: a
        statistic is never worth failing the operation it describes."""
        with contextlib.suppress(redis.RedisError):
            self._redis.hincrby(constants.stats_key(name), field, amount)


class AsyncRecordStore:
    """The producers' operations of :class:`RecordStore` on a ``redis.asyncio`` client (the async API)."""

    def __init__(self, client: redis.asyncio.Redis) -> None:
        self._redis = client
        self._scripts = AsyncScripts(client, "producers")

    async def run(self, op: Op[T]) -> T:
        """Run one operation and read its reply."""
        return op.read(await self._scripts.run(op.script, op.keys, op.args))

    admit = _awaits(admit_op)
    unadmit = _awaits(unadmit_op)
    status = _awaits(status_op)
    begin_check = _awaits(begin_check_op)
    refund_check = _awaits(refund_check_op)
    check_passed = _awaits(check_passed_op)

    async def count(self, name: str, field: str, amount: int = 1) -> None:
        """Add to a global counter, best effort (as :meth:`RecordStore.count`)."""
        with contextlib.suppress(redis.RedisError):
            await self._redis.hincrby(constants.stats_key(name), field, amount)


def conversion_counts(raw: dict[str, str]) -> dict[str, dict[str, int]]:
    """Sends and verifications by purpose from the global counters (``{purpose: {"sent": n,
    "verified": m}}``): their ratio is the conversion the pumping breaker judges per prefix."""
    counts: dict[str, dict[str, int]] = {}
    for name, value in raw.items():
        event, _, purpose = name.partition("|")
        counts.setdefault(purpose, {"sent": 0, "verified": 0})[event] = int(value)
    return counts


def check_results(raw: dict[str, str]) -> dict[str, int]:
    """Check outcomes from the global counters: passed, failed, locked, error, no_code (no live
    code: failed at no cost), wrong_purpose (the live code was sent for another purpose: failed at
    no cost) and limited (a check limit refused). The scripts count ``asked`` (reached the
    provider), ``passed``, ``locked``, ``no_code``, ``wrong_purpose`` and ``limited``; a failed check is
    one asked that neither passed nor errored, so the hot path needs no extra round trip to count it."""
    names = ("asked", "passed", "locked", "error", "no_code", "wrong_purpose", "limited")
    counts = {name: int(raw.get(name, 0)) for name in names}
    return {
        "passed": counts["passed"],
        "failed": max(0, counts["asked"] - counts["passed"] - counts["error"]),
        "locked": counts["locked"],
        "error": counts["error"],
        "no_code": counts["no_code"],
        "wrong_purpose": counts["wrong_purpose"],
        "limited": counts["limited"],
    }


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


@functools.lru_cache(maxsize=8)
def store_for(client: redis.Redis) -> RecordStore:
    """The store over ``client``, built once: its scripts are registered a single time."""
    return RecordStore(client)


@functools.lru_cache(maxsize=8)
def async_store_for(client: redis.asyncio.Redis) -> AsyncRecordStore:
    """The async store over ``client`` (one per event loop, see ``get_async_redis``), built once."""
    return AsyncRecordStore(client)
