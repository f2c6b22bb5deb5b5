"""An SMS-pumping attack against the breaker, mixed with real users who verify.

The attacker sends codes to ``attack_sends`` numbers of one 7-digit prefix that never verify, at
``attack_per_s``, with the static prefix limit off (``OPEN_LIMITS``). Mixed in, at random times over
the attack, ``prefix_users`` normal users in the same prefix and ``other_users`` in other prefixes
each ask for a code, read it from the emulator's outbox (their phone) and check it: they all verify.
Real workers send everything through the emulator; the breaker runs with the thresholds below (its
defaults, but a short cool-down so the run ends in minutes).

Figures: the attack's SMS spent before the breaker first tripped and in all; how many normal users
were refused in the attacked prefix (while it was tripped) and in other prefixes (target 0); and the
time from the attack's last send until the breaker lifted by itself. The baseline is the same
attack without the breaker: with the static prefix limit off, every attack send is an SMS.
"""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

from producers import RateLimited, check_code, get_status, send_code
from producers.connections import get_redis
from producers.keyring import get_keyring
from producers.pumping import trips
from smsq.bench.common import Bed, Emulator
from smsq.devstack.processes import Stack

ATTACKED_PREFIX = "1380013"
CODE_WAIT_S = 30.0


@dataclass(frozen=True, slots=True)
class Params:
    attack_sends: int
    attack_per_s: float
    prefix_users: int
    other_users: int
    min_sends: int
    min_conversion: float
    cooldown_s: int

    def env(self) -> dict[str, str]:
        return {
            "SMSQ_PUMPING_MODE": "enforce",
            "SMSQ_PUMPING_MIN_SENDS": str(self.min_sends),
            "SMSQ_PUMPING_MIN_CONVERSION": str(self.min_conversion),
            "SMSQ_PUMPING_COOLDOWN_S": str(self.cooldown_s),
            "SMSQ_LANES": '{"default": "200/second"}',
            "SMSQ_SEND_DEADLINE_S": "60",
            # the users verify in this process: the bench runs no check worker (worker mode's default)
            "SMSQ_CHECK_MODE": "direct",
        }


FULL = Params(
    attack_sends=2000, attack_per_s=20, prefix_users=200, other_users=500, min_sends=30, min_conversion=0.2,
    cooldown_s=30,
)  # fmt: skip
QUICK = Params(
    attack_sends=200, attack_per_s=40, prefix_users=20, other_users=50, min_sends=10, min_conversion=0.2,
    cooldown_s=10,
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Event:
    at_s: float
    kind: str  # attack | prefix_user | other_user
    phone: str


@dataclass
class Tally:
    """What happened to each kind of send, guarded by one lock."""

    lock: threading.Lock
    admitted: dict[str, list[float]]
    refused: dict[str, list[tuple[float, str]]]
    verified: dict[str, int]
    errors: list[str]

    @classmethod
    def empty(cls) -> Tally:
        kinds = ("attack", "prefix_user", "other_user")
        return cls(
            threading.Lock(), {k: [] for k in kinds}, {k: [] for k in kinds}, dict.fromkeys(kinds, 0), []
        )


def run(quick: bool) -> dict[str, Any]:
    """Drive the attack and the users; return the figures."""
    params = QUICK if quick else FULL
    with Stack() as stack:
        bed = Bed(stack, ["--rate-limit", "0"])
        env = bed.env(**params.env())
        bed.workers(env, count=1, concurrency=32, queues=["smsq.default"])
        with bed.producer(**params.env()):
            figures = _drive(bed.emulator, params)
    return {"params": asdict(params), **figures}


def _numbers(picker: random.Random, params: Params) -> tuple[list[str], list[str], list[str]]:
    """Attack numbers and normal users' numbers in the prefix (disjoint), and others elsewhere."""
    suffixes = picker.sample(range(10_000), params.attack_sends + params.prefix_users)
    in_prefix = [f"{ATTACKED_PREFIX}{suffix:04d}" for suffix in suffixes]
    others: set[str] = set()
    while len(others) < params.other_users:
        number = f"139{picker.randrange(10**8):08d}"
        if not number.startswith(ATTACKED_PREFIX):
            others.add(number)
    return in_prefix[: params.attack_sends], in_prefix[params.attack_sends :], sorted(others)


def _schedule(params: Params) -> list[Event]:
    picker = random.Random(14)
    attack, prefix_users, other_users = _numbers(picker, params)
    duration = params.attack_sends / params.attack_per_s
    events = [Event(i / params.attack_per_s, "attack", phone) for i, phone in enumerate(attack)]
    events += [Event(picker.uniform(0, duration), "prefix_user", phone) for phone in prefix_users]
    events += [Event(picker.uniform(0, duration), "other_user", phone) for phone in other_users]
    return sorted(events, key=lambda event: event.at_s)


def _drive(emulator: Emulator, params: Params) -> dict[str, Any]:
    tally = Tally.empty()
    events = _schedule(params)
    started = time.monotonic()

    def now() -> float:
        return time.monotonic() - started

    def job(event: Event) -> None:
        try:
            ticket = send_code(event.phone, purpose="login").id
        except RateLimited as refused:
            with tally.lock:
                tally.refused[event.kind].append((now(), refused.rule))
            return
        except Exception as exc:  # a failed send is a figure, not a crash of the run
            with tally.lock:
                tally.errors.append(f"{type(exc).__name__}: {exc}")
            return
        with tally.lock:
            tally.admitted[event.kind].append(now())
        if event.kind == "attack":
            return
        try:
            verified = _verify(emulator, event.phone, ticket)
        except Exception as exc:  # as above
            with tally.lock:
                tally.errors.append(f"verify: {type(exc).__name__}: {exc}")
            return
        with tally.lock:
            tally.verified[event.kind] += verified

    watch = _Watch(now)
    watch.start()
    with ThreadPoolExecutor(max_workers=48) as pool:
        for event in events:
            delay = event.at_s - now()
            if delay > 0:
                time.sleep(delay)
            pool.submit(job, event)
    attack_ended = max([*tally.admitted["attack"], *(at for at, _ in tally.refused["attack"])])
    lifted_at = watch.lifted_after(attack_ended, timeout_s=8 * params.cooldown_s + 60)
    lifted_after = None if lifted_at is None else round(lifted_at - attack_ended, 1)
    return _figures(tally, params, attack_ended, lifted_after)


class _Watch(threading.Thread):
    """Polls whether the attacked prefix is tripped, every 0.2 s, from the start of the run."""

    def __init__(self, now: Any) -> None:
        super().__init__(daemon=True)
        self._now = now
        self.seen: list[tuple[float, bool]] = []
        self._stop = threading.Event()

    def run(self) -> None:
        client, keyring = get_redis(), get_keyring()
        while not self._stop.is_set():
            tripped = any(trip.prefix == ATTACKED_PREFIX for trip in trips(client, keyring))
            self.seen.append((self._now(), tripped))
            time.sleep(0.2)

    def lifted_after(self, attack_ended: float, timeout_s: float) -> float | None:
        """When the prefix was first seen untripped after ``attack_ended`` (None: not in time)."""
        deadline = time.monotonic() + timeout_s
        try:
            while time.monotonic() < deadline:
                for at, tripped in list(self.seen):
                    if at > attack_ended and not tripped:
                        return at
                time.sleep(0.2)
            return None
        finally:
            self._stop.set()


def _verify(emulator: Emulator, phone: str, ticket: str) -> bool:
    """The user reads the code on their phone (the outbox) and types it in. A person takes seconds
    to do that; this one waits only until smsq has recorded the send (the code is live then)."""
    deadline = time.monotonic() + CODE_WAIT_S
    while time.monotonic() < deadline:
        if get_status(ticket).state.final:
            messages = emulator.messages(phone)
            return bool(messages) and check_code(phone, str(messages[0]["code"]), purpose="login").passed
        time.sleep(0.1)
    raise TimeoutError(f"the send was not final after {CODE_WAIT_S:.0f} s")


def _figures(tally: Tally, params: Params, attack_ended: float, lifted_after: float | None) -> dict[str, Any]:
    pumping_refusals = sorted(at for at, rule in tally.refused["attack"] if rule.startswith("pumping:"))
    first_trip = pumping_refusals[0] if pumping_refusals else None
    admitted = tally.admitted["attack"]
    stats = get_redis().hgetall("smsq:stats:pumping")

    def users(kind: str, count: int) -> dict[str, Any]:
        refused = tally.refused[kind]
        return {
            "users": count,
            "refused": len(refused),
            "refused_by_breaker": sum(rule.startswith("pumping:") for _, rule in refused),
            "verified": tally.verified[kind],
        }

    return {
        "attack": {
            "sends": params.attack_sends,
            "duration_s": round(attack_ended, 1),
            "spent_before_first_trip": sum(at < first_trip for at in admitted)
            if first_trip
            else len(admitted),
            "spent_total": len(admitted),
            "refused": len(tally.refused["attack"]),
            "first_trip_at_s": None if first_trip is None else round(first_trip, 2),
            "trips": int(stats.get("trips", 0)),
            "no_breaker_spent": params.attack_sends,
        },
        "prefix_users": users("prefix_user", params.prefix_users),
        "other_users": users("other_user", params.other_users),
        "lifted_after_attack_s": lifted_after,
        "errors": tally.errors[:10],
    }
