"""The HTTP gateway, as a real process over real HTTP: the same send, check and status as the Python
API, errors as JSON with the right status, an optional bearer token, and never a full phone number."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from typing import Any

import pytest
import redis

from smsq.devstack.processes import Stack, wait_until
from smsq.net import free_port
from tests.conftest import EmulatorHandle, limit_log_key
from tests.smsq.gateway_client import Gateway, StartGateway, fresh_number, wait_final_over_http

# --- sends ------------------------------------------------------------------------------------------


def test_a_send_is_accepted_with_a_ticket_and_a_masked_phone(gateway: Gateway) -> None:
    phone = fresh_number()
    reply = gateway.send(phone, purpose="signup")
    assert reply.status == 202
    body = reply.json
    assert set(body) == {"ticket", "state", "masked_phone", "created_at", "lane", "purpose", "duplicate"}
    assert body["state"] == "queued"
    assert body["masked_phone"] == f"{phone[:3]}****{phone[-4:]}"
    assert (body["lane"], body["purpose"], body["duplicate"]) == ("default", "signup", False)
    assert reply.headers["Location"] == f"/v1/codes/{body['ticket']}"
    assert phone not in reply.text


def test_a_code_sent_by_a_worker_checks_once_over_http(
    gateway: Gateway, emulator: EmulatorHandle, workers: Stack
) -> None:
    phone = fresh_number()
    ticket = gateway.send(phone).json["ticket"]
    status = wait_final_over_http(gateway, ticket)
    assert status["state"] == "sent", status
    assert status["masked_phone"] == f"{phone[:3]}****{phone[-4:]}"
    code = emulator.messages(phone)[0]["code"]
    wrong = "0000" if code != "0000" else "1111"

    other_purpose = gateway.call("POST", "/v1/checks", {"phone": phone, "code": code, "purpose": "reset"})
    assert other_purpose.json == {"passed": False, "attempts_left": 0, "ticket": None}
    first = gateway.call("POST", "/v1/checks", {"phone": phone, "code": wrong, "purpose": "login"})
    assert first.status == 200
    assert first.json == {"passed": False, "attempts_left": 4, "ticket": None}
    right = gateway.call("POST", "/v1/checks", {"phone": phone, "code": code})
    assert right.json == {"passed": True, "attempts_left": 5, "ticket": ticket}
    verified = gateway.call("GET", f"/v1/codes/{ticket}")
    assert verified.json["state"] == "verified"
    for reply in (first, right, verified):
        assert phone not in reply.text and code not in reply.text.replace(ticket, "")


def test_a_second_send_within_a_minute_is_refused_with_retry_after(gateway: Gateway) -> None:
    phone = fresh_number()
    assert gateway.send(phone).status == 202
    reply = gateway.send(phone)
    assert reply.status == 429
    body = reply.json
    assert (body["error"], body["reason"], body["rule"]) == ("RateLimited", "rate_limited", "phone:1/minute")
    assert 0 < body["retry_after"] <= 60
    assert 1 <= int(reply.headers["Retry-After"]) <= 60
    assert int(reply.headers["Retry-After"]) >= body["retry_after"]
    assert phone not in reply.text


def test_the_same_idempotency_key_in_a_header_returns_the_same_ticket(gateway: Gateway) -> None:
    phone = fresh_number()
    key = {"Idempotency-Key": uuid.uuid4().hex}
    first = gateway.call("POST", "/v1/codes", {"phone": phone}, headers=key)
    again = gateway.call("POST", "/v1/codes", {"phone": phone}, headers=key)
    assert (first.status, again.status) == (202, 202)
    assert again.json["ticket"] == first.json["ticket"]
    assert (first.json["duplicate"], again.json["duplicate"]) == (False, True)


def test_a_header_and_a_body_idempotency_key_that_differ_are_refused(gateway: Gateway) -> None:
    reply = gateway.call(
        "POST",
        "/v1/codes",
        {"phone": fresh_number(), "idempotency_key": "a"},
        headers={"Idempotency-Key": "b"},
    )
    assert reply.status == 400
    assert reply.json["reason"] == "invalid_argument"


def test_a_send_without_client_ip_is_not_counted_against_the_calling_backends_address(
    gateway: Gateway, redis_client: redis.Redis
) -> None:
    assert gateway.send(fresh_number()).status == 202
    assert gateway.send(fresh_number(), client_ip="203.0.113.7").status == 202
    assert not redis_client.exists(limit_log_key("ip", "127.0.0.1"))
    assert redis_client.exists(limit_log_key("ip", "203.0.113.7"))


def test_x_forwarded_for_counts_only_when_the_gateway_trusts_it(
    smsq_env: dict[str, str], start_gateway: StartGateway, redis_client: redis.Redis
) -> None:
    forwarded = {"X-Forwarded-For": "198.51.100.1, 198.51.100.2"}
    plain = start_gateway()
    assert plain.call("POST", "/v1/codes", {"phone": fresh_number()}, headers=forwarded).status == 202
    assert not redis_client.keys("smsq:limit:ip:*")

    trusting = start_gateway("--trust-forwarded")
    assert trusting.call("POST", "/v1/codes", {"phone": fresh_number()}, headers=forwarded).status == 202
    assert redis_client.keys("smsq:limit:ip:*") == [limit_log_key("ip", "198.51.100.2")]


def test_a_forwarded_ipv6_client_counts_per_64_in_sends_and_checks(
    smsq_env: dict[str, str], start_gateway: StartGateway, redis_client: redis.Redis
) -> None:
    """Finding 4: the gateway's forwarded-header parsing buckets like the library does."""
    trusting = start_gateway("--trust-forwarded", SMSQ_IP_LIMITS="2/hour", SMSQ_CHECK_IP_LIMITS="2/hour")
    calls = [("/v1/codes", {"phone": fresh_number()}) for _ in range(3)]
    calls += [("/v1/checks", {"phone": fresh_number(), "code": "123456"}) for _ in range(3)]
    statuses = [
        trusting.call("POST", path, body, headers={"X-Forwarded-For": f"2001:db8:0:7::{n + 1}%eth0"}).status
        for n, (path, body) in enumerate(calls)
    ]
    assert statuses == [202, 202, 429, 200, 200, 429]
    assert redis_client.keys("smsq:limit:ip:*") == [limit_log_key("ip", "2001:db8:0:7::/64")]
    assert redis_client.keys("smsq:limit:check_ip:*") == [limit_log_key("check_ip", "2001:db8:0:7::/64")]


# --- bad requests -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"phone": "12345"}, "invalid_phone"),
        ({"phone": "+1 202 555 0100"}, "invalid_phone"),
        ({"phone": 13612345678}, "invalid_phone"),
        ({}, "invalid_phone"),
        ({"phone": "13612345678", "lane": "nope"}, "unknown_lane"),
        ({"phone": "13612345678", "purpose": "has spaces"}, "invalid_argument"),
        ({"phone": "13612345678", "client_ip": "not-an-ip"}, "invalid_argument"),
        ({"phone": "13612345678", "colour": "blue"}, "invalid_argument"),
    ],
)
def test_an_invalid_send_is_a_400_naming_the_reason(
    gateway: Gateway, fields: dict[str, Any], reason: str
) -> None:
    reply = gateway.call("POST", "/v1/codes", fields)
    assert reply.status == 400
    body = reply.json
    assert body["reason"] == reason
    assert set(body) == {"error", "reason", "message"}
    assert "13612345678" not in reply.text


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"phone": "13612345678", "code": "12"}, "invalid_code"),
        ({"phone": "13612345678", "code": 1234}, "invalid_code"),
        ({"phone": "13612345678"}, "invalid_code"),
        ({"phone": "bad", "code": "1234"}, "invalid_phone"),
    ],
)
def test_an_invalid_check_is_a_400_naming_the_reason(
    gateway: Gateway, fields: dict[str, Any], reason: str
) -> None:
    reply = gateway.call("POST", "/v1/checks", fields)
    assert reply.status == 400
    assert reply.json["reason"] == reason


@pytest.mark.parametrize(
    ("raw", "content_type", "reason"),
    [
        (b'{"phone": ', "application/json", "malformed_json"),
        (b"\xff\xfe\x00", "application/json", "malformed_json"),
        (b"[" * 10_000, "application/json", "malformed_json"),
        (b'["13612345678"]', "application/json", "malformed_json"),
        (b"phone=13612345678", "application/x-www-form-urlencoded", "unsupported_media_type"),
        (
            json.dumps({"phone": "13612345678", "purpose": "x" * 20_000}).encode(),
            "application/json",
            "body_too_large",
        ),
    ],
)
def test_a_body_that_is_not_a_small_json_object_is_a_400(
    gateway: Gateway, raw: bytes, content_type: str, reason: str
) -> None:
    reply = gateway.call("POST", "/v1/codes", raw=raw, content_type=content_type)
    assert reply.status == 400
    assert reply.headers["Content-Type"].startswith("application/json")
    assert reply.json["reason"] == reason
    assert "Traceback" not in reply.text and "13612345678" not in reply.text


def test_an_unknown_ticket_is_a_404(gateway: Gateway) -> None:
    reply = gateway.call("GET", f"/v1/codes/{uuid.uuid4().hex}")
    assert reply.status == 404
    assert (reply.json["error"], reply.json["reason"]) == ("TicketNotFound", "ticket_not_found")


def test_unknown_paths_and_methods_answer_json(gateway: Gateway) -> None:
    missing = gateway.call("GET", "/v2/anything")
    assert missing.status == 404
    assert missing.json["reason"] == "not_found"
    wrong_method = gateway.call("DELETE", "/v1/codes")
    assert wrong_method.status == 405
    assert wrong_method.json["reason"] == "method_not_allowed"
    assert "POST" in wrong_method.headers["Allow"]


# --- health and authentication -----------------------------------------------------------------------


def test_healthz_answers_ok_while_redis_answers_and_503_when_it_does_not(
    smsq_env: dict[str, str], start_gateway: StartGateway
) -> None:
    healthy = start_gateway()
    assert healthy.call("GET", "/healthz").json == {"status": "ok"}

    dead_redis = f"redis://127.0.0.1:{free_port()}/11"
    cut_off = start_gateway(SMSQ_REDIS_URL=dead_redis, SMSQ_BROKER_URL=dead_redis)
    reply = cut_off.call("GET", "/healthz")
    assert reply.status == 503
    assert reply.json["status"] == "unavailable"
    send = cut_off.send(fresh_number())
    assert send.status == 503
    assert send.json["error"] == "ServiceUnavailable"


def test_a_token_is_required_on_v1_when_one_is_set(
    smsq_env: dict[str, str], start_gateway: StartGateway
) -> None:
    guarded = start_gateway(token="s3cret-token")
    anonymous = Gateway(guarded.base, guarded.child)
    phone = fresh_number()

    assert anonymous.send(phone).status == 401
    assert anonymous.send(phone).headers["WWW-Authenticate"].startswith("Bearer")
    assert anonymous.call("GET", f"/v1/codes/{uuid.uuid4().hex}").status == 401
    assert anonymous.call("POST", "/v1/codes", {"phone": phone}, token="wrong").status == 401
    assert anonymous.call("GET", "/healthz").status == 200
    accepted = guarded.send(phone)
    assert accepted.status == 202
    assert "s3cret-token" not in guarded.log()


# --- what the gateway says and logs ----------------------------------------------------------------------


def test_the_access_log_has_one_line_per_request_and_never_a_phone_or_code(gateway: Gateway) -> None:
    phone = fresh_number()
    ticket = gateway.send(phone).json["ticket"]
    gateway.send(phone)
    gateway.call("POST", "/v1/checks", {"phone": phone, "code": "987654"})
    gateway.call("GET", f"/v1/codes/{phone}")
    gateway.call("GET", f"/v1/codes/{ticket}")

    def logged() -> bool:
        return f"GET /v1/codes/{ticket} 200" in gateway.log()

    wait_until(logged, timeout_s=10, what="the access line")
    log = gateway.log()
    assert "POST /v1/codes 202" in log and "POST /v1/codes 429" in log
    assert "POST /v1/checks" in log
    assert f"GET /v1/codes/{phone[:3]}****{phone[-4:]} 404" in log
    assert phone not in log and "987654" not in log


# --- the command ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "token"),
    [("127.0.0.1", None), ("localhost", None), ("::1", None), ("0.0.0.0", "s3cret-token")],
)
def test_the_command_serves_on_loopback_or_with_a_token(
    smsq_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, host: str, token: str | None
) -> None:
    from click.testing import CliRunner

    from smsq.cli import gateway_cmd
    from tests.conftest import clear_process_caches

    served: list[object] = []

    async def serve(app: object, *args: object) -> None:
        served.append(app)

    monkeypatch.setattr(gateway_cmd, "_serve", serve)
    monkeypatch.setattr(gateway_cmd.logging, "basicConfig", lambda **kwargs: None)
    if token is None:
        monkeypatch.delenv("SMSQ_GATEWAY_TOKEN", raising=False)
    else:
        monkeypatch.setenv("SMSQ_GATEWAY_TOKEN", token)
    clear_process_caches()
    result = CliRunner().invoke(gateway_cmd.gateway, ["--host", host, "--port", "0"])
    assert result.exit_code == 0, result.output
    assert len(served) == 1


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "gateway.internal"])
def test_the_command_refuses_to_listen_beyond_loopback_without_a_token(
    smsq_env: dict[str, str], host: str
) -> None:
    """Finding 1: `smsq gateway --host 0.0.0.0` without a token only warned and then served anyone."""
    env = {name: value for name, value in os.environ.items() if name != "SMSQ_GATEWAY_TOKEN"}
    result = subprocess.run(
        [sys.executable, "-m", "smsq.cli", "gateway", "--host", host, "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("smsq: configuration error: SMSQ_GATEWAY_TOKEN: required")
    assert "Traceback" not in result.stdout + result.stderr


def test_the_command_refuses_to_start_without_the_data_keys(smsq_env: dict[str, str]) -> None:
    env = {name: value for name, value in os.environ.items() if name != "SMSQ_ENCRYPTION_KEYS"}
    result = subprocess.run(
        [sys.executable, "-m", "smsq.cli", "gateway", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    [line] = result.stderr.strip().splitlines()
    assert "SMSQ_ENCRYPTION_KEYS is not set" in line


@pytest.mark.parametrize(
    ("token", "says"),
    [
        (" ", "SMSQ_GATEWAY_TOKEN is set but empty"),
        # a token read from a file keeps its newline; every request would then be refused with 401
        ("0123456789abcdef0123456789abcdef\n", "SMSQ_GATEWAY_TOKEN has leading or trailing whitespace"),
    ],
)
def test_the_command_refuses_a_token_no_client_could_send(
    smsq_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, token: str, says: str
) -> None:
    from click.testing import CliRunner

    from smsq.cli import main
    from tests.conftest import clear_process_caches

    monkeypatch.setenv("SMSQ_GATEWAY_TOKEN", token)
    clear_process_caches()
    result = CliRunner().invoke(main, ["gateway", "--port", "0"])
    assert result.exit_code == 2
    assert says in result.stderr
