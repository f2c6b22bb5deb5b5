"""``smsq admin``: operators' overrides, each logged with the masked number and counted.

``smsq admin unlock PHONE`` lifts the lockout of the number's live code: its wrong answers are
forgotten, so the code takes ``SMSQ_CHECK_MAX_FAILURES`` answers again (for a user on the phone
with support who mistyped, say). The count is ``smsq_admin_actions_total{action="unlock"}`` on every
worker's ``/metrics``.

``smsq admin breakers`` lists the pumping breakers tripped now (prefix, purpose, time left);
``smsq admin unblock PREFIX`` lifts every trip of a 7-digit prefix by hand and forgets its repeats
(``action="unblock"``). See ops/runbook.md, "The pumping breaker tripped".
"""

from __future__ import annotations

import logging

import click

from producers.connections import get_redis
from producers.errors import ConfigurationError, SmsqError
from producers.keyring import get_keyring
from producers.logs import log_event
from producers.phone import mask_phone, normalize_phone
from producers.pumping import PREFIX_DIGITS, breaker_id, trips, unblock
from producers.settings import get_settings
from producers.store import store_for
from smsq.cli.exits import exit_code_for


@click.group()
def admin() -> None:
    """Operators' overrides (logged with the masked number, counted in the workers' metrics)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")


@admin.command()
@click.argument("phone")
@click.option("--purpose", help="The purpose of the code (its scheme); default: the default scheme.")
def unlock(phone: str, purpose: str | None) -> None:
    """Lift the lockout of PHONE's live code: its wrong answers are forgotten."""
    try:
        number = normalize_phone(phone)
        settings = get_settings()
        scheme = settings.default_scheme if purpose is None else settings.purpose(purpose).scheme_name
        ticket, used = store_for(get_redis()).unlock(get_keyring().live_code_keys(number, scheme))
    except ConfigurationError:
        raise  # the command group prints it in one line and exits 2
    except SmsqError as exc:
        click.echo(f"error: {exc} ({exc.reason})", err=True)
        raise SystemExit(exit_code_for(exc)) from None
    masked = mask_phone(number)
    if ticket is None:
        log_event("admin.unlock", phone=masked, result="no_live_code")
        click.echo(f"{masked} has no live code: nothing to unlock")
        return
    log_event("admin.unlock", phone=masked, ticket=ticket, wrong_answers_forgotten=used)
    click.echo(f"unlocked {masked}: {used} answer(s) forgotten on ticket {ticket}")


@admin.command()
def breakers() -> None:
    """List the pumping breakers tripped now: prefix, purpose, mode, time left, and the id the
    logs name the breaker by."""
    try:
        tripped = trips(get_redis(), get_keyring())
    except ConfigurationError:
        raise
    except SmsqError as exc:
        click.echo(f"error: {exc} ({exc.reason})", err=True)
        raise SystemExit(exit_code_for(exc)) from None
    if not tripped:
        click.echo("no pumping breaker is tripped")
    for trip in tripped:
        lifts = f"lifts in {trip.left_s:.0f} s"
        click.echo(f"{trip.prefix}  {trip.purpose}  {trip.mode}  {lifts}  breaker={trip.breaker}")


@admin.command(name="unblock")
@click.argument("prefix")
def unblock_prefix(prefix: str) -> None:
    """Lift the pumping breaker of PREFIX (7 digits, e.g. 1351111) for every purpose."""
    if not (len(prefix) == PREFIX_DIGITS and prefix.isdigit()):
        click.echo(f"error: PREFIX must be the first {PREFIX_DIGITS} digits of a number", err=True)
        raise SystemExit(2)
    try:
        lifted = unblock(get_redis(), get_keyring(), prefix)
    except ConfigurationError:
        raise
    except SmsqError as exc:
        click.echo(f"error: {exc} ({exc.reason})", err=True)
        raise SystemExit(exit_code_for(exc)) from None
    # the breaker's id, never the prefix (see producers.pumping.breaker_id)
    log_event("admin.unblock", breaker=breaker_id(get_keyring(), prefix), purposes=",".join(lifted) or "none")
    if not lifted:
        click.echo(f"{prefix} is not tripped: nothing to unblock")
        return
    click.echo(f"unblocked {prefix}: {', '.join(lifted)}")
