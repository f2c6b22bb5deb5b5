"""A task's Celery message (and task-sent event) as Redis commands, so an admission script queues them.

``send_code`` admits a send and queues it in one round trip: the admission script (``enqueue.lua``)
writes the record and, in the same atomic step, runs the ``LPUSH`` of the task message and the
``PUBLISH`` of its task-sent event. Nothing is written by hand: Celery's ``send_task`` builds both
exactly as it would publish them, through a kombu channel that records the last step instead of
running it (:mod:`producers.recording`). The message a worker reads is what Celery writes; what
changes is who sends it to Redis: the admission script, instead of two more round trips after it,
and never an admitted send without its message. A check in worker mode rides the same way: its
reservation (``check_begin.lua``) queues the check task for the check workers.

Only in the sync API and when the broker is the Redis store itself (the default: ``SMSQ_BROKER_URL``
unset or naming the same server and database); with another broker (RabbitMQ, another Redis), and
in ``asend_code`` and ``acheck_code`` (see :class:`RideAlong`), the task is published through Celery
after its admission (:func:`producers.publisher.publish_send`, :func:`~producers.publisher.publish_call`).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ParamSpec

from redis import connection as redis_connection

from producers.effect import Effect
from producers.publisher import broker_options, producer_app, send_options
from producers.settings import get_settings

if TYPE_CHECKING:
    from celery import Celery
    from kombu.messaging import Producer

    from producers.rpc import Call

P = ParamSpec("P")


@dataclass(frozen=True, slots=True)
class Outbound:
    """The Redis commands that publish one message: its ``LPUSH`` and its events' ``PUBLISH``es."""

    queue: str
    message: str
    #: (channel, payload) of every task-sent event Celery would publish with it.
    events: tuple[tuple[str, str], ...] = ()

    def script_args(self) -> list[str | int]:
        """As the scripts read them (``read_outbound`` in the prelude): the queue, the message, the
        count of events, their pairs."""
        return [
            self.queue,
            self.message,
            len(self.events),
            *(part for event in self.events for part in event),
        ]


def outbound_args(outbound: Outbound | None) -> list[str | int]:
    """``outbound``'s script arguments; for None, those of no message (the caller publishes it)."""
    return ["", "", 0] if outbound is None else outbound.script_args()


def rides_with_admission() -> bool:
    """True when a send's admission script queues its message: the broker is the Redis store
    (the same server and database, however the two URLs are written)."""
    settings = get_settings()
    return settings.broker_url is None or _server_and_db(settings.broker_dsn) == _server_and_db(
        settings.redis_dsn
    )


def _server_and_db(url: str) -> tuple[object, ...] | None:
    """Where a Redis URL points (redis-py's own reading of it); None for any other broker."""
    if not url.startswith(("redis://", "rediss://", "unix://")):
        return None  # RabbitMQ: never the store
    where = redis_connection.parse_url(url)  # type: ignore[no-untyped-call]
    return tuple(where.get(name) for name in ("host", "port", "path", "db", "connection_class"))


_lock = threading.Lock()


@functools.cache
def _build_producer() -> Producer:
    from producers.recording import recording_producer  # noqa: PLC0415 - loads kombu

    options = broker_options(get_settings())
    return recording_producer(options["broker_url"], options["broker_transport_options"])


def _producer() -> Producer:
    """The recording producer, built once per process (under a lock: kombu's channel set-up is not
    thread-safe; afterwards a cache hit takes no lock)."""
    if _build_producer.cache_info().currsize == 0:
        with _lock:
            return _build_producer()
    return _build_producer()


def send_outbound(ticket: str, *, lane: str, masked_phone: str, purpose: str, expires_at: float) -> Outbound:
    """The commands that queue the send of ``ticket`` on its lane, as
    :func:`producers.publisher.publish_send` would publish it. CPU work only: no I/O."""
    options = send_options(
        ticket, lane=lane, masked_phone=masked_phone, purpose=purpose, expires_at=expires_at
    )
    return _recorded(producer_app(), options)


def call_outbound(call: Call) -> Outbound:
    """The command that queues an RPC call, as :func:`producers.publisher.publish_call` would
    publish it: no task-sent event. CPU work only."""
    return _recorded(producer_app(sent_events=False), call.options())


def _recorded(app: Celery, options: dict[str, Any]) -> Outbound:
    """What ``app.send_task(**options)`` publishes, recorded instead of sent."""
    from producers.recording import recorded  # noqa: PLC0415

    commands: list[tuple[str, str, str]] = []
    recorded.commands = commands
    try:
        app.send_task(
            **options,
            producer=_producer(),
            # no queue declaration (a binding and a size query): the message goes to the queue by
            # name (kombu's anonymous exchange), and the workers declare the queues they consume
            declare=[],
        )
    finally:
        del recorded.commands
    [(_, queue, message)] = [command for command in commands if command[0] == "lpush"]
    events = tuple((topic, payload) for name, topic, payload in commands if name == "publish")
    return Outbound(queue, message, events)


class RideAlong(Effect["Outbound | None"]):
    """A message for an admission script to queue (``build(*args, **kwargs)``: :func:`send_outbound`,
    :func:`call_outbound`), or None when it is published after the admission: with another
    broker, and in the async API. ``asend_code`` would have to build the message (about 0.4 ms of
    CPU, Celery's ``send_task``) on the event loop, or on threads that then hold the GIL with
    nothing but CPU work: a burst of 100 calls stalled the loop 50-130 ms either way, against
    10-20 ms when threads publish after the admission (their socket waits give the loop its turns)."""

    def __init__(self, build: Callable[P, Outbound], /, *args: P.args, **kwargs: P.kwargs) -> None:
        self._build = functools.partial(build, *args, **kwargs)

    def run(self) -> Outbound | None:
        return self._build() if rides_with_admission() else None

    async def arun(self) -> Outbound | None:
        return None


def reset_outbound() -> None:
    """Forget the recording producer (see :func:`producers.process.reset_caches`)."""
    with _lock:
        _build_producer.cache_clear()
