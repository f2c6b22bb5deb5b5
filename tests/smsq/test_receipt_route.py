"""The receipt route in process (aiohttp's test server, real Redis): the provider's contract, the
path secret, bounded bodies, and a 503 within the deadline when Redis cannot store the push."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
import redis
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from producers import constants
from producers.receipts import MAX_RECEIPT_BODY_BYTES
from producers.records import Delivery, SendState
from producers.store import RecordStore
from smsq.gateway.app import GatewayConfig, create_app, create_receipt_app
from smsq.gateway.receipts import ReceiptConfig
from smsq.net import free_port
from tests.conftest import clear_process_caches, fixed_keyring

SECRET = "r" * 20 + "0123456789abcdef0123456789abcdef"  # fixed: test ids must be the same in every process
PATH = f"/receipts/{SECRET}"
PHONE = "13512345678"


@pytest.fixture
def redis_env(monkeypatch: pytest.MonkeyPatch, redis_url: str, redis_client: redis.Redis) -> Iterator[str]:
    """This process's settings point at the test Redis (the receiver reads them when it starts)."""
    monkeypatch.setenv("SMSQ_REDIS_URL", redis_url)
    clear_process_caches()
    yield redis_url
    clear_process_caches()


Call = Callable[[TestClient], Awaitable[None]]


def serve(app: web.Application, scenario: Call) -> None:
    async def run() -> None:
        async with TestClient(TestServer(app)) as client:
            await scenario(client)

    asyncio.run(run())


def sent_send(client: redis.Redis, purpose: str = "login") -> str:
    store = RecordStore(client)
    ticket = uuid.uuid4().hex
    store.admit(
        ticket=ticket,
        sealed_phone=fixed_keyring().seal(PHONE),
        masked="135****5678",
        purpose=purpose,
        lane="default",
        rules=(),
        useful_life_s=120,
        record_ttl_s=600,
    )
    store.claim(ticket, lease_s=60, token="run")
    store.finish(
        ticket,
        SendState.SENT,
        live_code_keys=fixed_keyring().live_code_keys(PHONE),
        code_ttl_s=300,
        token="run",
    )
    return ticket


def report(ticket: str, **fields: Any) -> dict[str, Any]:
    return {
        "phone_number": PHONE,
        "send_time": "2026-12-01 10:00:00",
        "report_time": "2026-12-01 10:00:02",
        "success": True,
        "err_code": "DELIVERED",
        "err_msg": "用户接收成功",
        "sms_size": "1",
        "biz_id": "1^0",
        "out_id": ticket,
    } | fields


def receipt_stats(client: redis.Redis) -> dict[str, str]:
    return client.hgetall(constants.stats_key("receipts"))  # type: ignore[return-value]


def gateway_app(deadline_s: float = 0.3) -> web.Application:
    return create_app(GatewayConfig(receipts=ReceiptConfig(SECRET, deadline_s=deadline_s)))


# --- the contract --------------------------------------------------------------------------------------


def test_a_push_is_stored_and_answered_code_0(redis_env: str, redis_client: redis.Redis) -> None:
    good, bad = sent_send(redis_client), sent_send(redis_client)
    body = [report(good), report(bad, success=False, err_code="MK:0001"), "junk", report("")]

    async def scenario(client: TestClient) -> None:
        reply = await client.post(PATH, data=json.dumps(body, ensure_ascii=False).encode())
        assert reply.status == 200
        assert await reply.json() == {"code": 0, "msg": "ok"}

    serve(gateway_app(), scenario)
    store = RecordStore(redis_client)
    assert store.status(good).delivery is Delivery.DELIVERED
    assert (store.status(bad).delivery, store.status(bad).carrier_code) == (Delivery.UNDELIVERED, "MK:0001")
    assert receipt_stats(redis_client) == {"new": "2", "unmatched": "1", "malformed": "1"}


def test_the_phone_number_is_stored_nowhere_and_logged_nowhere(
    redis_env: str, redis_client: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    ticket = sent_send(redis_client)
    pushed_number = "13700001111"  # not the send's own number

    async def scenario(client: TestClient) -> None:
        reply = await client.post(
            PATH, json=[report(ticket, phone_number=pushed_number), {"phone_number": pushed_number}]
        )
        assert reply.status == 200

    with caplog.at_level(logging.DEBUG):
        serve(gateway_app(), scenario)
    everything = [
        (key, redis_client.hgetall(key))
        for key in redis_client.scan_iter("smsq:*")
        if redis_client.type(key) == "hash"
    ]
    assert pushed_number not in repr(everything)
    # aiohttp's own access log is the test server's; `smsq gateway` turns it off and logs its own line
    text = "\n".join(r.getMessage() for r in caplog.records if r.name != "aiohttp.access")
    assert pushed_number not in text, text
    assert SECRET not in text, text
    assert "receipts.stored new=1" in text and "malformed=1" in text
    assert "POST /receipts/*** 200" in text


# --- the path secret ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/receipts",
        "/receipts/",
        f"/receipts/{SECRET[:-1]}",
        f"/receipts/{SECRET}x",
        f"/receipts/{SECRET.upper()}",
        f"/receipts/{SECRET}/",
        f"/v1/receipts/{SECRET}",
        f"/Receipts/{SECRET}",
    ],
)
def test_a_wrong_or_missing_secret_is_a_plain_404_and_stores_nothing(
    redis_env: str, redis_client: redis.Redis, path: str
) -> None:
    ticket = sent_send(redis_client)

    async def scenario(client: TestClient) -> None:
        for method in ("POST", "GET", "PUT"):
            reply = await client.request(method, path, json=[report(ticket)])
            assert reply.status == 404, (method, path)
            assert (await reply.json())["reason"] == "not_found"

    serve(gateway_app(), scenario)
    assert RecordStore(redis_client).status(ticket).delivery is Delivery.PENDING
    assert receipt_stats(redis_client) == {}


def test_without_a_secret_there_is_no_receipt_route_at_all(redis_env: str) -> None:
    async def scenario(client: TestClient) -> None:
        assert (await client.post(PATH, json=[])).status == 404

    serve(create_app(), scenario)
    assert not any(r.resource.canonical.startswith("/receipts") for r in create_app().router.routes())  # type: ignore[union-attr]


def test_another_method_with_the_right_secret_is_405(redis_env: str) -> None:
    async def scenario(client: TestClient) -> None:
        reply = await client.get(PATH)
        assert reply.status == 405 and reply.headers["Allow"] == "POST"

    serve(gateway_app(), scenario)


def test_the_receipt_route_needs_no_bearer_token_while_v1_still_does(
    redis_env: str, redis_client: redis.Redis
) -> None:
    app = create_app(GatewayConfig(token="t0ken", receipts=ReceiptConfig(SECRET)))

    async def scenario(client: TestClient) -> None:
        assert (await client.post(PATH, json=[report(sent_send(redis_client))])).status == 200
        assert (await client.get(f"/v1/codes/{uuid.uuid4().hex}")).status == 401

    serve(app, scenario)


def test_the_receipt_listener_serves_the_receipt_route_and_nothing_else(
    redis_env: str, redis_client: redis.Redis
) -> None:
    ticket = sent_send(redis_client)

    async def scenario(client: TestClient) -> None:
        assert (await client.post(PATH, json=[report(ticket)])).status == 200
        for path in ("/v1/codes", "/healthz", "/openapi.json", f"/v1/codes/{ticket}"):
            assert (await client.get(path)).status == 404, path
        assert (await client.post("/v1/codes", json={"phone": PHONE})).status == 404

    serve(create_receipt_app(ReceiptConfig(SECRET)), scenario)
    assert RecordStore(redis_client).status(ticket).delivery is Delivery.DELIVERED


# --- bounded and robust ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"not json", 400),
        (b'{"a": [1, 2', 400),
        (b"42", 400),
        (json.dumps([{"success": True}] * 1001).encode(), 413),
        (b"[" + b'"x",' * (MAX_RECEIPT_BODY_BYTES // 4) + b'"x"]', 413),
    ],
)
def test_a_body_that_is_not_a_usable_push_is_refused_in_the_providers_shape(
    redis_env: str, redis_client: redis.Redis, body: bytes, status: int
) -> None:
    async def scenario(client: TestClient) -> None:
        reply = await client.post(PATH, data=body)
        assert reply.status == status
        assert (await reply.json())["code"] == status

    serve(gateway_app(), scenario)
    assert receipt_stats(redis_client) == {}


def test_a_push_bigger_than_the_v1_body_limit_is_still_read(
    redis_env: str, redis_client: redis.Redis
) -> None:
    tickets = [sent_send(redis_client) for _ in range(200)]  # ~60 KB, over /v1's 16 KiB

    async def scenario(client: TestClient) -> None:
        reply = await client.post(PATH, json=[report(t) for t in tickets])
        assert reply.status == 200

    serve(gateway_app(), scenario)
    assert receipt_stats(redis_client) == {"new": "200"}


@pytest.fixture
def silent_redis() -> Iterator[str]:
    """A TCP port that accepts connections and never answers: a Redis that hangs."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"


@pytest.mark.parametrize("where", ["closed", "silent"])
def test_when_redis_cannot_store_the_push_the_answer_is_503_so_the_provider_retries(
    monkeypatch: pytest.MonkeyPatch, silent_redis: str, where: str
) -> None:
    url = silent_redis if where == "silent" else f"redis://127.0.0.1:{free_port()}/0"
    monkeypatch.setenv("SMSQ_REDIS_URL", url)
    clear_process_caches()

    async def scenario(client: TestClient) -> None:
        replies = await asyncio.gather(
            *(client.post(PATH, json=[report(uuid.uuid4().hex)]) for _ in range(3))
        )
        for reply in replies:
            assert reply.status == 503
            assert (await reply.json())["code"] == 503

    try:
        serve(gateway_app(deadline_s=0.2), scenario)
    finally:
        clear_process_caches()
