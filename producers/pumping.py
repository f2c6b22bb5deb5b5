"""The pumping breaker: refuse a number block whose sends stop turning into verifications.

SMS pumping sends codes to numbers that never use them, for the carrier fees. Its signal is
conversion: per 7-digit prefix and purpose (all purposes together without ``SMSQ_PURPOSES``, where
any name is a purpose), smsq keeps the sends of a sliding window
(``SMSQ_PUMPING_WINDOW_S``) and which of them were verified. Once a window holds at least
``SMSQ_PUMPING_MIN_SENDS`` sends and fewer than ``SMSQ_PUMPING_MIN_CONVERSION`` of them were
verified, the breaker trips: sends of that purpose to the prefix are refused with rule
``pumping:<prefix>`` for a cool-down (``SMSQ_PUMPING_COOLDOWN_S``, doubled by each further trip
within a day, up to ``SMSQ_PUMPING_MAX_COOLDOWN_S``) that lifts itself, and the window starts afresh.
In ``monitor`` mode a trip is logged and counted and nothing is refused. Numbers on
``SMSQ_SAFE_NUMBERS`` and prefixes on ``SMSQ_PUMPING_SAFE_PREFIXES`` are never judged.

With ``SMSQ_PUMPING_MIN_DELIVERY`` set (delivery receipts on), it also trips when fewer than that
share of the window's sends older than a minute were reported delivered by the carrier.

The counting happens in the send's admission (``lua/enqueue.lua``), its verification
(``lua/verified.lua``) and its delivery receipt (``lua/receipts.lua``); this module names the keys,
keeps the list of trips for operators and lifts a trip by hand (``smsq admin unblock``). Key names
carry a keyed digest of prefix and purpose, never the prefix; the list of trips holds them sealed
(``producers.keyring``).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import redis

from producers import constants
from producers.errors import DecryptionFailed, ServiceUnavailable
from producers.keyring import Keyring
from producers.settings import Settings

#: The digits of a number that name its block (the prefix the breaker judges).
PREFIX_DIGITS = 7
#: The rule a breaker refusal names (``pumping:<prefix>`` to the caller).
RULE = "pumping"
#: Hex digits of a breaker's id in the logs: enough to tell the tripped prefixes apart.
BREAKER_ID_HEX = 10
#: What the breaker counts every send of a prefix under when ``SMSQ_PURPOSES`` is unset: any name
#: is a purpose then, and a fresh name per send would open a fresh count (not a purpose's name).
ANY_PURPOSE = "*"
#: With ``SMSQ_PUMPING_MIN_DELIVERY``, only sends older than this count for delivery: most
#: carrier receipts arrive within seconds, and a send still waiting for its own proves nothing.
RECEIPT_GRACE_S = 60


@dataclass(frozen=True, slots=True)
class Breaker:
    """The breaker as one send meets it: the purpose it counts the send under, its keys (sends,
    verified, delivered, trip, strikes, then the trip keys named under older hash keys, which still
    refuse during a key rotation) and settings."""

    purpose: str
    keys: tuple[str, ...]
    mode: str
    min_sends: int
    min_conversion: float
    min_delivery: float
    window_s: int
    cooldown_s: int
    max_cooldown_s: int

    @classmethod
    def for_send(cls, settings: Settings, keyring: Keyring, phone: str, purpose: str) -> Breaker | None:
        """The breaker that judges a send of ``purpose`` to ``phone``; None when it is off or the
        number or its prefix is on a safe list. It counts each purpose apart when ``SMSQ_PURPOSES``
        names them, and all of a prefix's sends together (:data:`ANY_PURPOSE`) when it does not."""
        prefix = phone[:PREFIX_DIGITS]
        if (
            settings.pumping_mode == "off"
            or phone in settings.safe_numbers
            or prefix in settings.pumping_safe_prefixes
        ):
            return None
        judged = purpose if settings.purposes is not None else ANY_PURPOSE
        return cls(
            purpose=judged,
            keys=(*breaker_keys(keyring, prefix, judged), *older_trip_keys(keyring, prefix, judged)),
            mode=settings.pumping_mode,
            min_sends=settings.pumping_min_sends,
            min_conversion=settings.pumping_min_conversion,
            min_delivery=settings.pumping_min_delivery,
            window_s=settings.pumping_window_s,
            cooldown_s=settings.pumping_cooldown_s,
            max_cooldown_s=settings.pumping_max_cooldown_s,
        )

    def script_args(self) -> list[object]:
        """The ARGV enqueue.lua reads for the breaker (after its key count)."""
        return [
            self.mode,
            self.min_sends,
            self.min_conversion,
            self.window_s * 1000,
            self.cooldown_s * 1000,
            self.max_cooldown_s * 1000,
            constants.stats_key("pumping"),
            self.min_delivery,
            RECEIPT_GRACE_S * 1000,
        ]


def breaker_keys(keyring: Keyring, prefix: str, purpose: str) -> tuple[str, str, str, str, str]:
    """The breaker's keys for one prefix and purpose: sends, verified and delivered logs, trip,
    strikes."""
    digest = keyring.digests("pump", prefix, purpose)[0]
    sent, verified, delivered, trip, strikes = (
        constants.pumping_key(kind, digest) for kind in ("sent", "ok", "dl", "trip", "strikes")
    )
    return sent, verified, delivered, trip, strikes


def older_trip_keys(keyring: Keyring, prefix: str, purpose: str) -> tuple[str, ...]:
    """The breaker's trip key under every hash key after the current one: a trip made before a key
    swap stays in force (and listed) until its cool-down ends, as limit logs do (``limit_keys``)."""
    return tuple(
        constants.pumping_key("trip", digest) for digest in keyring.digests("pump", prefix, purpose)[1:]
    )


def _all_trip_and_strike_keys(keyring: Keyring, prefix: str, purpose: str) -> list[str]:
    return [
        constants.pumping_key(kind, digest)
        for digest in keyring.digests("pump", prefix, purpose)
        for kind in ("trip", "strikes")
    ]


def breaker_id(keyring: Keyring, prefix: str) -> str:
    """What logs name a prefix's breaker by: a keyed digest. A log line never holds the prefix
    itself: next to a masked number of the same block (``135****2222``) it spells the whole number.
    ``smsq admin breakers`` shows each prefix with its id."""
    return keyring.digests("pump-id", prefix)[0][:BREAKER_ID_HEX]


def rule_for(phone: str) -> str:
    """The rule a refusal names: ``pumping:<prefix>`` (the caller gave the number itself)."""
    return f"{RULE}:{phone[:PREFIX_DIGITS]}"


@dataclass(frozen=True, slots=True)
class Trip:
    """A tripped breaker, as operators see it."""

    prefix: str
    purpose: str
    mode: str
    #: Seconds until it lifts by itself.
    left_s: float
    #: What the logs name it by (:func:`breaker_id`).
    breaker: str


def remember_trip(client: redis.Redis, keyring: Keyring, prefix: str, purpose: str) -> None:
    """Add a trip to the operators' list (the prefix sealed, its trip key as the field), and drop
    the entries whose cool-down ended. Best effort: the trip itself is already in force."""
    trip_key = breaker_keys(keyring, prefix, purpose)[3]
    with contextlib.suppress(redis.RedisError, ServiceUnavailable):
        client.hset(constants.pumping_trips_key(), trip_key, keyring.seal(f"{prefix}|{purpose}"))
        trips(client, keyring)  # trips are rare: listing them prunes the list


def trips(client: redis.Redis, keyring: Keyring) -> list[Trip]:
    """The breakers tripped now; entries whose cool-down ended are dropped from the list."""
    try:
        listed: dict[str, str] = client.hgetall(constants.pumping_trips_key())  # type: ignore[assignment]
        pipe = client.pipeline(transaction=False)
        for trip_key in listed:
            pipe.pttl(trip_key)
            pipe.get(trip_key)
        answers = pipe.execute()
    except redis.RedisError as exc:
        raise ServiceUnavailable("Redis is unavailable") from exc
    found, ended = [], []
    for index, (trip_key, sealed) in enumerate(listed.items()):
        left_ms, mode = answers[2 * index], answers[2 * index + 1]
        if left_ms is None or left_ms <= 0:
            ended.append(trip_key)
            continue
        try:
            prefix, _, purpose = keyring.unseal(sealed).partition("|")
        except DecryptionFailed:
            continue  # sealed under a key no longer listed: it lifts by itself
        found.append(Trip(prefix, purpose, str(mode), left_ms / 1000, breaker_id(keyring, prefix)))
    if ended:
        with contextlib.suppress(redis.RedisError):
            client.hdel(constants.pumping_trips_key(), *ended)
    return sorted(found, key=lambda trip: (trip.prefix, trip.purpose))


def unblock(client: redis.Redis, keyring: Keyring, prefix: str) -> list[str]:
    """Lift every trip of ``prefix`` and forget its repeats, under every listed hash key; returns
    the purposes lifted."""
    listed: dict[str, str] = {}
    try:
        listed = client.hgetall(constants.pumping_trips_key())  # type: ignore[assignment]
    except redis.RedisError as exc:
        raise ServiceUnavailable("Redis is unavailable") from exc
    lifted = [trip for trip in trips(client, keyring) if trip.prefix == prefix]
    try:
        pipe = client.pipeline(transaction=True)
        for trip in lifted:
            pipe.delete(*_all_trip_and_strike_keys(keyring, prefix, trip.purpose))
        for trip_key, sealed in listed.items():  # the entries as listed, whichever key named them
            with contextlib.suppress(DecryptionFailed):
                if keyring.unseal(sealed).partition("|")[0] == prefix:
                    pipe.delete(trip_key)
                    pipe.hdel(constants.pumping_trips_key(), trip_key)
        pipe.hincrby(constants.stats_key("admin"), "unblock", 1)
        pipe.execute()
    except redis.RedisError as exc:
        raise ServiceUnavailable("Redis is unavailable") from exc
    return sorted({trip.purpose for trip in lifted})
