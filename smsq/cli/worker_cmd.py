"""``smsq worker``: run a Celery worker for the configured lanes (``celery -A worker.app worker``),
or with ``--check`` a check worker: the dedicated worker of the check queue, so that no backlog of
sends ever delays a check (Celery on Redis reads a worker's queues in turn, never by priority).

The worker runs in this process (``app.worker_main``) on the app object imported from the installed
``worker`` package, so a ``worker.py`` or ``producers/`` in the current directory cannot shadow it:
Celery's ``-A`` lookup imports through the current directory, this command never does.
"""

from __future__ import annotations

import os
import pathlib
import sys
import tempfile
import time

import click

from producers.constants import CHECK_QUEUE, NO_CLOUD_PROBES, queue_for_lane
from producers.keyring import get_keyring
from producers.process import reset_caches
from producers.settings import get_settings
from smsq.devstack.processes import worker_arguments


@click.command(context_settings={"ignore_unknown_options": True})
@click.option("--queues", "-Q", help="Comma-separated queues (default: every configured lane's queue).")
@click.option(
    "--check",
    "check_worker",
    is_flag=True,
    help=f"Be a check worker: serve only {CHECK_QUEUE}, the queue SMSQ_CHECK_MODE=worker needs.",
)
@click.option("--concurrency", "-c", default=16, show_default=True, help="Pool slots per worker process.")
@click.option(
    "--pool",
    "-P",
    default="threads",
    show_default=True,
    type=click.Choice(["threads", "prefork", "gevent", "solo"]),
    help="Celery pool; sends are I/O-bound, so threads is the default.",
)
@click.option("--metrics-port", type=int, help="Port of this host's /metrics (0 disables).")
@click.option("--loglevel", "-l", default="INFO", show_default=True)
@click.option(
    "--healthcheck", is_flag=True, help="Exit 0 when this host's worker heartbeat is fresh, else 1."
)
@click.option("--max-age", default=30.0, show_default=True, help="Heartbeat age (s) --healthcheck accepts.")
@click.argument("celery_args", nargs=-1, type=click.UNPROCESSED)
def worker(
    queues: str | None,
    check_worker: bool,
    concurrency: int,
    pool: str,
    metrics_port: int | None,
    loglevel: str,
    healthcheck: bool,
    max_age: float,
    celery_args: tuple[str, ...],
) -> None:
    """Run a Celery worker for smsq; extra arguments go to ``celery worker`` unchanged.

    A bad configuration stops it before it connects, so it never takes a send it cannot deliver."""
    settings = get_settings()
    if healthcheck:
        beat = pathlib.Path(settings.heartbeat_file)
        fresh = beat.exists() and time.time() - beat.stat().st_mtime < max_age
        click.echo("alive" if fresh else "no recent heartbeat")
        sys.exit(0 if fresh else 1)
    get_keyring()  # no data keys: a worker could open no send it takes, so it does not start
    for name, value in NO_CLOUD_PROBES.items():
        os.environ.setdefault(name, value)
    if metrics_port is not None:
        os.environ["SMSQ_METRICS_PORT"] = str(metrics_port)
    if pool == "prefork" and "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        # one file per pool process, added up by this host's /metrics
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="smsq-metrics-")
    reset_caches()  # the settings again, with the variables set above
    lanes = get_settings().lanes
    if check_worker and queues:
        raise click.UsageError(f"--check and --queues exclude each other (--check means -Q {CHECK_QUEUE})")
    if check_worker:
        queue_list = [CHECK_QUEUE]
    else:
        queue_list = queues.split(",") if queues else [queue_for_lane(lane) for lane in lanes]
    from worker.app import app  # noqa: PLC0415 - only this command loads Celery's worker side

    arguments = worker_arguments(queues=queue_list, concurrency=concurrency, pool=pool, loglevel=loglevel)
    app.worker_main(["worker", *arguments, *celery_args])
