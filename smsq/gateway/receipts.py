"""The receiver of Alibaba's delivery receipts (HTTP batch push of ``DypnsSmsVerifyReport``).

::

    POST /receipts/{secret}   a JSON array of reports → 200 {"code": 0, "msg": "ok"}

Alibaba calls it from the internet and sends no header we could check, so the route carries a long
random secret in its path (``SMSQ_RECEIPT_PATH_SECRET``), compared in constant time. A wrong or
missing secret answers 404, exactly like a path that does not exist, and stores nothing; with no
secret configured the route does not exist at all.

The provider's contract (Alibaba's receipt push documentation): HTTP 200 with ``{"code": 0}`` within
700 ms, or the push counts as failed and comes again 1, 5 and 10 minutes later. The receiver
therefore has its own Redis client with a short deadline (``SMSQ_RECEIPT_DEADLINE_S``, socket
timeouts, no retries) and its own threads, and answers 503 when it cannot store the batch, so that
Alibaba retries it. Applying a batch is idempotent (``receipts.lua``): a retry of a batch that was
stored after all changes nothing. Bodies are bounded; malformed items are counted and skipped
(:mod:`producers.receipts`). The phone number a report carries is never read, so it is never stored,
logged or counted.

The route is served by the gateway, or alone on its own listener (``smsq gateway --receipt-port``),
so that only that port needs to face the internet.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import redis
from aiohttp import web
from redis.backoff import NoBackoff
from redis.retry import Retry

from producers.errors import InvalidArgument, ServiceUnavailable
from producers.receipts import MAX_RECEIPT_BODY_BYTES, ReceiptBatch, ReceiptOutcome, parse_batch
from producers.settings import get_settings
from producers.store import RecordStore

log = logging.getLogger("smsq.gateway.receipts")

#: The receipt route; ``{secret}`` is ``SMSQ_RECEIPT_PATH_SECRET``.
RECEIPT_ROUTE = "/receipts/{secret}"
#: How the route's path appears in logs: never with the secret.
LOGGED_PATH = "/receipts/***"
#: Threads storing batches: a few pushes at once, kept apart from the /v1 calls' pool.
RECEIPT_THREADS = 8
_READ_CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class ReceiptConfig:
    """How the receipt route answers."""

    secret: str = field(repr=False)
    #: Redis must have stored a batch within this, or the push is answered 503.
    deadline_s: float = 0.3


class _TooLarge(Exception):
    """Raised when a push body is over :data:`MAX_RECEIPT_BODY_BYTES`."""


@dataclass
class Receiver:
    """The route's state: the secret, a store on a Redis client of its own, its threads."""

    config: ReceiptConfig
    store: RecordStore
    executor: ThreadPoolExecutor

    def knows(self, supplied: str) -> bool:
        """True when ``supplied`` is the path secret (constant-time compare)."""
        return hmac.compare_digest(
            supplied.encode("utf-8", "surrogatepass"), self.config.secret.encode("utf-8", "surrogatepass")
        )

    async def store_batch(self, batch: ReceiptBatch) -> tuple[ReceiptOutcome, ...]:
        """Apply ``batch`` within the deadline; raises ``ServiceUnavailable`` when it cannot."""
        call = functools.partial(self.store.apply_receipts, batch)
        future = asyncio.get_running_loop().run_in_executor(self.executor, call)
        try:
            return await asyncio.wait_for(future, timeout=self.config.deadline_s)
        except TimeoutError:
            raise ServiceUnavailable("Redis did not answer within the receipt deadline") from None


RECEIVER = web.AppKey("receiver", Receiver)


def receipt_redis(url: str, deadline_s: float) -> redis.Redis:
    """A Redis client that gives up within ``deadline_s``: short socket timeouts and no retries
    (redis-py retries a timed-out command three times by default)."""
    return redis.Redis.from_url(
        url,
        decode_responses=True,
        socket_connect_timeout=deadline_s,
        socket_timeout=deadline_s,
        retry=Retry(NoBackoff(), 0),
        health_check_interval=30,
    )


def _answer(status: int, message: str) -> web.Response:
    """An answer in the provider's shape: only ``code`` 0 with HTTP 200 counts as received."""
    return web.json_response({"code": 0 if status == 200 else status, "msg": message}, status=status)


async def _body(request: web.Request) -> bytes:
    """The body, read up to :data:`MAX_RECEIPT_BODY_BYTES` (the app's own limit does not apply)."""
    if request.content_length is not None and request.content_length > MAX_RECEIPT_BODY_BYTES:
        raise _TooLarge
    body = bytearray()
    while chunk := await request.content.read(_READ_CHUNK):
        body += chunk
        if len(body) > MAX_RECEIPT_BODY_BYTES:
            raise _TooLarge
    return bytes(body)


def _receiver_for(request: web.Request) -> Receiver:
    """The receiver, once the path secret matched; a plain 404 otherwise."""
    receiver = request.app[RECEIVER]
    if not receiver.knows(request.match_info["secret"]):
        raise web.HTTPNotFound
    return receiver


async def post_receipts(request: web.Request) -> web.Response:
    """Store a push of receipts; 200 ``{"code": 0}`` once stored, 503 when Redis cannot."""
    receiver = _receiver_for(request)
    try:
        batch = parse_batch(await _body(request))
    except _TooLarge:
        log.warning("receipt push refused: body over %d bytes", MAX_RECEIPT_BODY_BYTES)
        return _answer(413, f"the body must be at most {MAX_RECEIPT_BODY_BYTES} bytes")
    except InvalidArgument as exc:
        log.warning("receipt push refused: %s", exc)
        status = 413 if exc.reason == "body_too_large" else 400
        return _answer(status, str(exc))
    try:
        outcomes = await receiver.store_batch(batch)
    except ServiceUnavailable as exc:
        log.warning("receipt push of %d not stored (%s): answered 503, the provider retries", batch.size, exc)
        return _answer(503, "not stored; retry later")
    counts = {outcome: 0 for outcome in ReceiptOutcome}
    for outcome in outcomes:
        counts[outcome] += 1
    counts[ReceiptOutcome.UNMATCHED] += batch.foreign
    counts[ReceiptOutcome.MALFORMED] += batch.malformed
    log.info("receipts.stored %s", " ".join(f"{outcome}={n}" for outcome, n in counts.items()))
    return _answer(200, "ok")


async def other_method(request: web.Request) -> web.Response:
    """Any other method: 404 without the secret (nothing is revealed), else 405."""
    _receiver_for(request)
    raise web.HTTPMethodNotAllowed(request.method, ["POST"])


def add_receipt_route(app: web.Application, config: ReceiptConfig) -> None:
    """Serve ``POST /receipts/{secret}`` on ``app``, with its own Redis client and threads."""

    async def receiver(app: web.Application) -> AsyncIterator[None]:
        client = receipt_redis(get_settings().redis_dsn, config.deadline_s)
        executor = ThreadPoolExecutor(max_workers=RECEIPT_THREADS, thread_name_prefix="smsq-receipts")
        app[RECEIVER] = Receiver(config, RecordStore(client), executor)
        yield
        await asyncio.get_running_loop().run_in_executor(
            None, functools.partial(executor.shutdown, wait=True)
        )
        client.close()

    app.cleanup_ctx.append(receiver)
    app.router.add_post(RECEIPT_ROUTE, post_receipts, name="receipts")
    app.router.add_route("*", RECEIPT_ROUTE, other_method)
