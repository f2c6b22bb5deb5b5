"""Who may use the controls under ``/_emulator/``: loopback peers, or whoever holds the control token.

Without a control token only loopback peers are served (anyone else: 403); with one, every control
request must carry ``Authorization: Bearer <token>`` (else 401), loopback or not. The guard wraps each
control handler, so whatever path spelling reaches a control, the check runs.

A loopback peer is not enough on its own: a web page the developer has open can reach loopback too,
by DNS rebinding (its own name, resolved to 127.0.0.1: ``Host`` names that site) or by a plain
cross-site request (``Origin`` names that site). Without a token, a control request must name a
loopback host in ``Host`` and, when it carries ``Origin``, a loopback origin too.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from aiohttp import web

from smsq.emulator import errors
from smsq.emulator.backend import EMULATOR
from smsq.emulator.responses import error_response
from smsq.net import is_loopback_address

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def bearer_matches(authorization: str | None, token: str) -> bool:
    """True when ``authorization`` is ``Bearer <token>`` (scheme case-insensitive, constant-time compare)."""
    scheme, _, given = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode("utf-8"), token.encode("utf-8"))


def _loopback_name(hostname: str | None) -> bool:
    if not hostname:
        return False
    hostname = hostname.lower().rstrip(".")
    return hostname == "localhost" or hostname.endswith(".localhost") or is_loopback_address(hostname)


def loopback_host_header(host: str | None) -> bool:
    """True when a ``Host`` header (``name[:port]``, ``[v6]:port``) names this machine's loopback, or is
    absent (an HTTP/1.0 client; a browser always sends one)."""
    if host is None:
        return True
    try:
        return _loopback_name(urlsplit(f"//{host}").hostname)
    except ValueError:
        return False


def loopback_origin(origin: str | None) -> bool:
    """True when there is no ``Origin`` header, or it names a loopback origin."""
    if origin is None:
        return True
    try:
        return _loopback_name(urlsplit(origin).hostname)
    except ValueError:
        return False


def check_access(
    peer: str | None,
    authorization: str | None,
    token: str | None,
    host: str | None = "127.0.0.1",
    origin: str | None = None,
) -> None:
    """Raise ``ControlsUnauthorized`` / ``ControlsForbidden`` unless this caller may use the controls."""
    if token is not None:
        if not bearer_matches(authorization, token):
            raise errors.ControlsUnauthorized()
    elif not (is_loopback_address(peer) and loopback_host_header(host) and loopback_origin(origin)):
        raise errors.ControlsForbidden()


def guarded(handler: Handler) -> Handler:
    """``handler`` behind the control guard."""

    async def guarded_handler(request: web.Request) -> web.StreamResponse:
        token = request.app[EMULATOR].config.control_token
        try:
            check_access(
                request.remote,
                request.headers.get("Authorization"),
                token,
                request.headers.get("Host"),
                request.headers.get("Origin"),
            )
        except errors.ControlsUnauthorized as error:
            response = error_response(error)
            response.headers["WWW-Authenticate"] = 'Bearer realm="smsq-emulator"'
            return response
        return await handler(request)

    guarded_handler.__doc__ = handler.__doc__
    return guarded_handler
