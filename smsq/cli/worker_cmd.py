"""``smsq worker``: run a Celery worker for the configured lanes (``celery -A worker.app worker``)."""

from __future__ import annotations

import os
import pathlib
import sys
import tempfile
import time

import click

from producers.constants import queue_for_lane
from producers.settings import get_settings


@click.command(context_settings={"ignore_unknown_options": True})
@click.option("--queues", "-Q", help="Comma-separated queues (default: every configured lane's queue).")
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
    concurrency: int,
    pool: str,
    metrics_port: int | None,
    loglevel: str,
    healthcheck: bool,
    max_age: float,
    celery_args: tuple[str, ...],
) -> None:
    """Run a Celery worker for smsq; extra arguments go to ``celery worker`` unchanged."""
    settings = get_settings()
    if healthcheck:
        beat = pathlib.Path(settings.heartbeat_file)
        fresh = beat.exists() and time.time() - beat.stat().st_mtime < max_age
        click.echo("alive" if fresh else "no recent heartbeat")
        sys.exit(0 if fresh else 1)
    env = dict(os.environ)
    env.setdefault("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
    env.setdefault("ALIBABA_CLOUD_CLI_PROFILE_DISABLED", "true")
    if metrics_port is not None:
        env["SMSQ_METRICS_PORT"] = str(metrics_port)
    if pool == "prefork" and "PROMETHEUS_MULTIPROC_DIR" not in env:
        # one file per pool process, added up by this host's /metrics
        env["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="smsq-metrics-")
    queue_list = queues or ",".join(queue_for_lane(lane) for lane in settings.lanes)
    argv = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "worker.app",
        "worker",
        "-Q",
        queue_list,
        "-c",
        str(concurrency),
        "-P",
        pool,
        "--loglevel",
        loglevel,
        *celery_args,
    ]
    os.execve(sys.executable, argv, env)  # noqa: S606 - replace this process: signals reach Celery
