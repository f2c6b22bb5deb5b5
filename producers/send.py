"""``send_code``: validate, apply abuse limits, record and publish, in about a millisecond.

Written once as a flow (:mod:`producers.effect`): ``send_code`` runs it blocking, ``asend_code``
on the event loop."""

from __future__ import annotations

import re
import time
import uuid

from producers.connections import get_redis
from producers.effect import Blocking, Flow, awaitable, blocking
from producers.errors import InvalidArgument, RateLimited, ServiceUnavailable, UnknownLane
from producers.guard import get_guard
from producers.ip import ip_bucket
from producers.logs import log_event
from producers.outbound import RideAlong, send_outbound
from producers.phone import mask_phone, normalize_phone
from producers.publisher import publish_send
from producers.pumping import PREFIX_DIGITS, Breaker, breaker_id, remember_trip, rule_for
from producers.pumping import RULE as PUMPING_RULE
from producers.purposes import PURPOSE_NAME
from producers.records import SendState, Ticket
from producers.settings import get_settings
from producers.store import Count, admit_op, unadmit_op

_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,128}")  # printable ASCII, no spaces


def sending(
    phone: str,
    *,
    purpose: str = "login",
    client_ip: str | None = None,
    idempotency_key: str | None = None,
    lane: str = "default",
) -> Flow[Ticket]:
    """Queue a verification SMS to ``phone`` and return its ticket without waiting for the provider.

    ``purpose`` says what the code is for: its template, scheme and validity come from
    ``SMSQ_PURPOSES`` (any name when that is unset), and only a check for the same purpose can
    pass it. Raises :class:`~producers.errors.InvalidInput` for bad arguments (an
    :class:`~producers.errors.UnknownPurpose` among them) and
    :class:`~producers.errors.RateLimited` (with ``rule`` and ``retry_after``) when an abuse limit
    refuses; in both cases nothing was recorded or queued. A repeated ``idempotency_key`` returns
    the original ticket with ``duplicate=True`` for as long as that send's code lives; the key is
    scoped to ``phone`` and ``purpose`` (the same key with another number is another key).
    ``client_ip`` counts against the per-IP limits (IPv6 per /64, see :mod:`producers.ip`).
    Raises :class:`~producers.errors.ConfigurationError` without ``SMSQ_HASH_KEYS`` and
    ``SMSQ_ENCRYPTION_KEYS``: the number is only ever written to Redis sealed.
    """
    settings = get_settings()
    number = normalize_phone(phone)
    if not isinstance(purpose, str) or not PURPOSE_NAME.fullmatch(purpose):
        raise InvalidArgument("purpose must be 1-32 characters of letters, digits and _.:-")
    configured = settings.purpose(purpose)  # raises UnknownPurpose when SMSQ_PURPOSES does not name it
    if not isinstance(lane, str) or lane not in settings.lanes:
        shown = repr(lane[:40]) if isinstance(lane, str) else "given"
        raise UnknownLane(f"lane {shown} is not configured (SMSQ_LANES)")
    bucket = None if client_ip is None else ip_bucket(client_ip)
    if idempotency_key is not None and (
        not isinstance(idempotency_key, str) or not _IDEMPOTENCY_KEY.fullmatch(idempotency_key)
    ):
        raise InvalidArgument("idempotency_key must be 1-128 printable ASCII characters")

    masked = mask_phone(number)
    guard = get_guard()
    keyring = guard.keyring
    rules = guard.rules_for(number, purpose, bucket, purpose_limits=configured.limits)
    idempotency_keys = (
        () if idempotency_key is None else keyring.idempotency_keys(number, purpose, idempotency_key)
    )
    ticket = uuid.uuid4().hex
    # the deadline of the message by this host's clock (the record's is Redis's): it only spares a
    # worker the run of a message that arrives too late to matter
    expires_at = time.time() + settings.send_deadline_s
    outbound = yield from RideAlong(
        send_outbound, ticket, lane=lane, masked_phone=masked, purpose=purpose, expires_at=expires_at
    )
    breaker = Breaker.for_send(settings, keyring, number, purpose)
    admission = yield from admit_op(
        ticket=ticket,
        sealed_phone=keyring.seal(number),
        masked=masked,
        purpose=purpose,
        lane=lane,
        rules=rules,
        useful_life_s=settings.send_deadline_s,
        record_ttl_s=settings.record_ttl_s,
        idempotency_keys=idempotency_keys,
        # a retry of the same request finds its send for as long as that send's code can be used
        idempotency_ttl_s=configured.code_ttl_s,
        calls_key=keyring.calls_key(number),
        breaker=breaker,
        outbound=outbound,
    )
    if admission.tripped and breaker is not None:
        prefix = number[:PREFIX_DIGITS]
        # rare (a trip), best effort, and on the sync client: a blocking call like the publish
        yield from Blocking(remember_trip, get_redis(), keyring, prefix, breaker.purpose)
        # never the prefix itself: beside any masked number of its block it spells the number
        log_event(
            "pumping.tripped",
            breaker=breaker_id(keyring, prefix),
            purpose=breaker.purpose,
            mode=settings.pumping_mode,
        )
    if admission.outcome == "limited":
        yield from Count("rejected", admission.rule)
        log_event("send.rejected", phone=masked, rule=admission.rule, retry_after=admission.retry_after_s)
        # a breaker refusal names the prefix to the caller, who gave the number
        rule = rule_for(number) if admission.rule == PUMPING_RULE else admission.rule
        raise RateLimited(f"too many sends: rule {rule}", rule=rule, retry_after=admission.retry_after_s)
    if admission.outcome == "duplicate":
        return Ticket(
            admission.ticket,
            SendState(admission.state),
            admission.created_at,
            masked,
            admission.lane,
            admission.purpose,
            duplicate=True,
        )
    for rule in admission.monitored:
        yield from Count("monitored", rule)
        log_event("send.limit_monitored", phone=masked, rule=rule)
    state = SendState.QUEUED
    if outbound is None:
        try:
            yield from Blocking(
                publish_send, ticket, lane=lane, masked_phone=masked, purpose=purpose, expires_at=expires_at
            )
        except ServiceUnavailable:
            undone = yield from unadmit_op(
                ticket, "publish_failed", rules=rules, idempotency_keys=idempotency_keys
            )
            if undone is None or undone is SendState.FAILED:
                raise
            # the broker took the message after all (only its reply was lost): a worker has the send
            state = undone
    log_event("send.queued", ticket=admission.ticket, phone=masked, lane=lane, purpose=purpose)
    return Ticket(admission.ticket, state, admission.created_at, masked, lane, purpose)


send_code = blocking(sending, "send_code")
asend_code = awaitable(sending, "asend_code")
