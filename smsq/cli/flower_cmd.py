"""``smsq flower``: Flower for the smsq Celery app, behind basic auth.

Flower is an admin console: its API can revoke tasks, shut down workers and send tasks. So this
command refuses to listen on anything but loopback unless ``SMSQ_FLOWER_BASIC_AUTH`` (``user:password``)
is set. Flower's ``/healthcheck`` and ``/metrics`` stay unauthenticated by Flower's design: keep the port
on an internal network (ops/runbook.md, "Flower security").

It replaces itself with ``celery -A worker.app flower --port=… --address=…`` (``os.execvp``), so
signals reach Flower directly. The secrets travel in the environment, not on the command line where
``ps`` would show them: the broker URL (it carries the Redis password) as ``CELERY_BROKER_URL``,
which is exactly what ``celery --broker`` sets, and the credentials as ``FLOWER_BASIC_AUTH``, which
Flower reads like ``--basic-auth``.
"""

from __future__ import annotations

import os
import sys

import click

from producers.settings import get_settings
from smsq.net import is_loopback

#: Flower's own default port.
DEFAULT_PORT = 5555
#: Tasks Flower keeps in memory. Flower 2's default (100 000) is its most reported memory complaint.
DEFAULT_MAX_TASKS = 10_000
#: Forget a worker this long after it went offline: KEDA and ``--scale`` add and remove workers all day.
DEFAULT_PURGE_OFFLINE_WORKERS_S = 600


def valid_basic_auth(value: str) -> bool:
    """True for ``user:password`` pairs, comma separated, with neither part empty (Flower's format)."""
    pairs = value.split(",")
    return all(user and password for user, _, password in (pair.partition(":") for pair in pairs))


def flower_argv(*, address: str, port: int, max_tasks: int, purge_offline_workers_s: int) -> list[str]:
    """The command line that runs Flower for ``worker.app``, without any secret in it."""
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "worker.app",
        "flower",
        f"--address={address}",
        f"--port={port}",
        f"--max_tasks={max_tasks}",
        f"--purge_offline_workers={purge_offline_workers_s}",
    ]


@click.command()
@click.option("--address", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--basic-auth",
    envvar="SMSQ_FLOWER_BASIC_AUTH",
    show_envvar=True,
    default=None,
    help="user:password (several pairs comma separated). Prefer the environment variable: "
    "a value given here is visible in the process list.",
)
@click.option(
    "--max-tasks",
    default=DEFAULT_MAX_TASKS,
    show_default=True,
    type=click.IntRange(min=100),
    help="Tasks Flower keeps in memory.",
)
@click.option(
    "--purge-offline-workers",
    "purge_offline_workers_s",
    default=DEFAULT_PURGE_OFFLINE_WORKERS_S,
    show_default=True,
    type=click.IntRange(min=1),
    help="Seconds after which an offline worker disappears from Flower.",
)
def flower(
    address: str, port: int, basic_auth: str | None, max_tasks: int, purge_offline_workers_s: int
) -> None:
    """Run Flower (Celery's web console) for the smsq workers, behind basic auth."""
    if basic_auth is not None and not valid_basic_auth(basic_auth):
        raise click.BadParameter("expected user:password", param_hint="SMSQ_FLOWER_BASIC_AUTH")
    if not basic_auth and not is_loopback(address):
        raise click.UsageError(
            f"refusing to serve Flower on {address or 'every interface'} without authentication: "
            "set SMSQ_FLOWER_BASIC_AUTH=user:password (Flower can revoke tasks and stop workers)"
        )
    env = dict(os.environ, CELERY_BROKER_URL=get_settings().broker_dsn)
    env.pop("FLOWER_BASIC_AUTH", None)  # only the value validated above may switch auth on or off
    if basic_auth:
        env["FLOWER_BASIC_AUTH"] = basic_auth
    argv = flower_argv(
        address=address, port=port, max_tasks=max_tasks, purge_offline_workers_s=purge_offline_workers_s
    )
    shown = address or "every interface"
    click.echo(f"smsq flower: {shown}, port {port}, basic auth {'on' if basic_auth else 'off'}")
    os.execvpe(argv[0], argv, env)  # noqa: S606 - replaces this process with Flower, by design
