"""smsq's kombu Redis transport: one Redis client per channel, messages as kombu's own carries them.

On the real Redis: a channel's commands all reuse one client (kombu builds one per command), a
replaced pool gets a new client, and what goes through it is delivered exactly as kombu's transport
would deliver it. Producers and workers both select it for a plain ``redis://`` broker.
"""

from __future__ import annotations

import threading
import uuid

import redis
from kombu import Connection, Exchange, Queue

from producers.publisher import broker_options, producer_app
from producers.settings import Settings
from producers.transport import Channel, Transport
from worker.celeryconfig import celery_settings
from worker.transport import Channel as WorkerChannel


def _queue() -> Queue:
    name = f"test.transport.{uuid.uuid4().hex}"
    return Queue(name, Exchange(name, "direct"), name)


def test_every_synchronous_command_of_a_channel_reuses_one_client(redis_url: str) -> None:
    with Connection(redis_url, transport=Transport) as connection:
        channel = connection.default_channel
        assert isinstance(channel, Channel)
        seen = set()
        for _ in range(3):
            with channel.conn_or_acquire() as client:
                seen.add(id(client))
                assert client.connection_pool is channel.pool
        assert len(seen) == 1
        given = redis.Redis.from_url(redis_url)
        with channel.conn_or_acquire(given) as client:  # a caller's own client is used as given
            assert client is given
        given.close()


def test_a_replaced_pool_gets_a_new_client(redis_url: str) -> None:
    with Connection(redis_url, transport=Transport) as connection:
        channel = connection.default_channel
        with channel.conn_or_acquire() as before:
            pass
        channel._disconnect_pools()  # what kombu does after a connection error
        with channel.conn_or_acquire() as after:
            assert after is not before
            assert after.connection_pool is channel.pool
            assert after.ping()


def test_messages_published_from_many_threads_all_arrive_intact(redis_url: str) -> None:
    queue = _queue()
    with Connection(redis_url, transport=Transport) as connection:
        channel = connection.default_channel
        queue(channel).declare()
        producer = connection.Producer(channel)

        def publish(thread: int) -> None:
            for n in range(50):
                producer.publish({"thread": thread, "n": n}, exchange=queue.exchange, routing_key=queue.name)

        threads = [threading.Thread(target=publish, args=(t,)) for t in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        got = []
        while (message := queue(channel).get(no_ack=True)) is not None:
            got.append((message.payload["thread"], message.payload["n"]))
        assert sorted(got) == [(t, n) for t in range(8) for n in range(50)]
        queue(channel).delete()


def test_producers_and_workers_select_it_on_a_plain_redis_broker(redis_url: str) -> None:
    producers_transport = broker_options(Settings(broker_url=redis_url))["broker_transport"]
    assert producers_transport == "producers.transport:Transport"
    assert "broker_transport" not in broker_options(Settings(broker_url="amqp://guest@127.0.0.1//"))
    assert celery_settings(Settings(broker_url=redis_url))["broker_transport"] == "worker.transport:Transport"
    assert issubclass(WorkerChannel, Channel)


def test_the_producer_app_publishes_through_it(smsq_env: dict[str, str]) -> None:
    with producer_app().connection_for_write() as connection:
        assert isinstance(connection.default_channel, Channel)
