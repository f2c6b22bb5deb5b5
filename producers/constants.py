"""Names and defaults shared by producers, workers and operators: the wire contract in one place."""

from __future__ import annotations

#: The Celery task every producer publishes by name (workers register it under this name).
SEND_TASK_NAME = "smsq.send_code"

#: Queue name for a lane: one Celery queue per lane.
QUEUE_PREFIX = "smsq."

#: The task a web process publishes in ``SMSQ_CHECK_MODE=worker`` (a check worker asks the provider).
CHECK_TASK_NAME = "smsq.check_code"
#: A no-op task on the check path (same queue, same reply): a bare round trip, for the bench and probes.
PING_TASK_NAME = "smsq.ping"
#: The queue of checks, served by dedicated check workers so a backlog of sends never delays one.
#: (No lane may be called ``check``: settings refuse it.)
CHECK_QUEUE = "smsq.check"
#: Schema version of the check task's payload (its ``v`` keyword argument).
CHECK_TASK_VERSION = 1

#: Schema version of the send records this release writes (the ``v`` field). A worker that finds
#: another version ends the send with reason ``schema`` rather than guess at its fields.
RECORD_VERSION = 2  # 2: the number is sealed in ``sealed_phone`` (1 held it in the clear)

#: Schema version of the ``smsq.send_code`` task payload (its ``v`` keyword argument).
TASK_VERSION = 1

#: What a ticket looks like (send_code hands out 32 hex digits): in a URL, or as a receipt's OutId.
TICKET_PATTERN = r"[A-Za-z0-9_-]{1,64}"

#: Every Redis key smsq writes starts with this (Celery's own broker keys do not).
KEY_PREFIX = "smsq:"

#: Environment for every process that may load Alibaba's credentials library, so it never probes the
#: ECS metadata address or a CLI profile when no key is configured (dev stack, tests, containers).
NO_CLOUD_PROBES = {
    "ALIBABA_CLOUD_ECS_METADATA_DISABLED": "true",
    "ALIBABA_CLOUD_CLI_PROFILE_DISABLED": "true",
}

#: Scopes of the abuse limits on sends, in the order they are checked (``producers.guard``).
SEND_LIMIT_SCOPES = ("phone", "ip", "prefix", "purpose", "account")

#: The provider's scheme when none is named ("默认方案"): its live-code keys keep their old names.
DEFAULT_SCHEME_NAME = "默认方案"

#: How long a queued send may go unclaimed before the recovery sweep looks for its message.
DISPATCH_GRACE_S = 15

#: Scopes of the limits on checks: per client IP (``SMSQ_CHECK_IP_LIMITS``) and for everyone
#: (``SMSQ_CHECK_LIMITS``), in the order they are checked.
CHECK_LIMIT_SCOPES = ("check_ip", "check")

#: The record field holding the phone number, sealed (``producers.keyring``); a final record drops it.
SEALED_PHONE_FIELD = "sealed_phone"

#: Hard limit of one run of the send task: a send's deadline (120 s by default) plus one read
#: timeout and slack. Stop grace periods (compose, Kubernetes) must be longer than this.
TASK_TIME_LIMIT_S = 180


#: A sent send with no delivery receipt this long after ``sent`` reads as delivery ``unknown``
#: (``SMSQ_RECEIPT_WAIT_S``): Alibaba retries a failed push 1, 5 and 10 minutes later.
DEFAULT_RECEIPT_WAIT_S = 1200

#: Upper bounds (seconds) of the send-to-delivery histogram's buckets, kept by ``receipts.lua`` in
#: Redis and exported by every worker host (``worker.metrics``).
DELIVERY_TIME_BUCKETS_S = (1, 2, 5, 10, 20, 30, 60, 120, 300, 600)


def queue_for_lane(lane: str) -> str:
    """Celery queue that carries a lane's sends, e.g. ``smsq.login``."""
    return f"{QUEUE_PREFIX}{lane}"


def record_key(ticket: str) -> str:
    """Hash holding one send record."""
    return f"{KEY_PREFIX}send:{ticket}"


# Key names derived from a phone number or a client IP take a keyed digest of it, never the value
# itself (``producers.keyring.Keyring`` computes them): a key name shows in SCAN, MONITOR and dumps.


def idempotency_key(digest: str) -> str:
    """String mapping a caller's idempotency key (scoped to number and purpose) to its ticket."""
    return f"{KEY_PREFIX}idem:{digest}"


def lease_key(ticket: str) -> str:
    """Short-lived marker held by the worker that is calling the provider for a ticket."""
    return f"{KEY_PREFIX}lease:{ticket}"


def last_sent_key(digest: str) -> str:
    """Ticket of the newest code sent to a number, for the code's life: the one a check verifies."""
    return f"{KEY_PREFIX}last:{digest}"


def calls_key(digest: str) -> str:
    """ZSET of the sends whose runs called the provider for one number recently (ticket -> ms), in
    every scheme: the provider's resend interval is per number, so a ``biz.FREQUENCY`` proves an
    ambiguous attempt went out only when no other send to the number may have caused it."""
    return f"{KEY_PREFIX}calls:{digest}"


def check_attempts_key(ticket: str) -> str:
    """Answers checked against the code one send delivered: bound to that send, so a new code
    starts afresh and nothing counted against one code can move another's count."""
    return f"{KEY_PREFIX}checks:{ticket}"


def rpc_reply_key(token: str) -> str:
    """List a check worker pushes its answer to, for the one caller waiting on it (BLPOP)."""
    return f"{KEY_PREFIX}rpc:{token}:reply"


def rpc_claim_key(token: str) -> str:
    """Who holds a check in flight: ``claimed`` by a worker, or ``gone`` / ``abandoned`` by its
    caller; ``answered`` until the call's deadline once a worker answered (a copy is refused)."""
    return f"{KEY_PREFIX}rpc:{token}"


def inflight_key() -> str:
    """Every send not yet final, scored by when the recovery sweep should next look at it (ms)."""
    return f"{KEY_PREFIX}inflight"


def orphans_key() -> str:
    """Sends whose holder is gone (a dead worker, a run handed back): re-published at once."""
    return f"{KEY_PREFIX}orphans"


def due_key(lane: str) -> str:
    """Sends of a lane waiting for the rate slot they reserved, scored by the slot (ms)."""
    return f"{KEY_PREFIX}due:{lane}"


def workers_key() -> str:
    """Live worker processes, scored by their last heartbeat (ms)."""
    return f"{KEY_PREFIX}workers"


def held_key(worker_id: str) -> str:
    """The sends a worker process held (reserved or running) at its last heartbeat."""
    return f"{KEY_PREFIX}held:{worker_id}"


def limit_key(scope: str, digest: str) -> str:
    """Sliding-window log of admitted sends or checks for one scope (phone, ip, check_ip…) and subject."""
    return f"{KEY_PREFIX}limit:{scope}:{digest}"


def pumping_key(kind: str, digest: str) -> str:
    """The pumping breaker's state for one prefix and purpose: ``sent``, ``ok`` (verified) and ``dl``
    (delivered) logs of its window, its ``trip`` (TTL = the cool-down) and ``strikes`` (trips in
    the last day)."""
    return f"{KEY_PREFIX}pump:{kind}:{digest}"


def pumping_trips_key() -> str:
    """Hash of the breakers tripped recently: trip key -> prefix and purpose, sealed (for operators)."""
    return f"{KEY_PREFIX}pump:trips"


def limiter_key(name: str) -> str:
    """GCRA state (theoretical arrival time) of an upstream rate limiter."""
    return f"{KEY_PREFIX}gcra:{name}"


def stats_key(name: str) -> str:
    """Hash of global counters, e.g. check results by outcome."""
    return f"{KEY_PREFIX}stats:{name}"


def minute_stats_key(minute: int | str) -> str:
    """Hash of send outcomes (queued, sent, failed, expired) in one minute since the epoch."""
    return f"{KEY_PREFIX}stats:m:{minute}"


def penalty_key(limiter: str) -> str:
    """Slowdown factor of an upstream limiter while the provider throttles (TTL = its duration)."""
    return f"{KEY_PREFIX}gcra-penalty:{limiter}"


def lane_limiter_name(lane: str) -> str:
    """Name of a lane's upstream limiter, e.g. ``lane:login`` (lane names have no ``:``)."""
    return f"lane:{lane}"
