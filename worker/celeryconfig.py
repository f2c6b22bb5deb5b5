"""Every Celery setting smsq changes from Celery's defaults, each with the reason.

Shared producer settings (broker, serialisation, visibility timeout, sent events) come from
:func:`producers.publisher.broker_options` so the two sides cannot drift apart.
"""

from __future__ import annotations

from typing import Any

from producers.constants import TASK_TIME_LIMIT_S, queue_for_lane
from producers.publisher import broker_options, broker_transport
from producers.settings import Settings

#: Hard limit of one task run (see TASK_TIME_LIMIT_S). The worker's stop grace period (compose,
#: Kubernetes) must be longer than this; ops/checks.py verifies it.
task_time_limit = TASK_TIME_LIMIT_S
#: Soft limit: raises SoftTimeLimitExceeded inside the task (prefork only) so it can record why.
task_soft_time_limit = 150


def celery_settings(settings: Settings) -> dict[str, Any]:
    """The worker's Celery configuration."""
    return {
        **broker_options(settings),
        # The send record in Redis is the status; task results would only duplicate it.
        "task_ignore_result": True,
        # Ack after the task returns, so a worker that dies mid-task does not lose the send. Safe
        # only because the task is idempotent: claim.lua refuses to send a ticket twice.
        "task_acks_late": True,
        # A child process that dies (OOM, SIGKILL) re-queues its message instead of dropping it;
        # the claim turns the redelivery into at most one SMS, and the deadline ends any loop.
        "task_reject_on_worker_lost": True,
        # Reserve one message per pool slot only, so a busy worker cannot hoard sends that another
        # worker could run, and the backlog stays visible in Redis (KEDA scales on list length).
        "worker_prefetch_multiplier": 1,
        # Leave running sends alone when the broker connection drops. Cancelling them only adds
        # loss: prefork kills the child mid-call (its SMS may be out, the send is then stuck), and
        # the thread pool cannot cancel at all (NotImplementedError ... kill_job, on every running
        # send); celery/celery#9250 is a crash on reconnection with it on. A redelivered copy
        # cannot send twice anyway: claim.lua's lease refuses it. Explicit, because Celery means
        # to turn it on by default.
        "worker_cancel_long_running_tasks_on_connection_loss": False,
        "task_time_limit": task_time_limit,
        "task_soft_time_limit": task_soft_time_limit,
        # Task events on, so Flower and exporters see every state; argsrepr keeps them masked.
        "worker_send_task_events": True,
        "task_default_queue": queue_for_lane("default"),
        # Deliver the messages of every lane queue in turn, so one busy lane cannot starve others.
        "broker_transport_options": {
            **broker_options(settings)["broker_transport_options"],
            "queue_order_strategy": "round_robin",
        },
        # On SIGTERM, wait this long for running sends before re-queueing them (soft shutdown).
        "worker_soft_shutdown_timeout": 30.0,
        # Log lines carry the task name and id (a ticket), never arguments.
        "worker_task_log_format": "%(asctime)s %(levelname)s %(task_name)s[%(task_id)s] %(message)s",
        # the producers' transport with the workaround for the crash on a Redis restart
        # (worker/transport.py, celery/kombu#582)
        **broker_transport(settings.broker_dsn, "worker.transport:Transport"),
    }
