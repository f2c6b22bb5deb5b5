"""The aiohttp application: routes, the error middleware, and a runner whose every answer is platform JSON.

Even requests aiohttp cannot parse (bad request line, oversized headers) are answered with the
platform's JSON error shape, by a request handler whose ``handle_error`` speaks JSON.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

from smsq.emulator import controls, errors, gateway
from smsq.emulator.backend import EMULATOR, Emulator
from smsq.emulator.clock import Clock
from smsq.emulator.config import MAX_BODY_BYTES, SWEEP_INTERVAL_S, EmulatorConfig
from smsq.emulator.pusher import ReceiptPusher
from smsq.emulator.responses import error_response

log = logging.getLogger("emulator")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def platform_errors(  # noqa: PLR0911 - one return per translated exception reads clearest
    request: web.Request, handler: Handler
) -> web.StreamResponse:
    """Turn every failure into the platform's JSON error; never a traceback, never an HTML page."""
    try:
        return await handler(request)
    except errors.EmulatorError as error:
        return error_response(error)
    except web.HTTPNotFound:
        return error_response(errors.InvalidApiNotFound())
    except web.HTTPMethodNotAllowed:
        return error_response(errors.UnsupportedHTTPMethod())
    except web.HTTPRequestEntityTooLarge:
        return error_response(errors.RequestTooLarge())
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error_response(errors.BadRequest(exc.reason))
    except Exception:
        log.exception("unexpected error serving %s %s", request.method, request.path)
        return error_response(errors.InternalError())


async def _sweeper(app: web.Application) -> AsyncIterator[None]:
    async def sweep_forever() -> None:
        while True:
            await asyncio.sleep(SWEEP_INTERVAL_S)
            app[EMULATOR].store.sweep()

    task = asyncio.create_task(sweep_forever())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _receipt_pusher(app: web.Application) -> AsyncIterator[None]:
    emulator = app[EMULATOR]
    pusher = ReceiptPusher(emulator.receipts)
    await pusher.start()
    emulator.pusher = pusher
    yield
    emulator.pusher = None
    await pusher.stop()


def create_app(config: EmulatorConfig, clock: Clock | None = None) -> web.Application:
    """The emulator as an aiohttp application."""
    app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=[platform_errors])
    app[EMULATOR] = Emulator(config, clock)
    app.router.add_route("*", "/", gateway.dypnsapi)
    controls.add_routes(app)
    app.cleanup_ctx.append(_sweeper)
    app.cleanup_ctx.append(_receipt_pusher)
    return app


class _JsonErrorRequestHandler(RequestHandler):
    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        # Only the kind of failure: aiohttp's message quotes the offending bytes, and those are the
        # request line (its query holds PhoneNumber, VerifyCode, AccessKeyId, Signature) or a header.
        log.warning("unparsable request from %s: HTTP %d (%s)", request.remote, status, type(exc).__name__)
        if request.writer.output_size > 0:
            raise ConnectionError("Response is sent already, cannot send another response")
        error: errors.EmulatorError
        if status == 413:
            error = errors.RequestTooLarge()
        elif 400 <= status < 500:
            error = errors.BadRequest()
        else:
            error = errors.InternalError()
        response = error_response(error)
        response.force_close()
        return response


class _JsonErrorServer(web.Server):
    __slots__ = ()

    def __call__(self) -> RequestHandler:
        return _JsonErrorRequestHandler(self, loop=self._loop, **self._kwargs)


class EmulatorRunner(web.AppRunner):
    """An ``AppRunner`` whose connections answer unparsable requests with platform JSON."""

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        server.__class__ = _JsonErrorServer
        return server


async def serve(config: EmulatorConfig, ready: Callable[[], None] | None = None) -> None:
    """Run the emulator until SIGINT or SIGTERM."""
    if not config.loopback:
        guard = (
            "its controls need the control token"
            if config.control_token
            else "its controls still answer loopback clients only (give --control-token to open them)"
        )
        print(
            f"WARNING: the emulator listens on {config.host}, beyond loopback: anyone who can reach it can "
            f"call its Dypnsapi endpoint; {guard}. Bind 127.0.0.1 unless you mean it.",
            file=sys.stderr,
        )
    runner = EmulatorRunner(create_app(config), access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, config.host, config.port, backlog=1024)
    await site.start()
    print(
        f"emulator: Dypnsapi 2017-05-25 on http://{config.host}:{config.port}/ "
        f"(outbox http://{config.host}:{config.port}/_emulator/)",
        flush=True,
    )
    if ready is not None:
        ready()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
