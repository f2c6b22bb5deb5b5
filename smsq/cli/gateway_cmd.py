"""``smsq gateway``: the HTTP gateway (``smsq.gateway.app``) for backends not written in Python, and
the receiver of Alibaba's delivery receipts (``smsq.gateway.receipts``), on the same port or its own.

Like ``smsq flower``, it refuses to listen beyond loopback without authentication: anyone who can
reach an open gateway can send SMS on the account, lock codes and read statuses. So a non-loopback
``--host`` needs ``SMSQ_GATEWAY_TOKEN``, and the data keys must be set (``producers.keyring``);
either missing stops it with one line (exit 2) before it binds. (The receipt listener,
``--receipt-port``, is meant to face the internet: it serves only the receipt route, guarded by
its path secret.)
"""

from __future__ import annotations

import asyncio
import logging
import signal
from dataclasses import dataclass

import click
from aiohttp import web

from producers.errors import ConfigurationError
from producers.keyring import get_keyring
from producers.logs import install_redaction
from producers.settings import get_settings
from smsq.gateway.app import GatewayConfig, create_app, create_receipt_app, quiet_protocol_errors
from smsq.gateway.receipts import ReceiptConfig
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
@click.option(
    "--receipt-port",
    type=click.IntRange(1, 65535),
    help="Serve the delivery-receipt route alone on this port (the one to publish for Alibaba's "
    "push) instead of on --port. Needs SMSQ_RECEIPT_PATH_SECRET.",
)
@click.option(
    "--receipt-host", help="Address the --receipt-port listener binds (default: the same as --host)."
)
def gateway(
    host: str, port: int, trust_forwarded: bool, receipt_port: int | None, receipt_host: str | None
) -> None:
    """Serve send, check and status over HTTP/JSON under /v1 (token: SMSQ_GATEWAY_TOKEN), and
    Alibaba's delivery receipts on POST /receipts/<SMSQ_RECEIPT_PATH_SECRET> when that is set."""
    settings = get_settings()
    secret = settings.gateway_token
    token = None if secret is None else secret.get_secret_value()
    if token is not None and not token.strip():
        raise ConfigurationError("SMSQ_GATEWAY_TOKEN is set but empty; unset it or give a token")
    if token is not None and token != token.strip():
        # a client strips what follows "Bearer " (and HTTP cannot carry a trailing newline): such a
        # token, often read from a file with its newline, would refuse every request with 401
        raise ConfigurationError(
            "SMSQ_GATEWAY_TOKEN has leading or trailing whitespace (a newline from a file?); remove it"
        )
    if token is None and not is_loopback(host):
        raise ConfigurationError(
            f"SMSQ_GATEWAY_TOKEN: required to serve the gateway on {host or 'every interface'} "
            "(beyond loopback anyone could send SMS on your account); set a long random token, "
            "or bind 127.0.0.1"
        )
    get_keyring()  # without the data keys no send or check could run: say so now, not per request
    path_secret = settings.receipt_path_secret
    receipts = None
    if path_secret is not None:
        receipts = ReceiptConfig(path_secret.get_secret_value(), deadline_s=settings.receipt_deadline_s)
    elif receipt_port is not None:
        raise click.UsageError(
            "--receipt-port needs SMSQ_RECEIPT_PATH_SECRET (the receipt route's path secret)"
        )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    install_redaction()
    quiet_protocol_errors()
    auth = "bearer token required" if token else "no token"
    # with --receipt-port the receipt route is served on that listener only, not on --port
    alone = receipts is not None and receipt_port is not None
    config = GatewayConfig(token=token, trust_forwarded=trust_forwarded, receipts=None if alone else receipts)
    banner = f"http://{host}:{port}/v1/ ({auth})"
    if config.receipts is not None:
        banner += f"; {_receipts_text(host, port)}"
    listeners = [_Listener(create_app(config), host, port, banner)]
    if receipts is not None and receipt_port is not None:
        where = receipt_host or host
        receipt_app = create_receipt_app(receipts)
        listeners.append(_Listener(receipt_app, where, receipt_port, _receipts_text(where, receipt_port)))
    asyncio.run(_serve(listeners))


def _receipts_text(host: str, port: int) -> str:
    return f"delivery receipts: POST http://{host}:{port}/receipts/<SMSQ_RECEIPT_PATH_SECRET>"


@dataclass(frozen=True, slots=True)
class _Listener:
    """One address the process serves, and what it prints when it is up."""

    app: web.Application
    host: str
    port: int
    banner: str


async def _serve(listeners: list[_Listener]) -> None:
    """Serve every listener until SIGINT or SIGTERM; a repeated signal is harmless (cleanup runs once)."""
    # the gateway logs its own access lines
    runners = [web.AppRunner(listener.app, access_log=None, shutdown_timeout=5.0) for listener in listeners]
    try:
        for runner, listener in zip(runners, listeners, strict=True):
            await runner.setup()
            await web.TCPSite(runner, listener.host, listener.port, backlog=1024).start()
            click.echo(f"gateway: {listener.banner}")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
    finally:
        for runner in reversed(runners):
            await runner.cleanup()
