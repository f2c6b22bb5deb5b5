"""A kombu Redis channel that records the commands of a publish instead of running them.

Loaded on the first send (it imports kombu): see :mod:`producers.outbound`. ``_put`` and
``_put_fanout`` are the two methods where every kombu virtual transport hands a finished message to
its store; everything before them (Celery's message, kombu's envelope, the queue and topic names)
is kombu's and Celery's own. The channel never opens a socket: its Redis client is
:class:`_Offline`, so building a message is CPU work only, and the admission script stays a send's
one round trip (and its only way to fail on a Redis that is down).
"""

from __future__ import annotations

import threading
from typing import Any

from kombu.connection import Connection
from kombu.messaging import Producer
from kombu.transport import redis as kombu_redis
from kombu.utils.json import dumps

#: The commands recorded by this thread's publish in progress: ("lpush" | "publish", key, payload).
recorded = threading.local()


class _Offline:
    """The Redis client of a recording channel: kombu pings it when it opens the channel; nothing
    else may reach it."""

    def ping(self) -> bool:
        return True

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"a recording channel never talks to Redis (asked for {name})")


class _RecordingChannel(kombu_redis.Channel):
    """kombu's Redis channel, except that a finished message is recorded, not sent."""

    @property
    def client(self) -> _Offline:
        # kombu names the fanout topics by database when it builds the pool (a pool connects lazily)
        self.pool  # noqa: B018
        return _Offline()

    def _put(self, queue: str, message: dict[str, Any], **_: Any) -> None:
        priority = self._get_message_priority(message, reverse=False)
        recorded.commands.append(("lpush", self._q_for_pri(queue, priority), dumps(message)))

    def _put_fanout(self, exchange: str, message: dict[str, Any], routing_key: str, **_: Any) -> None:
        topics = (
            self._get_publish_topics(exchange, routing_key)
            if hasattr(self, "_get_publish_topics")  # kombu 5.7; 5.6 has one topic per exchange
            else [self._get_publish_topic(exchange, routing_key)]
        )
        payload = dumps(message)
        recorded.commands.extend(("publish", topic, payload) for topic in topics)


class _RecordingTransport(kombu_redis.Transport):
    Channel = _RecordingChannel


def recording_producer(broker_url: str, transport_options: dict[str, Any]) -> Producer:
    """A kombu producer whose publishes land in :data:`recorded`; it never connects to Redis."""
    connection = Connection(broker_url, transport=_RecordingTransport, transport_options=transport_options)
    return Producer(connection)  # holds the connection (and its default channel) for good
