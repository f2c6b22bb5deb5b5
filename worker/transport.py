"""The worker's broker transport: producers/transport.py's, with a crash on a Redis restart worked around.

With Celery 5.7 and kombu 5.7, a worker that holds unacknowledged messages when its Redis connection
drops (Redis killed and restarted) exits with ``Unrecoverable error: AttributeError("'NoneType'
object has no attribute 'hostname'")``. It is Celery/kombu, not smsq (``smsq chaos redis-restart``
reproduces it with every smsq hook idle); the path, read from the installed sources and traced:

1. kombu's Redis ``Channel.close()`` first reads the pending BRPOP reply (added by celery/kombu#1733
   so that a popped message is not lost). On a dead connection that read raises a ConnectionError
   *before* the channel is marked closed, so its unacked messages stay on it.
2. Celery's ``Consumer.on_connection_error_after_connected`` calls ``connection.collect()``: the
   error above is swallowed, closing the pidbox (or gossip) channel fails on its queue delete and
   ends the loop, and then the transport is detached (``transport.client = None``). Celery then
   calls ``connection.close()``.
3. That closes the task channel a second time. Its QoS restores the unacked messages through a new
   client pool built from ``transport.client``, now None: AttributeError in ``_connparams``. That is
   not a connection error, so Celery's ``ignore_errors`` re-raises it and the worker dies. A worker
   with nothing unacked has nothing to restore, which is why idle workers survive.

The same AttributeError path (a channel used after its transport's client was cleared) is
celery/kombu#582 (https://github.com/celery/kombu/issues/582); late acks of sends that were running
during the outage take it as well. The workaround: a channel whose transport is gone raises the
broker's own ``ConnectionError``, which every caller in Celery and kombu already treats as "broker
unavailable". The messages then stay in Redis's ``unacked`` hash, where the visibility timeout hands
them back, exactly as for a worker that died.
"""

from __future__ import annotations

from typing import Any

import redis

from producers import transport


class Channel(transport.Channel):
    """The producers' Redis channel (one client per channel, see producers/transport.py), refusing
    with ConnectionError once its transport is detached."""

    def _connparams(self, asynchronous: bool = False) -> dict[str, Any]:
        transport = self.connection
        if transport is None or transport.client is None:
            raise redis.ConnectionError("the broker connection was closed (transport detached)")
        params: dict[str, Any] = super()._connparams(asynchronous=asynchronous)  # type: ignore[no-untyped-call]
        return params


class Transport(transport.Transport):
    """The producers' Redis transport with :class:`Channel`; selected by ``broker_transport``."""

    Channel = Channel
