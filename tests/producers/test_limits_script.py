"""The abuse-limit script agrees with a plain model over simulated time, and never admits more
than its rules allow."""

from __future__ import annotations

import itertools
import uuid

import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from producers.limits import parse_rates
from producers.store import LimitRule, RecordStore
from tests.producers.limits_model import LimitsModel

KEYS = ("smsq:limit:phone:13511112222", "smsq:limit:ip:10.0.0.1")
#: The same subjects' logs under an older hash key (a rotation): read by the rules, never written.
OLDER_KEYS = ("smsq:limit:phone:older", "smsq:limit:ip:older")

rates = st.lists(st.tuples(st.integers(1, 5), st.sampled_from([1, 2, 5, 10, 60])), min_size=1, max_size=3)


@st.composite
def rule_sets(draw: st.DrawFn) -> tuple[LimitRule, ...]:
    rules = []
    for key, older in list(zip(KEYS, OLDER_KEYS, strict=True))[: draw(st.integers(1, 2))]:
        rotating = draw(st.booleans())
        for limit, window in draw(rates):
            rules.append(
                LimitRule(
                    f"{key[11:]}:{limit}/{window}s",
                    key,
                    limit,
                    window,
                    monitor=draw(st.booleans()),
                    older_keys=(older,) if rotating else (),
                )
            )
    return tuple(rules)


def admit(
    store: RecordStore, rules: tuple[LimitRule, ...], now_ms: int
) -> tuple[str, str, int, tuple[str, ...]]:
    answer = store.admit(
        ticket=uuid.uuid4().hex,
        sealed_phone="sealed",
        masked="135****2222",
        purpose="login",
        lane="default",
        rules=rules,
        useful_life_s=60,
        record_ttl_s=600,
        now_ms=now_ms,
    )
    if answer.outcome == "limited":
        return ("limited", answer.rule, round(answer.retry_after_s * 1000), ())
    return ("ok", "", 0, answer.monitored)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rules=rule_sets(),
    steps=st.lists(st.integers(0, 20_000), min_size=1, max_size=40),
    older=st.lists(st.integers(-60_000, 0), max_size=6),
)
def test_the_script_and_the_model_agree_on_every_answer(
    redis_client: redis.Redis, rules: tuple[LimitRule, ...], steps: list[int], older: list[int]
) -> None:
    redis_client.delete(*KEYS, *OLDER_KEYS)
    store = RecordStore(redis_client)
    model = LimitsModel()
    start = now = 1_700_000_000_000
    for n, offset in enumerate(older):  # admissions counted under the older hash key
        for key in OLDER_KEYS:
            redis_client.zadd(key, {f"old-{n}": start + offset})
            model.logs.setdefault(key, []).append(start + offset)
    admitted: list[int] = []
    for step in steps:
        now += step
        expected = model.admit(rules, now)
        assert admit(store, rules, now) == expected
        if expected[0] == "ok":
            admitted.append(now)
    # no window of any enforced rule ever holds more admissions than its limit
    for rule in rules:
        if rule.monitor:
            continue
        window = rule.window_s * 1000
        earlier = [start + o for o in older] if rule.older_keys else []
        for t in admitted:
            assert sum(1 for a in admitted + earlier if t - window < a <= t) <= rule.limit
    for key in OLDER_KEYS:  # an older log is read, never written
        assert redis_client.zcard(key) == len(older)


def test_the_second_send_in_a_minute_and_the_sixth_in_an_hour_are_refused_until_their_time(
    redis_client: redis.Redis,
) -> None:
    key = "smsq:limit:phone:13511112222"
    rules = tuple(
        LimitRule(f"phone:{r}", key, r.limit, r.window_s) for r in parse_rates("1/minute;5/hour;10/day")
    )
    store = RecordStore(redis_client)
    t0 = 1_700_000_000_000
    assert admit(store, rules, t0)[0] == "ok"
    assert admit(store, rules, t0 + 30_000) == ("limited", "phone:1/minute", 30_000, ())
    assert admit(store, rules, t0 + 59_999) == ("limited", "phone:1/minute", 1, ())
    times = [t0 + 60_000 * i for i in range(1, 5)]  # sends 2..5, a minute apart
    for t in times:
        assert admit(store, rules, t)[0] == "ok"
    sixth = t0 + 5 * 60_000
    assert admit(store, rules, sixth) == ("limited", "phone:5/hour", 3_600_000 - 5 * 60_000, ())
    assert admit(store, rules, t0 + 3_600_000)[0] == "ok"  # the first send left the hour


def test_limits_are_counted_per_subject(redis_client: redis.Redis) -> None:
    store = RecordStore(redis_client)
    for phone_key in (f"smsq:limit:phone:1351111{n:04d}" for n in itertools.islice(itertools.count(), 3)):
        rules = (LimitRule("phone:1/minute", phone_key, 1, 60),)
        assert admit(store, rules, 1_700_000_000_000)[0] == "ok"
