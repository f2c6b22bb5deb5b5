"""``SMSQ_CHECK_MODE=worker``: check_code as a synchronous RPC to the check workers.

The caller queues a task on the check queue (:data:`~producers.constants.CHECK_QUEUE`) under a
fresh token (the check's reservation script queues it, :mod:`producers.outbound`, or Celery
publishes it after the reservation) and blocks on the token's reply list (BLPOP) until its
deadline; a check worker claims the call, asks the provider and pushes the answer. The deadline is
on the Redis clock, set from this process's last reading of it (:data:`REDIS_CLOCK`): every
decision on it is a script's, so an error in that reading changes how long the caller waits, never
whether a worker may still act. Three scripts settle every race in Redis:

- ``rpc_claim.lua`` (worker): no claim past the deadline (the Redis clock on both sides) or after
  the caller gave up, so no worker asks the provider for a caller that is gone;
- ``rpc_reply.lua`` (worker): pushes the answer only while the claim stands, else drops it;
- ``rpc_abandon.lua`` (caller, when the wait runs out): takes an answer that just arrived, or marks
  a claimed call ``gone`` (the attempt stays counted: the provider may judge it), or reports it
  unclaimed (the attempt is given back: nobody will ever ask).

Only the caller applies a verdict, once, so a late answer can never count twice nor pass a check
whose caller was told it failed. Why a reply list and not Celery's ``rpc://`` result backend: the
answer goes to exactly one waiting caller, sends keep running without any result backend, nothing
is left behind (the list is popped empty, and a stray one expires within seconds), and the wait
is a single ``BLPOP`` that an asyncio client can mirror (:func:`wait_for_reply`).
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import redis
import redis.asyncio

from producers import constants, errors
from producers.connections import get_async_redis, get_redis
from producers.effect import Blocking, Effect, Flow, blocking
from producers.errors import ServiceUnavailable
from producers.guard import get_guard
from producers.keyring import Keyring
from producers.publisher import call_options, publish_call
from producers.scripts import Scripts, unavailable
from producers.settings import get_settings
from producers.store import Op
from producers.verdict import NoVerdict

#: Life of an answer nobody popped (its caller died between its deadline check and the pop).
REPLY_TTL_MS = 2_000
#: A blocking pop waits at most this share of the Redis socket timeout, then pops again, so a long
#: wait never trips the client's own timeout.
_SOCKET_SHARE = 0.8
#: Celery's ``expires`` on a check message: the deadline plus this, for clock skew between hosts
#: (rpc_claim.lua decides on the Redis clock; ``expires`` only spares a late message its run).
_EXPIRES_GRACE_S = 1.0


class Answer(enum.StrEnum):
    """What a check worker answers."""

    #: The provider said PASS.
    PASSED = "pass"
    #: The provider said not passed.
    FAILED = "fail"
    #: No verdict can exist (``error`` says why): the caller gives the attempt back.
    NO_VERDICT = "no_verdict"
    #: The provider may have judged the code but its answer was lost: the attempt stays counted.
    ERROR = "error"
    #: The answer of :data:`~producers.constants.PING_TASK_NAME`.
    PONG = "pong"


class Settled(enum.StrEnum):
    """What a worker's claim found (``rpc_claim.lua``)."""

    CLAIMED = "claimed"
    LATE = "late"
    ABANDONED = "abandoned"
    #: a copy of a message whose call was answered already
    ANSWERED = "answered"


#: The errors an answer may carry, rebuilt by name on the caller's side.
_ERRORS: dict[str, type[errors.SmsqError]] = {
    cls.__name__: cls
    for cls in (
        errors.ProviderError,
        errors.ProviderTransient,
        errors.ProviderThrottled,
        errors.ProviderAmbiguous,
        errors.ProviderPermanent,
        errors.ProviderFrequency,
        errors.ConfigurationError,
        errors.DecryptionFailed,
        errors.ServiceUnavailable,
    )
}


@dataclass(frozen=True, slots=True)
class Reply:
    """A check worker's answer, as it travels in the reply list (JSON, never a number or code)."""

    answer: Answer
    error: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def failure(cls, answer: Answer, error: errors.SmsqError) -> Reply:
        """An answer carrying ``error`` (its messages are log-safe by design)."""
        fields: dict[str, Any] = {"type": type(error).__name__, "message": str(error), "reason": error.reason}
        if isinstance(error, errors.ProviderError):
            fields |= {"code": error.code, "status": error.status, "request_id": error.request_id}
        if isinstance(error, errors.ProviderThrottled):
            fields["retry_after"] = error.retry_after
        return cls(answer, fields)

    def to_text(self) -> str:
        return json.dumps({"answer": self.answer.value, "error": self.error}, separators=(",", ":"))

    @classmethod
    def from_text(cls, text: str) -> Reply:
        data = json.loads(text)
        return cls(Answer(data["answer"]), data.get("error") or {})

    def rebuilt_error(self) -> errors.SmsqError:
        """The error the worker met, as this process's class (a ProviderError when unknown)."""
        fields = dict(self.error)
        cls = _ERRORS.get(str(fields.pop("type", "")), errors.ProviderError)
        message = str(fields.pop("message", "the check worker failed"))
        if issubclass(cls, errors.ProviderError):
            kwargs = {name: fields.get(name) for name in ("code", "status", "request_id", "reason")}
            if issubclass(cls, errors.ProviderThrottled):
                return cls(message, retry_after=fields.get("retry_after"), **kwargs)
            return cls(message, **kwargs)
        return cls(message, reason=fields.get("reason"))


class RpcCalls:
    """The three scripts of an RPC call (see the module docstring), over one Redis client."""

    def __init__(self, client: redis.Redis) -> None:
        self._redis = client
        self._scripts = Scripts(client, "producers")

    def claim(self, token: str, *, deadline_ms: int, hold_ms: int, now_ms: int | None = None) -> Settled:
        """A worker takes the call for at most ``hold_ms`` past the deadline, or learns it may not."""
        args = [deadline_ms, hold_ms, "" if now_ms is None else now_ms]
        result = self._scripts.run("rpc_claim", [constants.rpc_claim_key(token)], args)
        return Settled(result)

    def reply(self, token: str, reply: Reply, *, deadline_ms: int, now_ms: int | None = None) -> bool:
        """Push the answer for the caller; False when the caller had given up (answer dropped).
        The call stays marked answered until ``deadline_ms``, so a copy of its message is refused."""
        keys = [constants.rpc_claim_key(token), constants.rpc_reply_key(token)]
        args = [reply.to_text(), REPLY_TTL_MS, deadline_ms, "" if now_ms is None else now_ms]
        return bool(self._scripts.run("rpc_reply", keys, args))

    def abandon(self, token: str, *, deadline_ms: int, now_ms: int | None = None) -> Reply | bool:
        """Settle a call whose wait ran out (see :func:`abandon_op`)."""
        op = abandon_op(token, deadline_ms=deadline_ms, now_ms=now_ms)
        return op.read(self._scripts.run(op.script, op.keys, op.args))


def abandon_op(token: str, *, deadline_ms: int, now_ms: int | None = None) -> Op[Reply | bool]:
    """Settle a call whose wait ran out: an answer that just arrived, else whether a worker
    holds it (True: the provider may judge it) or not (False: nobody ever will)."""
    keys = [constants.rpc_claim_key(token), constants.rpc_reply_key(token)]
    return Op("rpc_abandon", keys, [deadline_ms, "" if now_ms is None else now_ms], _settled)


def _settled(result: Any) -> Reply | bool:
    if result[0] == "answer":
        return Reply.from_text(result[1])
    return bool(result[0] == "claimed")


@functools.lru_cache(maxsize=8)
def rpc_calls_for(client: redis.Redis) -> RpcCalls:
    """The calls over ``client``, built once: their scripts are registered a single time."""
    return RpcCalls(client)


def wait_for_reply(client: redis.Redis, key: str, timeout_s: float, *, socket_timeout_s: float) -> str | None:
    """Pop the one answer pushed to ``key`` within ``timeout_s``, else None. Blocks in BLPOP, in
    slices shorter than the client's socket timeout; a Redis failure is ServiceUnavailable (and the
    attempt stays counted: a worker may be asking). :func:`await_reply` is the asyncio twin."""
    for slice_s in _slices(timeout_s, socket_timeout_s):
        with unavailable():
            popped = client.blpop([key], timeout=slice_s)
        if popped is not None:
            return str(popped[1])
    return None


async def await_reply(
    client: redis.asyncio.Redis, key: str, timeout_s: float, *, socket_timeout_s: float
) -> str | None:
    """:func:`wait_for_reply` on a ``redis.asyncio`` client: the event loop runs on meanwhile."""
    for slice_s in _slices(timeout_s, socket_timeout_s):
        with unavailable():
            popped = await client.blpop([key], timeout=slice_s)
        if popped is not None:
            return str(popped[1])
    return None


def _slices(timeout_s: float, socket_timeout_s: float) -> Iterator[float]:
    """BLPOP timeouts that add up to ``timeout_s``, each under the socket timeout."""
    deadline = time.monotonic() + timeout_s
    while (left := deadline - time.monotonic()) > 0.001:  # BLPOP's timeout 0 would wait forever
        yield min(left, socket_timeout_s * _SOCKET_SHARE)


class WaitReply(Effect["str | None"]):
    """Wait for the answer pushed to ``key`` (:func:`wait_for_reply`) on the process's client."""

    def __init__(self, key: str, timeout_s: float, socket_timeout_s: float) -> None:
        self.key, self.timeout_s, self.socket_timeout_s = key, timeout_s, socket_timeout_s

    def run(self) -> str | None:
        return wait_for_reply(get_redis(), self.key, self.timeout_s, socket_timeout_s=self.socket_timeout_s)

    async def arun(self) -> str | None:
        client = get_async_redis()
        return await await_reply(client, self.key, self.timeout_s, socket_timeout_s=self.socket_timeout_s)


def seal_check(keyring: Keyring, number: str, code: str, scheme: str) -> str:
    """The number, the code and the scheme of a check, sealed together for the task payload."""
    return keyring.seal(json.dumps([number, code, scheme]))


def open_check(keyring: Keyring, sealed: str) -> tuple[str, str, str]:
    """The number, the code and the scheme sealed by :func:`seal_check`."""
    number, code, scheme = json.loads(keyring.unseal(sealed))
    return str(number), str(code), str(scheme)


class RedisClock:
    """The Redis server's clock as this process last read it: its own clock plus an offset, set
    from every reservation's reply (which carries the server's time)."""

    def __init__(self) -> None:
        self._offset_ms = 0.0

    def now_ms(self) -> int:
        """The server's time now, as far as this process knows (its own clock until a first reading)."""
        return int(time.time() * 1000 + self._offset_ms)

    def saw(self, server_ms: int) -> None:
        """The server said its time is ``server_ms`` (just now)."""
        self._offset_ms = server_ms - time.time() * 1000


#: This process's reading of the Redis clock, which every deadline of a call is set on.
REDIS_CLOCK = RedisClock()


@dataclass(frozen=True, slots=True)
class Call:
    """One RPC call to the check workers: its task, its token, and its deadline on the Redis clock.

    The task gets ``token`` and ``deadline_ms`` besides ``kwargs``; Flower and events show
    ``kwargsrepr`` instead of the arguments. The deadline is set before the call's reservation, so
    that the reservation's script can queue the task (:mod:`producers.outbound`); the caller waits
    until it, by the server's clock, and at most ``timeout_s`` by its own."""

    task_name: str
    kwargs: dict[str, Any]
    kwargsrepr: dict[str, Any]
    timeout_s: float
    token: str = field(default_factory=lambda: uuid.uuid4().hex)
    deadline_ms: int = field(init=False)
    started: float = field(init=False, default_factory=time.monotonic)

    def __post_init__(self) -> None:
        object.__setattr__(self, "deadline_ms", REDIS_CLOCK.now_ms() + int(self.timeout_s * 1000))

    def options(self) -> dict[str, Any]:
        """The call's ``send_task`` arguments (:func:`producers.publisher.call_options`)."""
        return call_options(
            self.task_name,
            token=self.token,
            kwargs={**self.kwargs, "deadline_ms": self.deadline_ms},
            kwargsrepr=self.kwargsrepr,
            expires=dt.datetime.fromtimestamp(self.deadline_ms / 1000 + _EXPIRES_GRACE_S, tz=dt.UTC),
        )

    def wait_s(self) -> float:
        """How long the caller may still wait: until the deadline by the server's clock, and no
        longer than ``timeout_s`` since the call began by its own."""
        by_server = (self.deadline_ms - REDIS_CLOCK.now_ms()) / 1000
        return min(by_server, self.timeout_s - (time.monotonic() - self.started))


def calling_workers(call: Call, *, queued: bool = False, socket_timeout_s: float) -> Flow[Reply]:
    """Publish ``call`` on the check queue, unless its reservation ``queued`` it already, and wait
    for its reply until its deadline.

    Raises :class:`NoVerdict` (wrapping ServiceUnavailable) when no worker took the call or it
    could not be published, and :class:`ServiceUnavailable` when a worker took it but did not answer
    in time (the provider may have judged the code).
    """
    if not queued:
        try:
            yield from Blocking(publish_call, call.options())
        except ServiceUnavailable as exc:
            raise NoVerdict(exc) from None
    text = yield from WaitReply(constants.rpc_reply_key(call.token), call.wait_s(), socket_timeout_s)
    if text is not None:
        return Reply.from_text(text)
    settled = yield from abandon_op(call.token, deadline_ms=call.deadline_ms)
    if isinstance(settled, Reply):
        return settled
    message = f"no check worker answered within {call.timeout_s:g} s (SMSQ_CHECK_TIMEOUT_S)"
    if settled:
        raise ServiceUnavailable(message + "; the attempt counts: the provider may have judged it")
    raise NoVerdict(ServiceUnavailable(message + " (are the check workers running?)"))


def check_call(number: str, code: str, scheme: str, *, masked: str) -> Call:
    """The call that asks a check worker about ``code`` (``check_code`` in worker mode): the
    number, the code and the scheme sealed with the current encryption key, Flower and events
    shown only ``masked``."""
    sealed = seal_check(get_guard().keyring, number, code, scheme)
    return Call(
        constants.CHECK_TASK_NAME,
        kwargs={"v": constants.CHECK_TASK_VERSION, "sealed": sealed},
        kwargsrepr={"phone": masked},
        timeout_s=get_settings().check_timeout_s,
    )


def asking_check_workers(call: Call, *, queued: bool) -> Flow[bool]:
    """The provider's verdict on the check ``call`` carries (:func:`check_call`), from a check
    worker. Raises :class:`NoVerdict` when the attempt can be given back."""
    reply = yield from calling_workers(call, queued=queued, socket_timeout_s=get_settings().redis_timeout_s)
    if reply.answer is Answer.NO_VERDICT:
        raise NoVerdict(reply.rebuilt_error())
    if reply.answer is Answer.ERROR:
        raise reply.rebuilt_error()
    return reply.answer is Answer.PASSED


call_workers = blocking(calling_workers, "call_workers")
