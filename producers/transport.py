"""kombu's Redis transport, with one Redis client per channel instead of one per command.

kombu's Redis channel builds a new ``redis.Redis`` for every publish, event, ack and unacked-message
bookkeeping (``Channel.conn_or_acquire``). With redis-py 8 that object costs about 60 µs of CPU to
build (its ~170 response callbacks and hooks), often more than the command's own round trip; a sent
SMS takes five of them in a worker, a check two. The connections come from the channel's pool
either way: this channel keeps the one client built on that pool (a ``redis.Redis`` is thread-safe),
and builds a new one only when kombu replaces the pool (after a disconnection).

Selected by the ``broker_transport`` setting for a plain ``redis://`` broker
(:func:`producers.publisher.broker_options`); the worker's transport (``worker/transport.py``)
extends it. Loaded by Celery when it connects, so importing ``producers`` stays cheap.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import redis
from kombu.transport import redis as kombu_redis


class Channel(kombu_redis.Channel):
    """kombu's Redis channel, reusing one client on its pool for every synchronous command."""

    _pool_client: redis.Redis | None = None

    @contextlib.contextmanager
    def conn_or_acquire(self, client: Any = None) -> Iterator[Any]:
        if client:
            yield client
            return
        pool, reused = self.pool, self._pool_client
        if reused is None or reused.connection_pool is not pool:
            reused = self._pool_client = self._create_client()  # type: ignore[no-untyped-call]
        yield reused


class Transport(kombu_redis.Transport):
    """kombu's Redis transport with :class:`Channel`."""

    Channel = Channel
