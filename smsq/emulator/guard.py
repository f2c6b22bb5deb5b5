"""Who may use the controls under ``/_emulator/``: loopback peers, or whoever holds the control token.

Without a control token only loopback peers are served (anyone else: 403); with one, every control
request must carry ``Authorization: Bearer <token>`` (else 401), loopback or not. The guard wraps each
control handler, so whatever path spelling reaches a control, the check runs.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

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


def check_access(peer: str | None, authorization: str | None, token: str | None) -> None:
    """Raise ``ControlsUnauthorized`` / ``ControlsForbidden`` unless this caller may use the controls."""
    if token is not None:
        if not bearer_matches(authorization, token):
            raise errors.ControlsUnauthorized()
    elif not is_loopback_address(peer):
        raise errors.ControlsForbidden()


def guarded(handler: Handler) -> Handler:
    """``handler`` behind the control guard."""

    async def guarded_handler(request: web.Request) -> web.StreamResponse:
        token = request.app[EMULATOR].config.control_token
        try:
            check_access(request.remote, request.headers.get("Authorization"), token)
        except errors.ControlsUnauthorized as error:
            response = error_response(error)
            response.headers["WWW-Authenticate"] = 'Bearer realm="smsq-emulator"'
            return response
        return await handler(request)

    guarded_handler.__doc__ = handler.__doc__
    return guarded_handler
