"""One Redis connection pool per process, built from the settings."""

from __future__ import annotations

import os
import threading

import redis

from producers.settings import get_settings

_lock = threading.Lock()
_clients: dict[tuple[int, str], redis.Redis] = {}


def get_redis(url: str | None = None) -> redis.Redis:
    """A thread-safe client for ``url`` (default: the settings' ``redis_url``), created once per
    process; a forked child gets its own pool instead of sharing its parent's sockets."""
    url = url or get_settings().redis_dsn
    key = (os.getpid(), url)
    client = _clients.get(key)
    if client is None:
        with _lock:
            client = _clients.get(key)
            if client is None:
                client = redis.Redis.from_url(
                    url,
                    decode_responses=True,
                    socket_connect_timeout=2,
                    socket_timeout=5,
                    health_check_interval=30,
                )
                _clients[key] = client
    return client


def reset_clients() -> None:
    """Forget the Redis clients (see :func:`producers.process.reset_caches`)."""
    with _lock:
        _clients.clear()
