"""``smsq send``, ``smsq check`` and ``smsq status``: the Python API from a terminal."""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from typing import Any

import click

from producers import check_code, get_status, send_code
from producers.errors import Refused, SmsqError
from producers.records import SendState


def _emit(as_json: bool, data: dict[str, Any], text: str) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, default=str) if as_json else text)


def _fail(as_json: bool, exc: SmsqError) -> None:
    data: dict[str, Any] = {"error": type(exc).__name__, "reason": exc.reason, "message": str(exc)}
    if isinstance(exc, Refused):
        data |= {"rule": exc.rule, "retry_after": exc.retry_after}
    _emit(as_json, data, f"error: {exc} ({exc.reason})")
    sys.exit(2 if isinstance(exc, Refused) else 1)


@click.command()
@click.argument("phone")
@click.option("--purpose", default="login", show_default=True)
@click.option("--lane", default="default", show_default=True)
@click.option("--client-ip", help="The end user's IP, for per-IP limits.")
@click.option("--idempotency-key", help="Repeat-safe key: the same key returns the same ticket.")
@click.option("--wait", "wait_s", type=float, default=0.0, help="Wait up to N s for a final state.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def send(
    phone: str,
    purpose: str,
    lane: str,
    client_ip: str | None,
    idempotency_key: str | None,
    wait_s: float,
    as_json: bool,
) -> None:
    """Queue a verification code to PHONE and print its ticket."""
    try:
        ticket = send_code(
            phone, purpose=purpose, lane=lane, client_ip=client_ip, idempotency_key=idempotency_key
        )
        data: dict[str, Any] = dataclasses.asdict(ticket)
        if wait_s > 0:
            deadline = time.monotonic() + wait_s
            status = get_status(ticket.id)
            while not status.state.final and time.monotonic() < deadline:
                time.sleep(0.05)
                status = get_status(ticket.id)
            data = dataclasses.asdict(status)
    except SmsqError as exc:
        _fail(as_json, exc)
        return
    _emit(as_json, data, f"{data.get('ticket') or data['id']} {data['state']} {ticket.masked_phone}")


@click.command()
@click.argument("phone")
@click.argument("code")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def check(phone: str, code: str, as_json: bool) -> None:
    """Check CODE for PHONE; exit 0 when it passed, 1 when it did not."""
    try:
        result = check_code(phone, code)
    except SmsqError as exc:
        _fail(as_json, exc)
        return
    text = "passed" if result.passed else f"not passed ({result.attempts_left} attempts left)"
    _emit(as_json, dataclasses.asdict(result), text)
    sys.exit(0 if result.passed else 1)


@click.command()
@click.argument("ticket", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def status(ticket: str | None, as_json: bool) -> None:
    """Show where the send TICKET is, or, without a ticket, an overview of the fleet."""
    if ticket is None:
        from smsq.cli.overview import print_overview  # noqa: PLC0415

        print_overview(as_json)
        return
    try:
        record = get_status(ticket)
    except SmsqError as exc:
        _fail(as_json, exc)
        return
    data = dataclasses.asdict(record)
    lines = [f"{name:>20}: {value}" for name, value in data.items() if value is not None]
    _emit(as_json, data, "\n".join(lines))
    sys.exit(0 if record.state is not SendState.FAILED else 1)
