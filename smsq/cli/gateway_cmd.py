"""``smsq gateway``: the HTTP gateway (``smsq.gateway.app``) for backends not written in Python.

Like ``smsq flower``, it refuses to listen beyond loopback without authentication: anyone who can
reach an open gateway can send SMS on the account, lock codes and read statuses. So a non-loopback
``--host`` needs ``SMSQ_GATEWAY_TOKEN``, and the data keys must be set (``producers.keyring``);
either missing stops it with one line (exit 2) before it binds.
"""

from __future__ import annotations

import asyncio
import logging
import signal

import click
from aiohttp import web

from producers.errors import ConfigurationError
from producers.keyring import get_keyring
from producers.logs import install_redaction
from producers.settings import get_settings
from smsq.gateway.app import GatewayConfig, create_app, quiet_protocol_errors
from smsq.net import is_loopback


@click.command()
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Address to bind (loopback unless you mean it)."
)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--trust-forwarded",
    is_flag=True,
    help="Take a send's client IP from the last X-Forwarded-For hop when the body gives none "
    "(only behind a reverse proxy you run).",
)
def gateway(host: str, port: int, trust_forwarded: bool) -> None:
    """Serve send, check and status over HTTP/JSON under /v1 (token: SMSQ_GATEWAY_TOKEN)."""
    secret = get_settings().gateway_token
    token = None if secret is None else secret.get_secret_value()
    if token is not None and not token.strip():
        raise ConfigurationError("SMSQ_GATEWAY_TOKEN is set but empty; unset it or give a token")
    if token is None and not is_loopback(host):
        raise ConfigurationError(
            f"SMSQ_GATEWAY_TOKEN: required to serve the gateway on {host or 'every interface'} "
            "(beyond loopback anyone could send SMS on your account); set a long random token, "
            "or bind 127.0.0.1"
        )
    get_keyring()  # without the data keys no send or check could run: say so now, not per request
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    install_redaction()
    quiet_protocol_errors()
    config = GatewayConfig(token=token, trust_forwarded=trust_forwarded)
    asyncio.run(_serve(create_app(config), host, port, "bearer token required" if token else "no token"))


async def _serve(app: web.Application, host: str, port: int, auth: str) -> None:
    """Serve until SIGINT or SIGTERM; a repeated signal is harmless (cleanup runs once)."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=5.0)  # the gateway logs its own lines
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port, backlog=1024).start()
        click.echo(f"gateway: http://{host}:{port}/v1/ ({auth})")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()
