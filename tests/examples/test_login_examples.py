"""The example login apps (examples/), each in its real server process (Django's runserver, Flask's
werkzeug server, uvicorn) against the test Redis, the session's emulator and real worker processes:
a code sent and verified, a second send refused, a bad number, a locked code, and the client IP as
the framework sees it."""

from __future__ import annotations

import http.cookiejar
import json
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
import redis

from smsq.devstack.processes import Child, Stack, wait_until
from smsq.net import free_port
from tests.conftest import EmulatorHandle, limit_log_key, smsq_environment

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def server_argv(framework: str, port: int) -> list[str]:
    """How each example's README line starts it (without reloaders)."""
    if framework == "django":
        manage = str(EXAMPLES / "django_login/manage.py")
        return [sys.executable, manage, "runserver", "--noreload", str(port)]
    if framework == "flask":
        flask_app = str(EXAMPLES / "flask_login/app.py")
        return [sys.executable, "-m", "flask", "--app", flask_app, "run", "--port", str(port)]
    # uvicorn's own proxy handling: X-Forwarded-For from these addresses sets request.client
    return [
        sys.executable, "-m", "uvicorn", "--app-dir", str(EXAMPLES / "fastapi_login"), "app:app",
        "--port", str(port), "--forwarded-allow-ips", "127.0.0.1",
    ]  # fmt: skip


#: Environment beyond the test stack's, per framework.
EXTRA_ENV = {
    # The example's SMSQ dict says 5; the dict wins over the environment (configure()'s rule).
    # Django has no proxy handling: smsq's setting trusts one proxy's X-Forwarded-For.
    "django": {"SMSQ_CHECK_MAX_FAILURES": "3", "SMSQ_TRUSTED_PROXY_HOPS": "1"},
    "flask": {},
    "fastapi": {},
}
#: The client IP a send counts against when X-Forwarded-For says 198.51.100.7: Flask without
#: ProxyFix (as in the example) takes the peer; uvicorn and Django's hop setting take the header.
COUNTED_IP = {"django": "198.51.100.7", "flask": "127.0.0.1", "fastapi": "198.51.100.7"}


@dataclass
class Reply:
    status: int
    headers: Message  # names in any case, as HTTP has them
    body: Any


@dataclass
class ExampleApp:
    """A running example and a browser-like client (it keeps the session cookie)."""

    framework: str
    base: str
    child: Child
    cookies: http.cookiejar.CookieJar = field(default_factory=http.cookiejar.CookieJar)

    def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Reply:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.base + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json", **(headers or {})},
        )
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))
        try:
            with opener.open(request, timeout=15) as response:
                return Reply(response.status, response.headers, json.loads(response.read()))
        except urllib.error.HTTPError as exc:
            return Reply(exc.code, exc.headers, json.loads(exc.read()))

    def send(self, phone: str, headers: dict[str, str] | None = None) -> Reply:
        return self.call("POST", "/smsq/codes", {"phone": phone}, headers)

    def verify(self, phone: str, code: str, headers: dict[str, str] | None = None) -> Reply:
        return self.call("POST", "/login/verify", {"phone": phone, "code": code}, headers)


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


@pytest.fixture(scope="module", params=["django", "flask", "fastapi"])
def example(
    request: pytest.FixtureRequest,
    processes: Stack,
    redis_url: str,
    emulator_session: EmulatorHandle,
    workers: Stack,
) -> Iterator[ExampleApp]:
    """One example app's server process for all the tests of this module."""
    framework: str = request.param
    port = free_port()
    env = smsq_environment(redis_url, emulator_session, **EXTRA_ENV[framework])
    child = processes.spawn(f"example-{framework}-{port}", server_argv(framework, port), env)
    base = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        if not child.alive():
            raise RuntimeError(f"the {framework} example exited; see {child.log_path}")
        return answers(f"{base}/me")

    wait_until(ready, timeout_s=60, what=f"the {framework} example")
    yield ExampleApp(framework, base, child)
    child.stop()


@pytest.fixture
def app(example: ExampleApp, redis_client: redis.Redis, emulator: EmulatorHandle) -> ExampleApp:
    """The example with a clean smsq state in Redis and the emulator, and a new browser."""
    example.cookies.clear()
    return example


def fresh_number() -> str:
    return f"135{uuid.uuid4().int % 10**8:08d}"


def wait_sent(app: ExampleApp, ticket: str) -> None:
    """Until the worker has recorded the send (the outbox has the SMS a moment before): a check
    before that finds no live code, and answers without asking the provider."""
    wait_until(
        lambda: app.call("GET", f"/smsq/codes/{ticket}").body["state"] == "sent", timeout_s=30, what="sent"
    )


def test_a_code_is_sent_read_from_the_outbox_and_verified(app: ExampleApp, emulator: EmulatorHandle) -> None:
    phone = fresh_number()
    sent = app.send(phone)
    assert sent.status == 202, sent.body
    assert sent.body["masked_phone"] == f"{phone[:3]}****{phone[-4:]}"
    ticket = sent.body["ticket"]
    assert sent.headers["Location"].endswith(f"/smsq/codes/{ticket}")

    wait_until(lambda: bool(emulator.messages(phone)), timeout_s=30, what="the code in the outbox")
    wait_sent(app, ticket)
    code = emulator.messages(phone)[0]["code"]
    assert app.call("GET", "/me").body == {"logged_in": False}
    verified = app.verify(phone, code)
    assert (verified.status, verified.body["passed"]) == (200, True)
    assert app.call("GET", "/me").body == {"logged_in": True}
    status = app.call("GET", f"/smsq/codes/{ticket}")
    assert (status.status, status.body["state"]) == (200, "verified")


def test_a_second_send_is_refused_with_429_and_retry_after(app: ExampleApp) -> None:
    phone = fresh_number()
    assert app.send(phone).status == 202
    refused = app.send(phone)
    assert refused.status == 429
    assert (refused.body["reason"], refused.body["rule"]) == ("rate_limited", "phone:1/minute")
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert int(refused.headers["Retry-After"]) >= refused.body["retry_after"]


def test_a_bad_number_is_answered_400_with_the_reason(app: ExampleApp) -> None:
    reply = app.send("+1 202 555 0100")
    assert reply.status == 400
    assert (reply.body["error"], reply.body["reason"]) == ("InvalidPhoneNumber", "invalid_phone")
    assert "2025550100" not in json.dumps(reply.body)


def test_the_sixth_wrong_code_is_answered_429_check_locked(app: ExampleApp, emulator: EmulatorHandle) -> None:
    phone = fresh_number()
    sent = app.send(phone)
    assert sent.status == 202
    wait_until(lambda: bool(emulator.messages(phone)), timeout_s=30, what="the code in the outbox")
    wait_sent(app, sent.body["ticket"])
    for left in (4, 3, 2, 1, 0):
        wrong = app.verify(phone, "00000000")
        assert (wrong.status, wrong.body) == (200, {"passed": False, "attempts_left": left})
    locked = app.verify(phone, "00000000")
    assert locked.status == 429
    assert (locked.body["reason"], locked.body["rule"]) == ("check_locked", "check")
    assert 1 <= int(locked.headers["Retry-After"]) <= 300
    assert app.call("GET", "/me").body == {"logged_in": False}


def test_a_send_counts_against_the_client_ip_the_framework_sees(
    app: ExampleApp, redis_client: redis.Redis
) -> None:
    assert app.send(fresh_number(), headers={"X-Forwarded-For": "198.51.100.7"}).status == 202
    assert redis_client.keys("smsq:limit:ip:*") == [limit_log_key("ip", COUNTED_IP[app.framework])]
    app.verify(fresh_number(), "123456", headers={"X-Forwarded-For": "198.51.100.7"})
    assert redis_client.keys("smsq:limit:check_ip:*") == [
        limit_log_key("check_ip", COUNTED_IP[app.framework])
    ]
