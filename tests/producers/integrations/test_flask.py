"""The Flask integration in-process (Flask's test client), on the test Redis: errors as JSON from any
view, the blueprint's routes, and the client IP as Werkzeug (and its ProxyFix) sees it."""

from __future__ import annotations

import uuid

import pytest
import redis
from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from producers import InvalidPhoneNumber, RateLimited
from producers.integrations.flask import init_app
from tests.conftest import clear_process_caches, limit_log_key

FORWARDED = {"X-Forwarded-For": "6.6.6.6, 203.0.113.9"}
PEER = {"REMOTE_ADDR": "10.0.0.1"}


def make_app(**options: object) -> Flask:
    app = Flask(__name__)
    init_app(app, **options)  # type: ignore[arg-type]

    @app.get("/refused")
    def refused() -> str:
        raise RateLimited("too many sends: rule ip:20/hour", rule="ip:20/hour", retry_after=2.2)

    @app.get("/bad")
    def bad() -> str:
        raise InvalidPhoneNumber("not a mainland China mobile number")

    return app


def test_an_smsq_error_from_any_view_is_answered_as_json() -> None:
    client = make_app(routes=False).test_client()
    refused = client.get("/refused")
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "3"
    assert refused.json == {
        "error": "RateLimited",
        "reason": "rate_limited",
        "message": "too many sends: rule ip:20/hour",
        "rule": "ip:20/hour",
        "retry_after": 2.2,
    }
    bad = client.get("/bad")
    assert (bad.status_code, bad.json["reason"]) == (400, "invalid_phone")
    assert client.post("/smsq/codes", json={"phone": "13511112222"}).status_code == 404  # routes=False


@pytest.mark.parametrize(
    ("proxied", "counted"), [(False, "10.0.0.1"), (True, "203.0.113.9")], ids=["peer", "proxyfix"]
)
def test_a_send_counts_against_the_ip_werkzeug_sees(
    smsq_env: dict[str, str], redis_client: redis.Redis, proxied: bool, counted: str
) -> None:
    app = make_app()
    if proxied:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1)  # type: ignore[method-assign]
    reply = app.test_client().post(
        "/smsq/codes", json={"phone": "+86 135-1111-2222"}, headers=FORWARDED, environ_base=PEER
    )
    assert reply.status_code == 202, reply.json
    assert reply.json["masked_phone"] == "135****2222"
    assert reply.headers["Location"] == f"/smsq/codes/{reply.json['ticket']}"
    assert redis_client.keys("smsq:limit:ip:*") == [limit_log_key("ip", counted)]


def test_a_check_counts_against_the_ip_werkzeug_sees(
    smsq_env: dict[str, str], redis_client: redis.Redis
) -> None:
    app = make_app()
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1)  # type: ignore[method-assign]
    phone = f"135{uuid.uuid4().int % 10**8:08d}"  # no other test's worker can have coded it
    reply = app.test_client().post(
        "/smsq/checks", json={"phone": phone, "code": "123456"}, headers=FORWARDED, environ_base=PEER
    )
    assert (reply.status_code, reply.json["attempts_left"]) == (200, 0)  # no live code: nobody asked
    assert redis_client.keys("smsq:limit:check_ip:*") == [limit_log_key("check_ip", "203.0.113.9")]


def test_the_ready_made_routes_answer_like_the_gateway(
    smsq_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMSQ_PURPOSES", '{"login": {}, "signup": {}}')
    clear_process_caches()
    client = make_app(url_prefix="/auth").test_client()
    ticket = client.post("/auth/codes", json={"phone": "13511112223", "purpose": "signup"}).json["ticket"]
    status = client.get(f"/auth/codes/{ticket}")
    assert (status.status_code, status.json["purpose"]) == (200, "signup")  # a worker may have sent it
    assert client.get("/auth/codes/0123456789abcdef").json["reason"] == "ticket_not_found"
    check = client.post("/auth/checks", json={"phone": "13511112223", "code": "1"})
    assert (check.status_code, check.json["reason"]) == (400, "invalid_code")


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"json": {"phone": "13511112222", "client_ip": "1.2.3.4"}}, "invalid_argument"),
        ({"json": {"phone": "13511112222", "lane": "default"}}, "invalid_argument"),
        ({"data": "phone=13511112222"}, "unsupported_media_type"),
        ({"data": "x" * 20_000, "content_type": "application/json"}, "body_too_large"),
        ({"json": {}}, "invalid_phone"),
    ],
)
def test_end_users_cannot_pick_their_ip_or_lane_and_bodies_are_checked(
    kwargs: dict[str, object], reason: str
) -> None:
    reply = make_app().test_client().post("/smsq/codes", **kwargs)  # type: ignore[arg-type]
    assert (reply.status_code, reply.json["reason"]) == (400, reason)


def test_end_users_cannot_dodge_the_pumping_breaker_by_naming_new_purposes(
    smsq_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The breaker counts each purpose apart and, with SMSQ_PURPOSES unset, any name is a purpose:
    a browser free to pick one would start a fresh count with every send."""
    monkeypatch.setenv("SMSQ_PUMPING_MIN_SENDS", "5")
    monkeypatch.setenv("SMSQ_IP_LIMITS", "1000/hour")
    clear_process_caches()
    client = make_app().test_client()
    prefix = f"136{uuid.uuid4().int % 10**4:04d}"
    answers = [
        client.post("/smsq/codes", json={"phone": f"{prefix}{i:04d}", "purpose": f"p{i // 4}"})
        for i in range(8)
    ]
    assert [(a.status_code, a.json["reason"]) for a in answers[1:]] == [(400, "unknown_purpose")] * 7
    assert answers[0].status_code == 400  # even the first: any name but the default
    statuses = [client.post("/smsq/codes", json={"phone": f"{prefix}{i:04d}"}).status_code for i in range(8)]
    assert statuses == [202] * 5 + [429] * 3  # one count: the breaker trips
