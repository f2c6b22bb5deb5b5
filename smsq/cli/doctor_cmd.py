"""``smsq doctor``: is this setup able to send and check codes? One line per check, with what to do.

The checks, in order: the configuration, Redis, the broker, the workers, the credentials and the
provider endpoint. The provider check makes one real, harmless call: a ``CheckSmsVerifyCode`` of a
made-up code for China Mobile's service number 13800138000, which has no code from you; any answer
from the provider proves the endpoint, the network path and the key. A check that depends on a
failed one is skipped, so the first failure is the one to fix. Exit 0 when nothing failed.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass

import click
import redis

from producers import errors
from producers.constants import CHECK_QUEUE, queue_for_lane
from producers.settings import Settings, get_settings, redacted_url
from smsq.cli.exits import ExitCode

#: A number that is nobody's handset (China Mobile's service line), for the harmless provider call.
PROBE_NUMBER = "13800138000"
PROBE_CODE = "000000"
TIMEOUT_S = 2.0


@dataclass(frozen=True, slots=True)
class Finding:
    """The verdict of one check."""

    status: str  # "ok", "warn", "FAIL" or "skip"
    detail: str


def _ok(detail: str) -> Finding:
    return Finding("ok", detail)


def _fail(detail: str) -> Finding:
    return Finding("FAIL", detail)


def check_redis(settings: Settings) -> Finding:
    """Redis answers, and is set up to keep what it is given."""
    where = redacted_url(settings.redis_dsn)
    client = redis.Redis.from_url(
        settings.redis_dsn, socket_connect_timeout=TIMEOUT_S, socket_timeout=TIMEOUT_S
    )
    try:
        with contextlib.closing(client):
            client.ping()
            info = client.info()
    except (redis.RedisError, OSError) as exc:
        return _fail(f"{where}: {type(exc).__name__}; start Redis or point SMSQ_REDIS_URL at it")
    policy = info.get("maxmemory_policy", "?")
    durable = bool(info.get("aof_enabled"))
    detail = f"{where} answers (Redis {info.get('redis_version', '?')}, AOF {'on' if durable else 'off'}, "
    detail += f"maxmemory-policy {policy})"
    if policy != "noeviction" or not durable:
        return Finding("warn", f"{detail}; production wants appendonly yes and noeviction")
    return _ok(detail)


def check_broker(settings: Settings) -> Finding:
    """The Celery broker accepts a connection (it is Redis itself unless SMSQ_BROKER_URL is set)."""
    if settings.broker_url is None:
        return _ok("the broker is the Redis above")
    from producers.publisher import producer_app  # noqa: PLC0415

    where = redacted_url(settings.broker_dsn)
    try:
        with producer_app().connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=TIMEOUT_S)
    except Exception as exc:  # kombu raises a different type per transport
        return _fail(f"{where}: {type(exc).__name__}; start the broker or fix SMSQ_BROKER_URL")
    return _ok(f"{where} accepts connections")


def check_workers(settings: Settings) -> Finding:
    """At least one worker consumes every lane's queue, and a check worker the check queue (worker mode)."""
    from producers.publisher import producer_app  # noqa: PLC0415

    try:
        replies = producer_app().control.inspect(timeout=TIMEOUT_S).active_queues() or {}
    except Exception as exc:  # the broker failed in between
        return _fail(f"could not ask the workers ({type(exc).__name__})")
    if not replies:
        return _fail("no worker answered; start one with `smsq worker`")
    consumed = {queue["name"] for queues in replies.values() for queue in queues}
    missing = [lane for lane in settings.lanes if queue_for_lane(lane) not in consumed]
    if missing:
        return _fail(f"{len(replies)} worker(s), none on lane(s) {', '.join(missing)}; start `smsq worker`")
    if settings.check_mode == "worker" and CHECK_QUEUE not in consumed:
        return _fail(
            f"{len(replies)} worker(s), no check worker: every check fails; start `smsq worker --check`"
        )
    checks = ", and a check worker" if settings.check_mode == "worker" else ""
    return _ok(f"{len(replies)} worker(s) answered, every lane has a consumer{checks}")


def check_credentials(settings: Settings) -> Finding:
    """An access key is configured (or the default chain will be tried); none is needed on a web
    host in worker mode."""
    if _keyless_web_tier(settings):
        return _ok("none here, none needed: SMSQ_CHECK_MODE=worker, only the workers hold the key")
    if settings.access_key_id is None or settings.access_key_secret is None:
        return Finding(
            "warn",
            "no ALIBABA_CLOUD_ACCESS_KEY_ID/_SECRET: the credentials chain (RAM role, profile) will be tried",
        )
    key_id = settings.access_key_id.get_secret_value()
    return _ok(f"access key {key_id[:4]}**** from the environment")


def check_data_keys(settings: Settings) -> Finding:
    """The keys that keep phone numbers out of Redis are set (their form was checked at load)."""
    from producers.keyring import Keyring  # noqa: PLC0415

    try:
        Keyring.from_settings(settings)
    except errors.ConfigurationError as exc:
        return _fail(str(exc))
    hashes, seals = len(settings.hash_keys), len(settings.encryption_keys)
    rotating = " (rotating: older keys still read)" if hashes > 1 or seals > 1 else ""
    return _ok(f"{hashes} hash key(s), {seals} encryption key(s){rotating}")


def _keyless_web_tier(settings: Settings) -> bool:
    """A web host in worker mode without a key: it never calls Alibaba (run doctor on a worker host)."""
    return settings.check_mode == "worker" and not settings.has_static_keys


def check_provider(settings: Settings) -> Finding:
    """One real, harmless CheckSmsVerifyCode: the endpoint answers and accepts the key."""
    if _keyless_web_tier(settings):
        return _ok("not called from here (worker mode); run `smsq doctor` on a worker host to check it")
    from producers.provider import DypnsapiProvider  # noqa: PLC0415 - the SDK loads only here

    endpoint = f"{settings.aliyun_protocol}://{settings.aliyun_endpoint}"
    # the credentials chain logs a traceback per source it tries; the verdict below says it in one line
    logging.getLogger("alibabacloud_credentials").setLevel(logging.CRITICAL)
    try:
        DypnsapiProvider(settings).check(PROBE_NUMBER, PROBE_CODE)
    except errors.ProviderPermanent as exc:
        return _fail(f"{endpoint} refused the call: {exc} ({exc.reason}); check the key and its RAM policy")
    except errors.ProviderError as exc:
        return _fail(f"{endpoint} did not answer properly: {exc}; check the endpoint and the network")
    return _ok(f"{endpoint} answered a harmless CheckSmsVerifyCode with this key")


#: name, check, the checks it needs to have passed
CHECKS: list[tuple[str, Callable[[Settings], Finding], tuple[str, ...]]] = [
    ("redis", check_redis, ()),
    ("broker", check_broker, ("redis",)),
    ("workers", check_workers, ("redis", "broker")),
    ("data-keys", check_data_keys, ()),
    ("credentials", check_credentials, ()),
    ("provider", check_provider, ()),
]


def _line(status: str, name: str, detail: str) -> str:
    return f"{status:<5} {name:<13} {detail}"


@click.command()
def doctor() -> None:
    """Check the configuration, Redis, the broker, the workers, the data keys, the credentials and the
    provider."""
    try:
        settings = get_settings()
    except errors.ConfigurationError as exc:
        click.echo(_line("FAIL", "configuration", f"{exc}; fix that variable"))
        sys.exit(ExitCode.INVALID)
    lanes = ", ".join(f"{lane} {rate}" for lane, rate in settings.lanes.items())
    click.echo(_line("ok", "configuration", f"lanes {lanes}; provider {settings.aliyun_endpoint}"))
    failed: set[str] = set()
    for name, check, needs in CHECKS:
        blocked = [need for need in needs if need in failed]
        finding = Finding("skip", f"needs {', '.join(blocked)}") if blocked else check(settings)
        if finding.status in ("FAIL", "skip"):
            failed.add(name)
        click.echo(_line(finding.status, name, finding.detail))
    sys.exit(ExitCode.NO if failed else ExitCode.OK)
