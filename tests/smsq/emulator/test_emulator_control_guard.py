"""The controls under /_emulator/ answer loopback peers only, or, with a control token, only its bearers."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from typing import Any
from unittest import mock

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer, make_mocked_request
from click.testing import CliRunner

from smsq.emulator import EmulatorConfig, create_app, errors
from smsq.emulator.cli import emulator as emulator_command
from smsq.emulator.guard import bearer_matches
from smsq.emulator.remote import EmulatorRemote
from smsq.emulator.server import platform_errors
from smsq.net import free_port, is_loopback_address
from tests.conftest import EmulatorHandle
from tests.smsq.emulator.emu_helpers import fresh_phone, send_request

TOKEN = "control-token-0123456789abcdef"
KEY_ID, KEY_SECRET = "guard-key", "guard-secret"


@pytest.mark.parametrize(
    ("peer", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.10.20.30", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("10.0.0.1", False),
        ("192.168.1.20", False),
        ("203.0.113.7", False),
        ("::ffff:203.0.113.7", False),
        ("2001:db8::1", False),
        ("fe80::1%eth0", False),
        ("0.0.0.0", False),
        ("localhost", False),  # aiohttp gives an address, never a name: a name is not trusted
        ("", False),
        (None, False),
    ],
)
def test_only_loopback_addresses_count_as_loopback(peer: str | None, loopback: bool) -> None:
    assert is_loopback_address(peer) is loopback


@pytest.mark.parametrize(
    ("header", "ok"),
    [
        (f"Bearer {TOKEN}", True),
        (f"bearer {TOKEN}", True),
        (f"Bearer  {TOKEN} ", True),
        (f"Bearer {TOKEN}x", False),
        (f"Bearer {TOKEN[:-1]}", False),
        (f"Basic {TOKEN}", False),
        (TOKEN, False),
        ("Bearer", False),
        ("", False),
        (None, False),
        ("Bearer ключ", False),
    ],
)
def test_the_bearer_header_must_carry_exactly_the_token(header: str | None, ok: bool) -> None:
    assert bearer_matches(header, TOKEN) is ok


def _control_routes(app: web.Application) -> list[tuple[str, str, Any]]:
    routes = []
    for route in app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if path.startswith("/_emulator") and route.method != "HEAD":
            routes.append((route.method, path, route.handler))
    return routes


def _request_from(app: web.Application, method: str, path: str, peer: str, **headers: str) -> web.Request:
    transport = mock.Mock()
    transport.get_extra_info.side_effect = lambda name, default=None: (
        (peer, 40000) if name == "peername" else default
    )
    return make_mocked_request(method, path, headers=headers, app=app, transport=transport)


def _get_handler(app: web.Application, path: str) -> Any:
    (handler,) = [h for method, p, h in _control_routes(app) if method == "GET" and p == path]
    return handler


def _call(handler: Any, request: web.Request) -> Any:
    async def call() -> Any:
        try:
            return await handler(request)
        except errors.EmulatorError as error:
            return error

    return asyncio.run(call())


def test_every_control_but_health_refuses_a_peer_beyond_loopback_without_a_token() -> None:
    app = create_app(EmulatorConfig(keys={KEY_ID: KEY_SECRET}))
    routes = _control_routes(app)
    assert {path for _, path, _ in routes} >= {
        "/_emulator",
        "/_emulator/",
        "/_emulator/health",
        "/_emulator/messages",
        "/_emulator/reset",
        "/_emulator/faults",
        "/_emulator/receipts",
        "/_emulator/stats",
    }
    for method, path, handler in routes:
        outcome = _call(handler, _request_from(app, method, path, "203.0.113.7"))
        if path == "/_emulator/health":
            assert outcome.status == 200
            continue
        assert isinstance(outcome, errors.ControlsForbidden), (method, path)
        assert outcome.status == 403


def test_a_loopback_peer_is_served_without_a_token() -> None:
    app = create_app(EmulatorConfig(keys={KEY_ID: KEY_SECRET}))
    for peer in ("127.0.0.1", "::1", "::ffff:127.0.0.1"):
        request = _request_from(app, "GET", "/_emulator/stats", peer)
        response = _call(_get_handler(app, "/_emulator/stats"), request)
        assert response.status == 200


def test_with_a_token_a_peer_beyond_loopback_is_served_when_it_carries_the_token() -> None:
    app = create_app(EmulatorConfig(keys={KEY_ID: KEY_SECRET}, control_token=TOKEN))
    handler = _get_handler(app, "/_emulator/stats")
    served = _call(
        handler,
        _request_from(app, "GET", "/_emulator/stats", "203.0.113.7", Authorization=f"Bearer {TOKEN}"),
    )
    assert served.status == 200
    refused = _call(handler, _request_from(app, "GET", "/_emulator/stats", "203.0.113.7"))
    assert refused.status == 401
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert json.loads(refused.body)["Code"] == "Unauthorized.EmulatorControls"


def test_the_forbidden_answer_is_platform_json_with_status_403() -> None:
    app = create_app(EmulatorConfig(keys={KEY_ID: KEY_SECRET}))
    handler = _get_handler(app, "/_emulator/messages")
    request = _request_from(app, "GET", "/_emulator/messages", "198.51.100.4")
    response = asyncio.run(platform_errors(request, handler))  # the app's error middleware, as served
    assert response.status == 403
    answer = json.loads(response.body)
    assert answer["Code"] == "Forbidden.EmulatorControls"
    assert {"Code", "Message", "RequestId"} <= set(answer)


# --- over real HTTP -----------------------------------------------------------------------------


def _http(url: str, method: str = "GET", token: str | None = None) -> tuple[int, dict[str, str], bytes]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(url, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_over_http_a_token_is_required_from_every_peer_and_accepted_when_right() -> None:
    async def body() -> None:
        config = EmulatorConfig(keys={KEY_ID: KEY_SECRET}, control_token=TOKEN)
        server = TestServer(create_app(config), host="127.0.0.1")
        await server.start_server()
        base = f"http://127.0.0.1:{server.port}/_emulator"
        try:
            for path in ("messages", "stats", "faults", "receipts", "", "x/../stats"):
                status, headers, raw = await asyncio.to_thread(_http, f"{base}/{path}")
                assert status in (401, 404), path  # a loopback peer needs the token too
                if status == 401:
                    assert json.loads(raw)["Code"] == "Unauthorized.EmulatorControls"
                    assert headers["WWW-Authenticate"].startswith("Bearer")
            status, _, _ = await asyncio.to_thread(_http, f"{base}/reset", "POST", "wrong-token-0123456789")
            assert status == 401
            status, _, raw = await asyncio.to_thread(_http, f"{base}/health")
            assert (status, json.loads(raw)) == (200, {"status": "ok"})  # health stays open
            status, _, page = await asyncio.to_thread(_http, f"{base}/", "GET", TOKEN)
            assert status == 200 and b"outbox" in page

            remote = EmulatorRemote(f"127.0.0.1:{server.port}", timeout_s=10, token=TOKEN)
            assert TOKEN not in repr(remote)
            await asyncio.to_thread(remote.set_receipts, delay_ms=5)
            assert (await asyncio.to_thread(remote.receipts))["delay_ms"] == 5
            assert "receipts" in await asyncio.to_thread(remote.stats)
            await asyncio.to_thread(remote.reset)
            assert await asyncio.to_thread(remote.messages) == []
            tokenless = EmulatorRemote(f"127.0.0.1:{server.port}", timeout_s=10)
            with pytest.raises(urllib.error.HTTPError) as caught:
                await asyncio.to_thread(tokenless.stats)
            assert caught.value.code == 401
            caught.value.close()
        finally:
            await server.close()

    asyncio.run(body())


def test_a_subprocess_takes_its_token_from_the_environment_and_still_serves_the_sdk(processes: Any) -> None:
    endpoint = processes.emulator(free_port(), KEY_ID, KEY_SECRET, name="emulator-token", control_token=TOKEN)
    handle = EmulatorHandle(endpoint, KEY_ID, KEY_SECRET)
    with pytest.raises(urllib.error.HTTPError) as caught:
        handle.messages()
    assert caught.value.code == 401
    caught.value.close()
    body = handle.sdk_client().send_sms_verify_code(send_request(fresh_phone())).body
    assert body.code == "OK"  # Dypnsapi on / is guarded by its signatures, not by the control token
    guarded = EmulatorRemote(endpoint, timeout_s=10, token=TOKEN)
    assert [m["biz_id"] for m in guarded.messages()] == [body.model.biz_id]


def test_a_short_control_token_is_a_usage_error() -> None:
    result = CliRunner().invoke(emulator_command, ["--key", "k:s", "--control-token", "short"])
    assert result.exit_code == 2
    assert "at least 16" in result.output


def test_the_config_repr_never_shows_the_token() -> None:
    config = EmulatorConfig(keys={KEY_ID: KEY_SECRET}, control_token=TOKEN)
    assert TOKEN not in repr(config) and KEY_SECRET not in repr(config)


@pytest.mark.parametrize(
    ("host", "origin", "allowed"),
    [
        ("127.0.0.1:8085", None, True),
        ("localhost:8085", None, True),
        ("[::1]:8085", None, True),
        ("127.0.0.1:8085", "http://127.0.0.1:8085", True),
        ("127.0.0.1:8085", "http://localhost:3000", True),
        ("rebind.attacker.example:8085", None, False),  # DNS rebinding: the page's own name
        ("127.0.0.1:8085", "https://attacker.example", False),  # a cross-site form POST or fetch
        ("127.0.0.1:8085", "null", False),
        ("", None, False),
        (None, None, True),  # HTTP/1.0 without Host: never a browser
    ],
)
def test_without_a_token_a_loopback_peer_must_also_name_loopback_in_host_and_origin(
    host: str | None, origin: str | None, allowed: bool
) -> None:
    """A page the developer has open reaches loopback too: by DNS rebinding it could read the outbox
    (every code and number) and point receipts anywhere; a cross-site POST could reset the emulator."""
    from smsq.emulator.guard import check_access

    if allowed:
        check_access("127.0.0.1", None, None, host, origin)
    else:
        with pytest.raises(errors.ControlsForbidden):
            check_access("127.0.0.1", None, None, host, origin)
