"""The Celery application: ``celery -A worker.app worker -Q smsq.default`` runs it as usual."""

from __future__ import annotations

from celery import Celery

from producers.settings import get_settings
from worker.celeryconfig import celery_settings

app = Celery("smsq")
app.conf.update(celery_settings(get_settings()))
# Import the task and signal handlers so the worker registers them.
app.conf.update(include=["worker.tasks", "worker.rpc_tasks", "worker.signals"])
# Heartbeat and recovery sweep on the worker's timer (named, so only a worker loads it).
app.steps["worker"].add("worker.recovery:RecoveryStep")
