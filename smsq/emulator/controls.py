"""The emulator's own endpoints under ``/_emulator/``: health, outbox (JSON, HTML), reset, faults, receipts,
stats. All but health sit behind :mod:`smsq.emulator.guard`."""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any

from aiohttp import web

from smsq.emulator import errors
from smsq.emulator.backend import EMULATOR, Emulator
from smsq.emulator.guard import guarded
from smsq.emulator.receipts import Receipt
from smsq.emulator.responses import json_response
from smsq.emulator.state import Message

PREFIX = "/_emulator"


async def health(request: web.Request) -> web.Response:
    """Readiness: 200 ``{"status": "ok"}``."""
    return json_response({"status": "ok"})


async def messages(request: web.Request) -> web.Response:
    """The outbox, newest first; ``?phone=`` filters by number."""
    phone = request.query.get("phone") or None
    emulator = request.app[EMULATOR]
    return json_response({"messages": [_with_receipt(emulator, m) for m in emulator.store.messages(phone)]})


def _with_receipt(emulator: Emulator, message: Message) -> dict[str, Any]:
    receipt = emulator.receipts.get(message.biz_id)
    return {**message.as_dict(), "receipt": None if receipt is None else receipt.view()}


async def reset(request: web.Request) -> web.Response:
    """Forget messages, codes, stats, nonces and flow control; faults back to the startup flags."""
    request.app[EMULATOR].reset()
    return json_response({"status": "reset"})


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        changes = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise errors.BadRequest("The body must be a JSON object.") from None
    if not isinstance(changes, dict):
        raise errors.BadRequest("The body must be a JSON object.")
    return changes


def _faults_body(request: web.Request) -> dict[str, Any]:
    injector = request.app[EMULATOR].faults
    return {**injector.settings.as_dict(), "seed": injector.seed}


async def get_faults(request: web.Request) -> web.Response:
    """The current fault settings (and seed)."""
    return json_response(_faults_body(request))


async def put_faults(request: web.Request) -> web.Response:
    """Partial update of the fault settings; ``seed`` restarts the outcome sequence. Unknown keys: 400."""
    changes = _json_object(await request.read())
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


async def get_receipts(request: web.Request) -> web.Response:
    """The receipt settings in force (callback URL, delay, batch size, timeout, retry scale, faults)."""
    return json_response(request.app[EMULATOR].receipts.settings.as_dict())


async def put_receipts(request: web.Request) -> web.Response:
    """Partial update of the receipt settings (e.g. the callback URL, once the receiver runs)."""
    changes = _json_object(await request.read())
    try:
        settings = request.app[EMULATOR].receipts.update(changes)
    except ValueError as error:
        raise errors.InvalidParameter(str(error)) from None
    return json_response(settings.as_dict())


async def stats(request: web.Request) -> web.Response:
    """Counts by action and outcome, the times of accepted sends, and what happened to receipts."""
    emulator = request.app[EMULATOR]
    return json_response(
        {**emulator.stats.as_dict(), "sizes": emulator.store.sizes(), "receipts": emulator.receipts.stats()}
    )


@cache
def _page_template() -> str:
    return resources.files("smsq.emulator").joinpath("outbox.html").read_text(encoding="utf-8")


def _delivery(receipt: Receipt | None) -> str:
    if receipt is None:
        return ""
    attempts = f" after {receipt.attempts} attempts" if receipt.attempts > 1 else ""
    return f"{receipt.report['err_code']}, receipt {receipt.status.value}{attempts}"


def _row(emulator: Emulator, message: Message, newest: bool) -> str:
    sent = datetime.fromtimestamp(message.sent_at, UTC).strftime("%Y-%m-%d %H:%M:%S")
    cells = (
        (sent, ""),
        (message.phone, "phone"),
        (message.code or "", "code"),
        (message.text, "text"),
        (f"{message.sign_name} / {message.template_code} / {message.scheme_name}", ""),
        (message.biz_id, ""),
        (_delivery(emulator.receipts.get(message.biz_id)), "delivery"),
    )
    tds = "".join(f'<td class="{cls}">{html.escape(value)}</td>' for value, cls in cells)
    return f'<tr class="{"newest" if newest else ""}">{tds}</tr>'


async def outbox_page(request: web.Request) -> web.Response:
    """The outbox as an HTML page for a person; it reloads itself every 2 s."""
    emulator = request.app[EMULATOR]
    items = emulator.store.messages()
    rows = "\n".join(_row(emulator, m, i == 0) for i, m in enumerate(items))
    if not items:
        rows = '<tr><td colspan="7">No messages yet.</td></tr>'
    page = _page_template().replace("{{count}}", str(len(items))).replace("{{rows}}", rows)
    return web.Response(text=page, content_type="text/html", charset="utf-8")


def add_routes(app: web.Application) -> None:
    """Register the control routes; every one but health behind the guard."""
    app.router.add_get(f"{PREFIX}/health", health)
    app.router.add_get(f"{PREFIX}/messages", guarded(messages))
    app.router.add_post(f"{PREFIX}/reset", guarded(reset))
    app.router.add_get(f"{PREFIX}/faults", guarded(get_faults))
    app.router.add_put(f"{PREFIX}/faults", guarded(put_faults))
    app.router.add_get(f"{PREFIX}/receipts", guarded(get_receipts))
    app.router.add_put(f"{PREFIX}/receipts", guarded(put_receipts))
    app.router.add_get(f"{PREFIX}/stats", guarded(stats))
    app.router.add_get(f"{PREFIX}/", guarded(outbox_page))
    app.router.add_get(PREFIX, guarded(outbox_page))
