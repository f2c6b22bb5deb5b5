"""The FastAPI / Starlette integration in-process (Starlette's TestClient), on the test Redis: errors
as JSON, the client-IP dependency, the router, and routes that never block the event loop."""

from __future__ import annotations

import inspect

import pytest
import redis
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route

from producers import CheckLocked
from producers.integrations.fastapi import ClientIP, exception_handlers, init_app, router
from tests.conftest import limit_log_key


def make_app(**options: object) -> FastAPI:
    app = FastAPI()
    init_app(app, **options)  # type: ignore[arg-type]

    @app.get("/locked")
    def locked() -> None:
        raise CheckLocked("too many wrong codes for this number", rule="check", retry_after=299.01)

    @app.get("/ip")
    def ip(client_ip: ClientIP) -> dict[str, str | None]:
        return {"ip": client_ip}

    return app


def test_an_smsq_error_from_any_route_is_answered_as_json() -> None:
    reply = TestClient(make_app()).get("/locked")
    assert reply.status_code == 429
    assert reply.headers["Retry-After"] == "300"
    assert reply.json()["reason"] == "check_locked"
    assert reply.json()["retry_after"] == 299.01


def test_the_exception_handlers_serve_a_plain_starlette_app_too() -> None:
    async def locked(request: Request) -> None:
        raise CheckLocked("too many wrong codes for this number", rule="check", retry_after=1)

    app = Starlette(routes=[Route("/locked", locked)], exception_handlers=exception_handlers)
    reply = TestClient(app).get("/locked")
    assert (reply.status_code, reply.json()["reason"]) == (429, "check_locked")
    assert reply.headers["Retry-After"] == "1"


def test_the_client_ip_dependency_gives_the_peer_as_the_server_sees_it() -> None:
    app = make_app()
    assert TestClient(app, client=("203.0.113.9", 5000)).get("/ip").json() == {"ip": "203.0.113.9"}
    assert TestClient(app).get("/ip").json() == {"ip": None}  # "testclient" is no address


def test_a_send_through_the_router_counts_against_the_client_ip(
    smsq_env: dict[str, str], redis_client: redis.Redis
) -> None:
    client = TestClient(make_app(prefix="/auth"), client=("203.0.113.9", 5000))
    sent = client.post("/auth/codes", json={"phone": "13511112224"})
    assert sent.status_code == 202, sent.json()
    assert sent.headers["Location"] == f"/auth/codes/{sent.json()['ticket']}"
    assert redis_client.keys("smsq:limit:ip:*") == [limit_log_key("ip", "203.0.113.9")]
    status = client.get(f"/auth/codes/{sent.json()['ticket']}").json()
    assert (status["masked_phone"], status["lane"]) == ("135****2224", "default")
    assert client.post("/auth/checks", json={"phone": "13511112224"}).json()["reason"] == "invalid_code"
    checked = client.post("/auth/checks", json={"phone": "13511112224", "code": "123456"})
    assert checked.status_code == 200
    assert redis_client.keys("smsq:limit:check_ip:*") == [limit_log_key("check_ip", "203.0.113.9")]


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"json": {"phone": "13511112222", "client_ip": "1.2.3.4"}}, "invalid_argument"),
        ({"content": b"phone=1", "headers": {"Content-Type": "text/plain"}}, "unsupported_media_type"),
        ({"content": b"x" * 20_000, "headers": {"Content-Type": "application/json"}}, "body_too_large"),
        ({"content": b"{", "headers": {"Content-Type": "application/json"}}, "malformed_json"),
        ({"json": {"phone": "12345"}}, "invalid_phone"),
    ],
)
def test_bodies_are_checked_before_smsq_is_asked(kwargs: dict[str, object], reason: str) -> None:
    reply = TestClient(make_app()).post("/smsq/codes", **kwargs)  # type: ignore[arg-type]
    assert (reply.status_code, reply.json()["reason"]) == (400, reason)


def test_the_routes_that_block_run_in_the_thread_pool_not_on_the_event_loop() -> None:
    for route in router.routes:
        assert isinstance(route, APIRoute)
        assert not inspect.iscoroutinefunction(route.endpoint), route.path
