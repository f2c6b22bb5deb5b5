"""A worker serving only the check queue tracks no unacked messages; any other worker keeps it."""

from __future__ import annotations

from types import SimpleNamespace

import pytest


@pytest.mark.parametrize(
    ("queues", "emulated"),
    [
        (["smsq.check"], False),
        ("smsq.check", False),
        (["smsq.default"], True),
        (["smsq.default", "smsq.check"], True),
    ],
)
def test_only_a_check_worker_turns_ack_emulation_off(queues: object, emulated: bool) -> None:
    from worker.signals import _check_worker_tracks_no_unacked

    conf = SimpleNamespace(broker_transport_options={"visibility_timeout": 600})
    _check_worker_tracks_no_unacked(conf=conf, options={"queues": queues})
    assert conf.broker_transport_options.get("ack_emulation", True) is emulated
    assert conf.broker_transport_options["visibility_timeout"] == 600


def test_every_host_exports_how_many_checks_wait_for_a_check_worker(redis_client: object) -> None:
    import redis

    from producers.constants import CHECK_QUEUE
    from worker.metrics import RedisCollector

    assert isinstance(redis_client, redis.Redis)
    redis_client.delete(CHECK_QUEUE)
    redis_client.rpush(CHECK_QUEUE, "a", "b", "c")
    try:
        families = {family.name: family for family in RedisCollector(redis_client, ["default"]).collect()}
        assert [sample.value for sample in families["smsq_check_queue_depth"].samples] == [3.0]
    finally:
        redis_client.delete(CHECK_QUEUE)
