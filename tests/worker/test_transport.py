"""The worker's broker transport survives what kills a busy Celery 5.7 worker on a Redis restart.

The crash is reproduced at the kombu level, on a redis-server of the test's own that it kills:
a task channel holding an unacked message with a BRPOP pending, a pidbox-like channel with an
auto-delete fanout queue, then exactly what Celery's consumer does after the connection drops
(``collect()``, then ``close()`` under ``ignore_errors``). See worker/transport.py.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from kombu import Connection, Exchange, Queue
from kombu.common import ignore_errors
from kombu.transport import redis as kombu_redis

from producers.settings import Settings
from smsq.devstack.processes import Stack, free_port
from worker.celeryconfig import celery_settings
from worker.transport import Transport


@pytest.fixture
def doomed_redis(tmp_path: Path) -> Iterator[tuple[str, Stack]]:
    """A redis-server of this test alone (so it may be killed)."""
    stack = Stack(log_dir=tmp_path)
    port = free_port()
    stack.redis_server(port)
    yield f"redis://127.0.0.1:{port}/0", stack
    stack.stop()


def _busy_consumer_loses_redis(url: str, transport: type, stack: Stack) -> Connection:
    """A connection in the state of a busy worker the moment Redis dies."""
    connection = Connection(url, transport=transport)
    tasks = connection.default_channel
    queue = Queue("smsq.default", Exchange("smsq.default", "direct"), "smsq.default")
    queue(tasks).declare()
    producer = connection.Producer(tasks)
    producer.publish({"ticket": "t1"}, exchange=queue.exchange, routing_key="smsq.default")
    held: list[object] = []
    # late ack: the message stays unacked
    connection.Consumer([queue], tasks, callbacks=[lambda body, message: held.append(body)]).consume()
    connection.drain_events(timeout=2)
    assert len(held) == 1
    with pytest.raises(socket.timeout):
        connection.drain_events(timeout=0.2)  # leaves the next BRPOP pending, as the event loop does
    # a second channel with an auto-delete fanout queue, like Celery's pidbox and gossip
    control = connection.channel()
    broadcast = Queue("node.pidbox", Exchange("pidbox", "fanout"), auto_delete=True)
    connection.Consumer([broadcast], control, no_ack=True).consume()
    stack.stop()  # SIGTERM then SIGKILL: Redis is gone
    return connection


def _what_celery_does_after_the_connection_dropped(connection: Connection) -> None:
    """celery.worker.consumer.Consumer.on_connection_error_after_connected (5.7)."""
    with contextlib.suppress(Exception):  # Celery swallows everything here
        connection.collect(socket_timeout=1.0)
    ignore_errors(connection, connection.close)


def test_kombus_plain_redis_transport_still_raises_attribute_error_after_a_connection_loss(
    doomed_redis: tuple[str, Stack],
) -> None:
    # The upstream bug the workaround is for. When this stops raising, kombu fixed it: remove
    # worker/transport.py and its broker_transport setting.
    url, stack = doomed_redis
    connection = _busy_consumer_loses_redis(url, kombu_redis.Transport, stack)
    with pytest.raises(AttributeError, match="hostname"):
        _what_celery_does_after_the_connection_dropped(connection)


def test_the_workers_transport_survives_the_same_connection_loss(doomed_redis: tuple[str, Stack]) -> None:
    url, stack = doomed_redis
    connection = _busy_consumer_loses_redis(url, Transport, stack)
    _what_celery_does_after_the_connection_dropped(connection)  # no exception escapes


def test_only_a_plain_redis_broker_gets_the_workers_transport() -> None:
    def transport_for(url: str) -> object:
        return celery_settings(Settings(broker_url=url)).get("broker_transport")

    assert transport_for("redis://127.0.0.1:6379/0") == "worker.transport:Transport"
    # kombu derives TLS defaults from rediss:// and other options from other schemes
    assert transport_for("rediss://127.0.0.1:6380/0") is None
    assert transport_for("amqp://guest@127.0.0.1//") is None


def test_running_sends_are_not_cancelled_when_the_broker_connection_drops() -> None:
    settings = celery_settings(Settings())
    assert settings["worker_cancel_long_running_tasks_on_connection_loss"] is False
