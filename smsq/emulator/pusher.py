"""Pushes due receipt batches to the callback URL, on the emulator's event loop, as Alibaba's HTTP push does.

One loop task sleeps until the next batch is due (or the book says something changed) and starts at most
``MAX_IN_FLIGHT`` pushes at a time; request handling never waits for it. A push is a POST of a JSON
array (``application/json; charset=utf-8``) to the configured URL only: no proxy from the environment,
no redirect followed. It succeeds when the answer is HTTP 200 with a JSON object whose ``code`` is 0,
complete within ``timeout_ms``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time

import aiohttp

from smsq.emulator.receipts import Batch, PushOutcome, ReceiptBook

log = logging.getLogger("emulator.receipts")

MAX_IN_FLIGHT = 4  # concurrent pushes at most
MAX_ANSWER_BYTES = 64 * 1024  # more of the receiver's answer is never read
_HEADERS = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "smsq-emulator/receipts"}


def accepted(status: int, body: bytes) -> PushOutcome:
    """Judge a receiver's answer: HTTP 200 and a JSON object whose ``code`` is the number 0."""
    if status != 200:
        return PushOutcome.STATUS
    try:
        answer = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return PushOutcome.BODY
    code = answer.get("code") if isinstance(answer, dict) else None
    if isinstance(code, bool) or not isinstance(code, int | float) or code != 0:
        return PushOutcome.BODY
    return PushOutcome.OK


async def _read_answer(response: aiohttp.ClientResponse) -> bytes:
    answer = bytearray()
    while len(answer) < MAX_ANSWER_BYTES:
        chunk = await response.content.read(MAX_ANSWER_BYTES - len(answer))
        if not chunk:
            break
        answer += chunk
    return bytes(answer)


class ReceiptPusher:
    """The background task that empties a :class:`ReceiptBook` into HTTP pushes."""

    def __init__(self, book: ReceiptBook) -> None:
        self.book = book
        self._wake = asyncio.Event()
        self._in_flight: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None
        self._loop_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Open the client session and start the loop."""
        connector = aiohttp.TCPConnector(limit=MAX_IN_FLIGHT)
        self._session = aiohttp.ClientSession(connector=connector, trust_env=False)
        self.book.listener = self._wake.set
        self._loop_task = asyncio.create_task(self._run(), name="emulator-receipt-pusher")

    async def stop(self) -> None:
        """Stop the loop and every push in flight; close the session."""
        self.book.listener = None
        tasks = [t for t in (self._loop_task, *self._in_flight) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._session is not None:
            await self._session.close()

    def cancel_in_flight(self) -> None:
        """Abandon the pushes in flight (after a reset their batches no longer exist)."""
        for task in self._in_flight:
            task.cancel()

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            self._launch_due()
            wait_s = None
            due = self.book.next_due()
            if due is not None and len(self._in_flight) < MAX_IN_FLIGHT:
                wait_s = max(0.0, due - time.monotonic())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=wait_s)

    def _launch_due(self) -> None:
        while len(self._in_flight) < MAX_IN_FLIGHT:
            batch = self.book.take_batch(time.monotonic())
            if batch is None:
                return
            task = asyncio.create_task(self._push(batch))
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)

    async def _push(self, batch: Batch) -> None:
        outcome = await self._post(batch.body)
        if outcome is not PushOutcome.OK:
            log.info("receipt push of %d failed (%s), attempt %d", len(batch.items), outcome, batch.attempts)
        self.book.finish(batch, outcome, time.monotonic())
        self._wake.set()

    async def _post(self, body: bytes) -> PushOutcome:
        settings = self.book.settings
        url = settings.url
        if url is None or self._session is None:
            return PushOutcome.CONNECTION
        try:
            async with asyncio.timeout(settings.timeout_ms / 1000.0):
                async with self._session.post(
                    url, data=body, headers=_HEADERS, allow_redirects=False
                ) as response:
                    return accepted(response.status, await _read_answer(response))
        except TimeoutError:
            return PushOutcome.TIMEOUT
        except (aiohttp.ClientError, OSError, ValueError):
            return PushOutcome.CONNECTION
        except Exception:  # never leave a batch unfinished: count it as failed and retry it
            log.exception("unexpected error pushing receipts")
            return PushOutcome.CONNECTION
