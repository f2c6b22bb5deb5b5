"""The emulator's command line, shared by ``python -m smsq.emulator`` and ``smsq emulator``."""

from __future__ import annotations

import asyncio
import secrets

import click

from smsq.emulator.catalog import DEFAULT_SIGN_NAMES
from smsq.emulator.config import (
    CONTROL_TOKEN_ENV,
    DEFAULT_HOST,
    DEFAULT_PORT,
    MIN_CONTROL_TOKEN_CHARS,
    EmulatorConfig,
)
from smsq.emulator.faults import FaultSettings
from smsq.emulator.receipts import ReceiptSettings
from smsq.emulator.server import serve

_DEFAULTS = FaultSettings()
_RECEIPTS = ReceiptSettings()


def _keys(ids: tuple[str, ...], secrets_: tuple[str, ...], pairs: tuple[str, ...]) -> dict[str, str]:
    if len(ids) != len(secrets_):
        raise click.UsageError("give --access-key-id and --access-key-secret the same number of times")
    keys = dict(zip(ids, secrets_, strict=True))
    for pair in pairs:
        key_id, sep, secret = pair.partition(":")
        if not (sep and key_id and secret):
            raise click.UsageError(f"--key wants ID:SECRET, got {pair!r}")
        keys[key_id] = secret
    return keys


def _receipt_settings(options: dict[str, object]) -> ReceiptSettings:
    changes = {name.removeprefix("receipt_"): value for name, value in options.items()}
    changes["undelivered_prefixes"] = changes.pop("undelivered_prefix")  # a tuple, from multiple=True
    try:
        return _RECEIPTS.updated(changes)
    except ValueError as error:
        raise click.UsageError(f"receipts: {error}") from None


def _rate(name: str) -> click.Option:
    return click.Option(
        [f"--{name.replace('_', '-')}"],
        type=click.FloatRange(0, 1),
        default=0.0,
        show_default=True,
        help=f"probability of {name.removesuffix('_rate').replace('_', ' ')} per request",
    )


@click.command(name="emulator")
@click.option(
    "--host", default=DEFAULT_HOST, show_default=True, help="address to bind (loopback unless you mean it)"
)
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=int)
@click.option("--access-key-id", "key_ids", multiple=True, help="AccessKey id (repeatable, paired in order)")
@click.option("--access-key-secret", "key_secrets", multiple=True, help="AccessKey secret (repeatable)")
@click.option("--key", "key_pairs", multiple=True, metavar="ID:SECRET", help="a key pair (repeatable)")
@click.option(
    "--sign-name",
    "sign_names",
    multiple=True,
    help=f"accepted sign name (repeatable; default: {', '.join(DEFAULT_SIGN_NAMES)})",
)
@click.option("--seed", type=int, default=None, help="seed faults, codes and receipts so runs repeat")
@click.option("--latency-ms", type=click.FloatRange(0), default=0.0, show_default=True)
@click.option("--jitter-ms", type=click.FloatRange(0), default=0.0, show_default=True)
@click.option(
    "--hang-s",
    type=click.FloatRange(0),
    default=_DEFAULTS.hang_s,
    show_default=True,
    help="how long a hung response is held back",
)
@click.option(
    "--rate-limit",
    type=click.FloatRange(0),
    default=_DEFAULTS.rate_limit,
    show_default=True,
    help="requests/s per AccessKey before Throttling.User (0 = unlimited)",
)
@click.option(
    "--retry-after-ms",
    type=click.IntRange(1),
    default=None,
    help="send x-acs-retry-after on Throttling.User (the SDK then raises ThrottlingException)",
)
@click.option(
    "--daily-limit",
    type=click.IntRange(0),
    default=_DEFAULTS.daily_limit,
    show_default=True,
    help="accepted sends per number per day before BUSINESS_LIMIT_CONTROL (0 = unlimited)",
)
@click.option(
    "--receipt-url", default=None, metavar="URL", help="push delivery receipts here (none: no pushes)"
)
@click.option(
    "--receipt-delay-ms",
    type=click.FloatRange(0),
    default=_RECEIPTS.delay_ms,
    show_default=True,
    help="from a send to its receipt's first push",
)
@click.option(
    "--receipt-batch-size",
    type=click.IntRange(1),
    default=_RECEIPTS.batch_size,
    show_default=True,
    help="receipts per push at most",
)
@click.option(
    "--receipt-timeout-ms",
    type=click.FloatRange(0, min_open=True),
    default=_RECEIPTS.timeout_ms,
    show_default=True,
    help='the receiver must answer {"code": 0} within this',
)
@click.option(
    "--receipt-retry-scale",
    type=click.FloatRange(0, min_open=True),
    default=_RECEIPTS.retry_scale,
    show_default=True,
    help="multiplies the 1/5/10-minute retry schedule (0.001: 60/300/600 ms)",
)
@click.option(
    "--receipt-undelivered-prefix",
    multiple=True,
    metavar="DIGITS",
    help="numbers starting with this never receive (MK:0001); repeatable",
)
@click.option(
    "--control-token",
    envvar=CONTROL_TOKEN_ENV,
    default=None,
    metavar="TOKEN",
    show_envvar=True,
    help="require Authorization: Bearer TOKEN on /_emulator/* (without: loopback clients only)",
)
def emulator(
    host: str,
    port: int,
    key_ids: tuple[str, ...],
    key_secrets: tuple[str, ...],
    key_pairs: tuple[str, ...],
    sign_names: tuple[str, ...],
    seed: int | None,
    latency_ms: float,
    jitter_ms: float,
    hang_s: float,
    rate_limit: float,
    retry_after_ms: int | None,
    daily_limit: int,
    control_token: str | None,
    **options: object,
) -> None:
    """Run a local Dypnsapi (2017-05-25) endpoint the official SDK cannot tell from Alibaba."""
    receipts = _receipt_settings({k: v for k, v in options.items() if k.startswith("receipt_")})
    rates = {k: v for k, v in options.items() if not k.startswith("receipt_")}
    if control_token is not None and len(control_token) < MIN_CONTROL_TOKEN_CHARS:
        raise click.UsageError(f"--control-token must be at least {MIN_CONTROL_TOKEN_CHARS} characters")
    keys = _keys(key_ids, key_secrets, key_pairs)
    if not keys:
        key_id, secret = f"emulator-{secrets.token_hex(4)}", secrets.token_urlsafe(24)
        keys[key_id] = secret
        click.echo(f"emulator: no key given, generated --access-key-id {key_id} --access-key-secret {secret}")
    try:
        faults = FaultSettings(
            latency_ms=latency_ms,
            jitter_ms=jitter_ms,
            hang_s=hang_s,
            rate_limit=rate_limit or None,
            retry_after_ms=retry_after_ms,
            daily_limit=daily_limit or None,
        ).updated(rates)
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    config = EmulatorConfig(
        keys=keys,
        host=host,
        port=port,
        sign_names=frozenset(sign_names or DEFAULT_SIGN_NAMES),
        faults=faults,
        seed=seed,
        receipts=receipts,
        control_token=control_token,
    )
    asyncio.run(serve(config))


for _name in (
    "throttle_rate",
    "error_500_rate",
    "error_503_rate",
    "error_502_rate",
    "hang_rate",
    "drop_rate",
):
    emulator.params.append(_rate(_name))
for _name, _what in (
    ("undelivered_rate", "a receipt saying undelivered, with a carrier code"),
    ("duplicate_rate", "a receipt pushed again in a later batch"),
    ("reorder_rate", "a receipt held back behind later ones"),
    ("lost_rate", "a receipt never pushed"),
):
    emulator.params.append(
        click.Option(
            [f"--receipt-{_name.replace('_', '-')}"],
            type=click.FloatRange(0, 1),
            default=0.0,
            show_default=True,
            help=f"probability of {_what}, per accepted send",
        )
    )
