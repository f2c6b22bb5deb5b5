"""The bare-Celery baseline of the throughput benchmark: smsq's worker settings, a no-op task.

``python -m celery -A smsq.bench.noop_app worker -Q bench.noop -P threads ...``

The task only counts itself done (one ``INCR``), so the benchmark can tell when every task ran;
everything else — broker, serialisation, late ack, prefetch, events — is ``worker.celeryconfig``'s.
"""

from __future__ import annotations

from celery import Celery

from producers.connections import get_redis
from producers.settings import get_settings
from worker.celeryconfig import celery_settings

NOOP_TASK = "bench.noop"
NOOP_QUEUE = "bench.noop"
DONE_KEY = "bench:noop:done"

app = Celery("smsq-bench-noop")
app.conf.update(celery_settings(get_settings()))
app.conf.update(task_default_queue=NOOP_QUEUE)


@app.task(name=NOOP_TASK)  # type: ignore[untyped-decorator]  # Celery ships no type hints
def noop(ticket: str) -> None:
    """Do nothing but count: the cheapest task a worker with smsq's settings can run."""
    del ticket
    get_redis().incr(DONE_KEY)
