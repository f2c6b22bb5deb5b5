"""An in-process emulator (``create_app``) and a real HTTP receiver on 127.0.0.1, both on one event loop.

Sends go through the official SDK in a worker thread (the SDK blocks), so the emulator's loop keeps
serving and pushing. Imported by name from the receipt tests.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer
from alibabacloud_dypnsapi20170525.client import Client
from alibabacloud_tea_openapi import models as open_api_models

from smsq.emulator import EmulatorConfig, create_app
from smsq.emulator.backend import EMULATOR, Emulator
from smsq.emulator.receipts import ReceiptSettings
from tests.smsq.emulator.emu_helpers import fresh_phone, send_request

KEY_ID, KEY_SECRET = "receipt-key", "receipt-secret"
WAIT_S = 15.0  # a liveness bound for waits, never a timing assertion


@dataclass(frozen=True)
class Answer:
    """How the receiver answers one push."""

    status: int = 200
    body: bytes = b'{"code": 0, "msg": "received"}'
    delay_s: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


OK = Answer()


@dataclass
class Push:
    """One push as the receiver saw it."""

    at: float  # monotonic seconds on arrival
    content_type: str
    raw: bytes
    items: list[dict[str, Any]]


class Receiver:
    """A receipt receiver: records every push; ``answers(n)`` decides the answer to the n-th (from 1)."""

    def __init__(self, answers: Callable[[int], Answer] = lambda n: OK) -> None:
        self.answers = answers
        self.pushes: list[Push] = []
        self.app = web.Application()
        self.app.router.add_post("/receipts", self._handle)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        self.pushes.append(
            Push(time.monotonic(), request.headers.get("Content-Type", ""), raw, json.loads(raw))
        )
        answer = self.answers(len(self.pushes))
        if answer.delay_s:
            await asyncio.sleep(answer.delay_s)
        return web.Response(
            status=answer.status, body=answer.body, content_type="application/json", headers=answer.headers
        )

    def biz_ids(self) -> list[str]:
        """Every receipt's biz_id in arrival order (duplicates included)."""
        return [item["biz_id"] for push in self.pushes for item in push.items]


@dataclass
class Rig:
    """The running pair, with helpers to send and to wait."""

    emulator_server: TestServer
    receiver_server: TestServer
    receiver: Receiver
    client: Any = None

    @property
    def emulator(self) -> Emulator:
        return self.emulator_server.app[EMULATOR]  # type: ignore[index,no-any-return]

    @property
    def url(self) -> str:
        return str(self.receiver_server.make_url("/receipts"))

    async def send(self, phone: str | None = None, **overrides: Any) -> Any:
        """Send one code through the official SDK; return the response body."""
        request = send_request(phone or fresh_phone(), **overrides)
        response = await asyncio.to_thread(self.client.send_sms_verify_code, request)
        return response.body

    async def control(self, method: str, path: str, body: Any = None, **headers: str) -> tuple[int, Any]:
        """Call a control endpoint over HTTP; return the status and the JSON answer."""
        server = self.emulator_server
        assert server.runner is not None
        async with (
            aiohttp.ClientSession() as session,
            session.request(
                method, str(server.make_url(f"/_emulator/{path}")), json=body, headers=headers
            ) as r,
        ):
            return r.status, await r.json(content_type=None)

    async def until(self, predicate: Callable[[], bool], what: str) -> None:
        """Wait until ``predicate()`` holds (polling), or fail naming ``what``."""
        deadline = time.monotonic() + WAIT_S
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            await asyncio.sleep(0.005)

    async def settled(self) -> None:
        """Wait until no receipt waits, retries or is in flight."""

        def idle() -> bool:
            stats = self.emulator.receipts.stats()
            pusher = self.emulator.pusher
            in_flight = pusher is not None and bool(pusher._in_flight)
            return stats["pending"] == 0 and stats["retrying"] == 0 and not in_flight

        await self.until(idle, "the receipts to settle")


@asynccontextmanager
async def receipt_rig(
    answers: Callable[[int], Answer] = lambda n: OK,
    *,
    seed: int | None = 1,
    url: bool = True,
    **settings: Any,
) -> AsyncIterator[Rig]:
    """An emulator pushing to a fresh receiver (``url=False``: no callback URL at startup)."""
    receiver = Receiver(answers)
    receiver_server = TestServer(receiver.app, host="127.0.0.1")
    await receiver_server.start_server()
    receipts = ReceiptSettings(delay_ms=20.0, retry_scale=0.001).updated(settings)
    if url and "url" not in settings:
        receipts = receipts.updated({"url": str(receiver_server.make_url("/receipts"))})
    config = EmulatorConfig(keys={KEY_ID: KEY_SECRET}, seed=seed, receipts=receipts)
    emulator_server = TestServer(create_app(config), host="127.0.0.1")
    await emulator_server.start_server()
    rig = Rig(emulator_server, receiver_server, receiver)
    rig.client = Client(
        open_api_models.Config(
            access_key_id=KEY_ID,
            access_key_secret=KEY_SECRET,
            endpoint=f"127.0.0.1:{emulator_server.port}",
            protocol="http",
            connect_timeout=2000,
            read_timeout=5000,
        )
    )
    try:
        yield rig
    finally:
        await emulator_server.close()
        await receiver_server.close()


def run(coroutine: Any) -> Any:
    """Run an async test body to completion."""
    return asyncio.run(coroutine)
