"""The emulator's own endpoints under ``/_emulator/``: health, outbox (JSON, HTML), reset, faults, stats."""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any

from aiohttp import web

from smsq.emulator import errors
from smsq.emulator.backend import EMULATOR
from smsq.emulator.responses import json_response
from smsq.emulator.state import Message

PREFIX = "/_emulator"


async def health(request: web.Request) -> web.Response:
    """Readiness: 200 ``{"status": "ok"}``."""
    return json_response({"status": "ok"})


async def messages(request: web.Request) -> web.Response:
    """The outbox, newest first; ``?phone=`` filters by number."""
    phone = request.query.get("phone") or None
    items = request.app[EMULATOR].store.messages(phone)
    return json_response({"messages": [m.as_dict() for m in items]})


async def reset(request: web.Request) -> web.Response:
    """Forget messages, codes, stats, nonces and flow control; faults back to the startup flags."""
    request.app[EMULATOR].reset()
    return json_response({"status": "reset"})


def _faults_body(request: web.Request) -> dict[str, Any]:
    injector = request.app[EMULATOR].faults
    return {**injector.settings.as_dict(), "seed": injector.seed}


async def get_faults(request: web.Request) -> web.Response:
    """The current fault settings (and seed)."""
    return json_response(_faults_body(request))


async def put_faults(request: web.Request) -> web.Response:
    """Partial update of the fault settings; ``seed`` restarts the outcome sequence. Unknown keys: 400."""
    try:
        changes = json.loads(await request.read())
    except (ValueError, UnicodeDecodeError):
        raise errors.BadRequest("The body must be a JSON object.") from None
    if not isinstance(changes, dict):
        raise errors.BadRequest("The body must be a JSON object.")
    injector = request.app[EMULATOR].faults
    seed_given = "seed" in changes
    seed = changes.pop("seed", None)
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise errors.InvalidParameter("seed must be an integer or null.")
    try:
        settings = injector.settings.updated(changes)
    except ValueError as error:
        raise errors.InvalidParameter(str(error)) from None
    injector.settings = settings
    if seed_given:
        injector.reseed(seed)
    return json_response(_faults_body(request))


async def stats(request: web.Request) -> web.Response:
    """Counts by action and outcome, and the times of accepted sends."""
    emulator = request.app[EMULATOR]
    return json_response({**emulator.stats.as_dict(), "sizes": emulator.store.sizes()})


@cache
def _page_template() -> str:
    return resources.files("smsq.emulator").joinpath("outbox.html").read_text(encoding="utf-8")


def _row(message: Message, newest: bool) -> str:
    sent = datetime.fromtimestamp(message.sent_at, UTC).strftime("%Y-%m-%d %H:%M:%S")
    cells = (
        (sent, ""),
        (message.phone, "phone"),
        (message.code or "", "code"),
        (message.text, "text"),
        (f"{message.sign_name} / {message.template_code} / {message.scheme_name}", ""),
        (message.biz_id, ""),
    )
    tds = "".join(f'<td class="{cls}">{html.escape(value)}</td>' for value, cls in cells)
    return f'<tr class="{"newest" if newest else ""}">{tds}</tr>'


async def outbox_page(request: web.Request) -> web.Response:
    """The outbox as an HTML page for a person; it reloads itself every 2 s."""
    items = request.app[EMULATOR].store.messages()
    rows = "\n".join(_row(m, i == 0) for i, m in enumerate(items))
    if not items:
        rows = '<tr><td colspan="6">No messages yet.</td></tr>'
    page = _page_template().replace("{{count}}", str(len(items))).replace("{{rows}}", rows)
    return web.Response(text=page, content_type="text/html", charset="utf-8")


def add_routes(app: web.Application) -> None:
    """Register the control routes."""
    app.router.add_get(f"{PREFIX}/health", health)
    app.router.add_get(f"{PREFIX}/messages", messages)
    app.router.add_post(f"{PREFIX}/reset", reset)
    app.router.add_get(f"{PREFIX}/faults", get_faults)
    app.router.add_put(f"{PREFIX}/faults", put_faults)
    app.router.add_get(f"{PREFIX}/stats", stats)
    app.router.add_get(f"{PREFIX}/", outbox_page)
    app.router.add_get(PREFIX, outbox_page)
