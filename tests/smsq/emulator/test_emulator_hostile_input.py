"""Hostile input gets the platform's JSON error with a 4xx status, and the server keeps serving."""

from __future__ import annotations

import http.client
from typing import Any

import pytest

from tests.smsq.emulator.emu_helpers import platform_error, raw_http

BIG = 70 * 1024


def _chunked(size: int) -> bytes:
    piece = b"a" * 0x4000
    chunks = b"".join(b"4000\r\n" + piece + b"\r\n" for _ in range(size // len(piece) + 1))
    return chunks + b"0\r\n\r\n"


CASES = [
    ("garbage instead of a request line", b"GARBAGE\r\n\r\n", 400, "BadRequest"),
    ("a header line without a colon", b"GET / HTTP/1.1\r\nHost: x\r\nno-colon\r\n\r\n", 400, "BadRequest"),
    (
        "a header larger than the parser allows",
        b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n",
        400,
        "BadRequest",
    ),
    (
        "raw non-ASCII bytes in the target",
        "GET /?PhoneNumber=\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n".encode("latin-1"),
        400,
        "BadRequest",
    ),
    (
        "percent-encoded invalid UTF-8 in the query",
        b"POST /?PhoneNumber=%FF%FE HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        400,
        "BadRequest",
    ),
    (
        "a declared body over 64 KiB",
        b"POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: "
        + str(BIG).encode()
        + b"\r\n\r\n"
        + b"a" * BIG,
        413,
        "RequestEntityTooLarge",
    ),
    (
        "a chunked body over 64 KiB",
        b"POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: "
        b"application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n" + _chunked(BIG),
        413,
        "RequestEntityTooLarge",
    ),
    (
        "invalid UTF-8 in a form body",
        b"POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: "
        b"application/x-www-form-urlencoded\r\nContent-Length: 4\r\n\r\nA=\xff\xfe",
        400,
        "BadRequest",
    ),
    (
        "no signature at all",
        b"POST /?Action=SendSmsVerifyCode HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
        b"Connection: close\r\n\r\n",
        400,
        "IncompleteSignature",
    ),
    (
        "a malformed Authorization header",
        b"POST / HTTP/1.1\r\nHost: x\r\nAuthorization: ACS3-HMAC-SHA256 x\r\n"
        b"Content-Length: 0\r\nConnection: close\r\n\r\n",
        400,
        "IncompleteSignature",
    ),
    (
        "an ACS3 request without its x-acs headers",
        b"POST / HTTP/1.1\r\nHost: x\r\nAuthorization: ACS3-HMAC-SHA256 "
        b"Credential=k,SignedHeaders=host,Signature=00\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        400,
        "IncompleteSignature",
    ),
    (
        "an RPC request missing its nonce",
        b"GET /?Signature=x&AccessKeyId=k&SignatureMethod=HMAC-SHA1&Timestamp="
        b"2026-01-01T00:00:00Z&Action=CheckSmsVerifyCode&Version=2017-05-25 HTTP/1.1\r\n"
        b"Host: x\r\nConnection: close\r\n\r\n",
        400,
        "MissingSignatureNonce",
    ),
    (
        "an unknown path",
        b"GET /index.php HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        404,
        "InvalidApi.NotFound",
    ),
    (
        "an unknown control",
        b"GET /_emulator/secrets HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        404,
        "InvalidApi.NotFound",
    ),
    (
        "an unsupported method on the endpoint",
        b"DELETE / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        400,
        "UnsupportedHTTPMethod",
    ),
    (
        "a wrong method on a control",
        b"DELETE /_emulator/faults HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        400,
        "UnsupportedHTTPMethod",
    ),
    (
        "a faults update that is not JSON",
        b"PUT /_emulator/faults HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Length: 3\r\nConnection: close\r\n\r\n{{{",
        400,
        "BadRequest",
    ),
]


@pytest.mark.parametrize(("what", "data", "status", "code"), CASES, ids=[c[0] for c in CASES])
def test_hostile_input_gets_a_platform_json_error_and_the_server_keeps_serving(
    emulator: Any, what: str, data: bytes, status: int, code: str
) -> None:
    got_status, headers, body = raw_http(emulator.endpoint, data)
    assert got_status == status
    assert headers["content-type"].startswith("application/json")
    error = platform_error(body)
    assert error["Code"] == code
    assert headers["x-acs-request-id"] == error["RequestId"]
    assert b"Traceback" not in body

    host, port = emulator.endpoint.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    connection.request("GET", "/_emulator/health")
    assert connection.getresponse().status == 200
    connection.close()


def test_an_unparsable_request_is_logged_without_the_number_or_the_code(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """aiohttp's parser error quotes the start of the bad line; for an over-long request line that is
    the query, with the number and the code (and, for the RPC style, AccessKeyId and Signature)."""
    import asyncio
    import logging

    from aiohttp import web

    from smsq.emulator import EmulatorConfig, create_app
    from smsq.emulator.server import EmulatorRunner
    from smsq.net import free_port

    async def scenario() -> None:
        runner = EmulatorRunner(create_app(EmulatorConfig(keys={"k": "s"})), access_log=None)
        await runner.setup()
        port = free_port()
        site = web.TCPSite(runner, "127.0.0.1", port)
        await site.start()
        try:
            line = b"POST /?PhoneNumber=13912345678&VerifyCode=654321&AccessKeyId=k&x=" + b"a" * 9000
            for data in (
                line + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                b"POST /?PhoneNumber=13912345678 HTTP/1.1\r\nHost: x\r\nX-A: 654321\x00\r\n\r\n",
            ):
                status, _, _ = await asyncio.to_thread(raw_http, f"127.0.0.1:{port}", data)
                assert status == 400
        finally:
            await runner.cleanup()

    with caplog.at_level(logging.WARNING, logger="emulator"):
        asyncio.run(scenario())
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "unparsable request" in logged
    for secret in ("13912345678", "654321", "AccessKeyId"):
        assert secret not in logged
