"""Request bodies the transport cannot read (a Content-Encoding that does not decode, a body cut
short) are the client's garbage: a 400 in the gateway's JSON, one INFO line, never a 500 with an
ERROR traceback an attacker can trigger at will."""

from __future__ import annotations

import asyncio
import logging

import pytest
from aiohttp import web

from smsq.gateway.app import create_app, quiet_protocol_errors

HEAD = b"POST /v1/codes HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"


async def exchange(raw: bytes, *, cut_short: bool = False) -> bytes:
    runner = web.AppRunner(create_app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(raw)
        if cut_short:
            await asyncio.sleep(0.2)
            writer.write_eof()
        reply = await asyncio.wait_for(reader.read(4096), 5)
        writer.close()
        await asyncio.sleep(0.1)  # let aiohttp drain the rest of the body
        return reply
    finally:
        await runner.cleanup()


@pytest.mark.parametrize("encoding", [b"gzip", b"deflate"])
def test_a_body_that_does_not_decode_is_a_400_without_an_error_log(
    encoding: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    quiet_protocol_errors()
    raw = HEAD + b"Content-Encoding: " + encoding + b"\r\nContent-Length: 10\r\n\r\n0123456789"
    with caplog.at_level(logging.INFO):
        reply = asyncio.run(exchange(raw))
    status_line, _, rest = reply.partition(b"\r\n")
    assert status_line.split()[1] == b"400", reply
    assert b'"reason": "malformed_json"' in rest
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_a_body_cut_short_is_no_internal_error(caplog: pytest.LogCaptureFixture) -> None:
    quiet_protocol_errors()
    with caplog.at_level(logging.INFO):
        asyncio.run(exchange(HEAD + b"Content-Length: 100\r\n\r\n{}", cut_short=True))
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert any(" POST /v1/codes 400 " in r.getMessage() for r in caplog.records)
