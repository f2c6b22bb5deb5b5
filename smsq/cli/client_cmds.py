"""``smsq send``, ``smsq check`` and ``smsq status``: the Python API from a terminal.

Exit statuses (:class:`smsq.cli.exits.ExitCode`): 0 it worked, 1 a definite "no" (the check did not
pass, the send failed or did not become final within ``--wait``), 2 bad input or configuration,
3 refused by a limit, 4 Redis, the broker or the provider failed.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import click

from producers import check_code, get_status, send_code
from producers.errors import ConfigurationError, Refused, SmsqError
from producers.records import SendState, as_json
from smsq.cli.exits import ExitCode, exit_code_for

_DELIVERED = frozenset({SendState.SENT, SendState.VERIFIED})


def _emit(json_output: bool, data: dict[str, Any], text: str) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, default=str) if json_output else text)


def _fail(json_output: bool, exc: SmsqError) -> None:
    if isinstance(exc, ConfigurationError):
        raise exc  # the command group prints it in one line and exits 2
    data: dict[str, Any] = {"error": type(exc).__name__, "reason": exc.reason, "message": str(exc)}
    if isinstance(exc, Refused):
        data |= {"rule": exc.rule, "retry_after": exc.retry_after}
    _emit(json_output, data, f"error: {exc} ({exc.reason})")
    sys.exit(exit_code_for(exc))


@click.command()
@click.argument("phone")
@click.option("--purpose", default="login", show_default=True)
@click.option("--lane", default="default", show_default=True)
@click.option("--client-ip", help="The end user's IP, for per-IP limits.")
@click.option("--idempotency-key", help="Repeat-safe key: the same key returns the same ticket.")
@click.option(
    "--wait",
    "wait_s",
    type=float,
    default=0.0,
    help="Wait up to N s for a final state; exit 0 only when it is sent (1 when not, or not yet).",
)
@click.option("--json", "json_output", is_flag=True, help="Print JSON.")
def send(
    phone: str,
    purpose: str,
    lane: str,
    client_ip: str | None,
    idempotency_key: str | None,
    wait_s: float,
    json_output: bool,
) -> None:
    """Queue a verification code to PHONE and print its ticket."""
    try:
        ticket = send_code(
            phone, purpose=purpose, lane=lane, client_ip=client_ip, idempotency_key=idempotency_key
        )
        data = as_json(ticket)
        code = ExitCode.OK
        if wait_s > 0:
            deadline = time.monotonic() + wait_s
            status = get_status(ticket.id)
            while not status.state.final and time.monotonic() < deadline:
                time.sleep(0.05)
                status = get_status(ticket.id)
            data = as_json(status)
            code = ExitCode.OK if status.state in _DELIVERED else ExitCode.NO
    except SmsqError as exc:
        _fail(json_output, exc)
        return
    _emit(json_output, data, f"{data['ticket']} {data['state']} {ticket.masked_phone}")
    sys.exit(code)


@click.command()
@click.argument("phone")
@click.argument("code")
@click.option("--client-ip", help="The end user's IP, for per-IP check limits.")
@click.option("--purpose", help="The purpose the code was sent for (a code of another purpose fails).")
@click.option("--json", "json_output", is_flag=True, help="Print JSON.")
def check(phone: str, code: str, client_ip: str | None, purpose: str | None, json_output: bool) -> None:
    """Check CODE for PHONE; exit 0 when it passed, 1 when it did not."""
    try:
        result = check_code(phone, code, client_ip=client_ip, purpose=purpose)
    except SmsqError as exc:
        _fail(json_output, exc)
        return
    text = "passed" if result.passed else f"not passed ({result.attempts_left} attempts left)"
    _emit(json_output, as_json(result), text)
    sys.exit(ExitCode.OK if result.passed else ExitCode.NO)


@click.command()
@click.argument("ticket", required=False)
@click.option("--json", "json_output", is_flag=True, help="Print JSON.")
def status(ticket: str | None, json_output: bool) -> None:
    """Show where the send TICKET is (exit 1 when it failed or expired), or, without a ticket, an
    overview of the fleet."""
    if ticket is None:
        from smsq.cli.overview import print_overview  # noqa: PLC0415

        try:
            print_overview(json_output)
        except SmsqError as exc:
            _fail(json_output, exc)
        return
    try:
        record = get_status(ticket)
    except SmsqError as exc:
        _fail(json_output, exc)
        return
    data = as_json(record)
    lines = [f"{name:>20}: {value}" for name, value in data.items() if value is not None]
    _emit(json_output, data, "\n".join(lines))
    sys.exit(ExitCode.NO if record.state in (SendState.FAILED, SendState.EXPIRED) else ExitCode.OK)
