"""One Redis connection pool per process, built from the settings."""

from __future__ import annotations

import os
import threading

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from producers.settings import get_settings

#: One immediate retry on a broken connection (a pooled socket Redis closed when it restarted), none
#: on a timeout: redis-py's default (10 retries with backoff) would hold a web request for seconds
#: against a Redis that is down, where smsq must answer ServiceUnavailable within the timeout.
_RETRY_BROKEN_CONNECTION_ONCE = Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,))

_lock = threading.Lock()
_clients: dict[tuple[int, str], redis.Redis] = {}


def get_redis(url: str | None = None) -> redis.Redis:
    """A thread-safe client for ``url`` (default: the settings' ``redis_url``), created once per
    process; a forked child gets its own pool instead of sharing its parent's sockets."""
    settings = get_settings()
    url = url or settings.redis_dsn
    key = (os.getpid(), url)
    client = _clients.get(key)
    if client is None:
        with _lock:
            client = _clients.get(key)
            if client is None:
                client = redis.Redis.from_url(
                    url,
                    decode_responses=True,
                    socket_connect_timeout=settings.redis_connect_timeout_s,
                    socket_timeout=settings.redis_timeout_s,
                    retry=_RETRY_BROKEN_CONNECTION_ONCE,
                    health_check_interval=30,
                )
                _clients[key] = client
    return client


def reset_clients() -> None:
    """Forget the Redis clients (see :func:`producers.process.reset_caches`)."""
    with _lock:
        _clients.clear()
