"""The upstream rate limiter every worker on every host shares: a GCRA in Redis (``lua/gcra.lua``).

A send takes one token from its lane's limiter *and* from the account-wide one in one script call,
or from neither; the clock is the Redis server's (``TIME``), so host clock skew does not matter.
All state is in Redis: one key per limiter holding its theoretical arrival time (TAT, µs), expiring
at the TAT so an idle limiter vanishes. Any number of threads, processes and hosts may call it.

Reserve, then wait. :meth:`UpstreamLimiter.acquire` answers a :class:`Decision`:

- ``reserved=True, go_after_s=w`` (``w <= max_wait_s``): the token is taken and is valid ``w``
  seconds from now. The caller sleeps ``w`` and sends; it never asks again.
- ``reserved=False, go_after_s=w`` (``w > max_wait_s``): nothing was taken: no slot comes in time.

A run asks with ``max_wait_s`` up to the send's deadline; a slot further away than the sleep it may
take is the lane's alone, and the run parks the send until then (worker/delivery.py). The account's
token is taken when the slot comes, so a parked backlog never moves the account's clock.

With the default burst of 1 no two tokens are valid closer together than the emission interval
(1/rate), so no window of ``T`` seconds holds more than ``rate * T + 1`` tokens, however the calls
interleave. Waiting here is flow control, not failure: it must not use up a task's retry budget.

Throttling feedback. When the provider still answers ``Throttling``, :meth:`UpstreamLimiter.penalize`
writes a penalty key for the lane (``smsq:gcra-penalty:lane:<lane>``) holding a slowdown factor
(default 2: the rate halves) with a TTL of the penalty's duration. The script multiplies the lane's
emission interval by the factor while the key exists; when it expires the lane recovers on its own,
with nothing to clean up. Each new penalty restarts the duration. The burst tolerance stays on the
base interval, so a penalty never allows a larger burst. Only the lane slows: the account-wide
limiter and other lanes keep their rates, so one throttled lane does not hold back the others.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import redis

from producers.constants import lane_limiter_name, limiter_key, penalty_key
from producers.errors import InvalidArgument, ServiceUnavailable, UnknownLane
from producers.limits import Rate
from producers.scripts import Scripts
from producers.store import RateRequest

if TYPE_CHECKING:
    from producers.settings import Settings

#: Tokens a limiter may hand out at once: 1 means never faster than the rate, even after idling.
DEFAULT_BURST = 1
#: How much :meth:`UpstreamLimiter.penalize` slows a lane by default (2 = half the rate).
DEFAULT_PENALTY_FACTOR = 2.0
#: Limiter name of the account-wide cap (lane limiters are ``lane:<lane>``; lanes have no ``:``).
ACCOUNT_LIMITER = "account"

_MICROS = 1_000_000


@dataclass(frozen=True, slots=True)
class Limiter:
    """One GCRA limiter: its name, the µs between tokens, and how many tokens may go at once."""

    name: str
    interval_us: int
    burst: int = DEFAULT_BURST

    def __post_init__(self) -> None:
        if self.interval_us < 1 or self.burst < 1:
            raise InvalidArgument(f"limiter {self.name!r} needs interval_us >= 1 and burst >= 1")

    @classmethod
    def from_rate(cls, name: str, rate: Rate, burst: int = DEFAULT_BURST) -> Limiter:
        """The limiter for ``rate``; the interval is rounded up, so it is never faster than the rate."""
        return cls(name, -(-rate.window_s * _MICROS // rate.limit), burst)


@dataclass(frozen=True, slots=True)
class Decision:
    """The limiter's answer: wait ``go_after_s`` seconds; ``reserved`` says whether a token is held."""

    go_after_s: float
    reserved: bool
    #: Name of the limiter that made the caller wait (None when it may go now).
    limiter: str | None = None

    @property
    def go_now(self) -> bool:
        """True when the token is held and valid already."""
        return self.reserved and self.go_after_s == 0


@dataclass(frozen=True, slots=True)
class LaneState:
    """A lane's limiter as :meth:`UpstreamLimiter.lane_state` reads it."""

    #: Seconds until the lane's next token is free (0 when a send may go now).
    next_slot_in_s: float
    #: The slowdown factor in force after provider throttling (1.0 = none).
    slowdown: float
    #: Seconds the slowdown still lasts.
    slowdown_left_s: float


class UpstreamLimiter:
    """Per-lane and account-wide rate limits on calls to the provider, shared through Redis."""

    def __init__(
        self,
        client: redis.Redis,
        lanes: Mapping[str, Rate],
        account: Rate | None = None,
        *,
        burst: int = DEFAULT_BURST,
        max_wait_s: float = 0.0,
    ) -> None:
        self._redis = client
        self._scripts = Scripts(client, "worker")
        self._account = Limiter.from_rate(ACCOUNT_LIMITER, account, burst) if account else None
        self._lanes = {
            lane: Limiter.from_rate(lane_limiter_name(lane), rate, burst) for lane, rate in lanes.items()
        }
        self.max_wait_s = max_wait_s

    @classmethod
    def from_settings(cls, settings: Settings, client: redis.Redis) -> UpstreamLimiter:
        """Lanes from ``settings.lanes``, the cap from ``account_rate`` (None = none), waits up to
        ``limiter_max_sleep_s``."""
        return cls(client, settings.lanes, settings.account_rate, max_wait_s=settings.limiter_max_sleep_s)

    def limiters(self, lane: str) -> tuple[Limiter, ...]:
        """The limiters a send in ``lane`` takes a token from: the lane's, then the account's."""
        try:
            own = self._lanes[lane]
        except KeyError:
            raise UnknownLane(f"lane {lane!r} is not configured") from None
        return (own, self._account) if self._account else (own,)

    def acquire(self, lane: str, max_wait_s: float | None = None, *, now_us: int | None = None) -> Decision:
        """Take a token for one send in ``lane`` if it is valid within ``max_wait_s`` (default: the
        limiter's ``max_wait_s``). ``now_us`` replaces the server clock; only tests pass it.

        A token valid within the limiter's own ``max_wait_s`` (the sleep a run may take) comes from
        the lane and the account at once. A later one is the lane's slot only: a far reservation
        must not move the account's clock, or one slow lane's parked backlog would hold back every
        other lane. Its account token is taken when the slot comes (:meth:`account_token`)."""
        wait_s = self.max_wait_s if max_wait_s is None else max_wait_s
        own, *account = self.limiters(lane)
        if not account:
            return self.take([own], wait_s, now_us=now_us)
        soon = self.take([own, *account], min(wait_s, self.max_wait_s), now_us=now_us)
        if soon.reserved or soon.go_after_s > wait_s:
            return soon  # it goes within the sleep, or nothing comes in time (nothing was taken)
        later = self.take([own], wait_s, now_us=now_us)
        if not later.reserved:
            return later
        return Decision(max(later.go_after_s, soon.go_after_s), True, soon.limiter)

    def claim_request(self, lane: str) -> RateRequest | None:
        """What a run's claim needs to take the token of a send in ``lane`` in its own round trip:
        the first step of :meth:`acquire` (lane and account, valid within ``max_wait_s``); None for
        a lane not configured here."""
        if lane not in self._lanes:
            return None
        limiters = self.limiters(lane)
        keys = [limiter_key(item.name) for item in limiters] + [penalty_key(item.name) for item in limiters]
        args = [value for item in limiters for value in (item.interval_us, item.burst)]
        return RateRequest(lane, tuple(keys), tuple(args), self.max_wait_s)

    def account_token(self, max_wait_s: float, *, now_us: int | None = None) -> Decision:
        """The account-wide token of a send whose lane slot was reserved ahead (see :meth:`acquire`)."""
        return self.take([self._account] if self._account else [], max_wait_s, now_us=now_us)

    def take(self, limiters: Sequence[Limiter], max_wait_s: float, *, now_us: int | None = None) -> Decision:
        """Take one token from every limiter in ``limiters`` or from none (see the module docstring)."""
        if max_wait_s < 0:
            raise InvalidArgument(f"max_wait_s must be >= 0, not {max_wait_s}")
        if not limiters:
            return Decision(0.0, True)
        keys = [limiter_key(item.name) for item in limiters] + [penalty_key(item.name) for item in limiters]
        args: list[Any] = [round(max_wait_s * _MICROS), "" if now_us is None else int(now_us)]
        for item in limiters:
            args += [item.interval_us, item.burst]
        wait_us, reserved, binding = self._scripts.run("gcra", keys, args)
        name = limiters[int(binding) - 1].name if int(binding) else None
        return Decision(int(wait_us) / _MICROS, bool(int(reserved)), name)

    def borrow(self, lane: str, max_wait_s: float) -> Decision:
        """A token for a send that must not queue behind ``lane``'s reservations: a retry that has to
        reach the provider inside its resend interval, because an earlier attempt may be out. It
        waits for the account-wide token as usual (at most ``max_wait_s``), goes ahead of the lane's
        parked sends, and pushes the lane's next free slot back by one interval, so the lane's rate
        holds over time (at most one send early per borrowing run)."""
        own, *account = self.limiters(lane)
        decision = self.take(account, max_wait_s)
        if decision.reserved:
            self._scripts.run("borrow", [limiter_key(own.name)], [own.interval_us])
        return decision

    def penalize(self, lane: str, seconds: float, factor: float = DEFAULT_PENALTY_FACTOR) -> None:
        """Slow ``lane`` by ``factor`` (2 = half its rate) for ``seconds``, restarting any penalty in
        force; it lifts itself when the key expires."""
        name = self.limiters(lane)[0].name
        if factor < 1 or seconds <= 0:
            raise InvalidArgument("a penalty needs factor >= 1 and seconds > 0")
        try:
            self._redis.set(penalty_key(name), repr(float(factor)), px=max(1, int(seconds * 1000)))
        except redis.RedisError as exc:
            raise ServiceUnavailable("Redis is unavailable for the upstream limiter") from exc

    def lane_state(self, lane: str) -> LaneState:
        """Where ``lane``'s limiter stands now, on the Redis clock (for people and metrics)."""
        name = self.limiters(lane)[0].name
        try:
            pipe = self._redis.pipeline(transaction=False)
            pipe.get(limiter_key(name))
            pipe.get(penalty_key(name))
            pipe.pttl(penalty_key(name))
            pipe.time()
            tat, factor, penalty_ms, (seconds, micros) = pipe.execute()
        except redis.RedisError as exc:
            raise ServiceUnavailable("Redis is unavailable for the upstream limiter") from exc
        now_us = int(seconds) * _MICROS + int(micros)
        return LaneState(
            next_slot_in_s=max(0, int(tat or 0) - now_us) / _MICROS,
            slowdown=float(factor) if factor else 1.0,
            slowdown_left_s=max(0, int(penalty_ms)) / 1000 if factor else 0.0,
        )
