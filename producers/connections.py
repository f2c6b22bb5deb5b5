"""One Redis connection pool per process (and one asyncio client per event loop), built from the settings."""

from __future__ import annotations

import asyncio
import os
import threading
import weakref
from typing import Any

import redis
import redis.asyncio
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.retry import Retry

from producers.settings import get_settings

#: One immediate retry on a broken connection (a pooled socket Redis closed when it restarted), none
#: on a timeout: redis-py's default (10 retries with backoff) would hold a web request for seconds
#: against a Redis that is down, where smsq must answer ServiceUnavailable within the timeout.
_RETRY_BROKEN_CONNECTION_ONCE = Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,))

_lock = threading.Lock()
_clients: dict[tuple[int, str], redis.Redis] = {}
#: redis.asyncio connections belong to the loop that opened them: one client per loop and URL,
#: forgotten with the loop.
_loop_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, redis.asyncio.Redis]] = (
    weakref.WeakKeyDictionary()
)


def _options() -> dict[str, Any]:
    settings = get_settings()
    return {
        "decode_responses": True,
        "socket_connect_timeout": settings.redis_connect_timeout_s,
        "socket_timeout": settings.redis_timeout_s,
        "health_check_interval": 30,
    }


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
                client = redis.Redis.from_url(url, retry=_RETRY_BROKEN_CONNECTION_ONCE, **_options())
                _clients[key] = client
    return client


def get_async_redis(url: str | None = None) -> redis.asyncio.Redis:
    """The ``redis.asyncio`` client for ``url`` (default: the settings' ``redis_url``) of the running
    event loop, created once per loop, with the sync client's timeouts and retry."""
    url = url or get_settings().redis_dsn
    clients = _loop_clients.setdefault(asyncio.get_running_loop(), {})
    client = clients.get(url)
    if client is None:
        retry = AsyncRetry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,))
        client = clients[url] = redis.asyncio.Redis.from_url(url, retry=retry, **_options())
    return client


def reset_clients() -> None:
    """Forget the Redis clients (see :func:`producers.process.reset_caches`)."""
    with _lock:
        _clients.clear()
    _loop_clients.clear()
