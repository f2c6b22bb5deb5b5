"""The shared upstream limiter: ``worker/lua/gcra.lua`` on a real Redis, against a Python model.

Most tests pass a simulated ``now_us`` so they can reason about time without sleeping; the tests
that use the server clock assert counts, never durations.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from producers.constants import lane_limiter_name, limiter_key, penalty_key
from producers.errors import InvalidArgument, ServiceUnavailable, UnknownLane
from producers.limits import Rate
from producers.settings import Settings
from tests.worker.limiter_model import GcraModel, max_in_window
from worker.limiter import (
    ACCOUNT_LIMITER,
    Decision,
    Limiter,
    UpstreamLimiter,
)

T0 = 1_700_000_000_000_000  # a realistic server time in µs: large enough to catch float formatting
SECOND = 1_000_000


def make(client: redis.Redis, account: Rate | None = None, burst: int = 1, **lanes: Rate) -> UpstreamLimiter:
    return UpstreamLimiter(client, lanes or {"a": Rate(50, 1)}, account, burst=burst)


def state(client: redis.Redis) -> dict[str, str | None]:
    """Every limiter key's value: the whole limiter state, for before/after comparisons."""
    return {key: client.get(key) for key in sorted(client.keys("smsq:gcra*"))}


# --- answers ----------------------------------------------------------------------------------------


def test_an_idle_lane_lets_the_first_send_go_now(redis_client: redis.Redis) -> None:
    assert make(redis_client).acquire("a", 0, now_us=T0) == Decision(0.0, True, None)


def test_the_next_token_is_one_interval_later_and_names_the_limiter_that_waits(
    redis_client: redis.Redis,
) -> None:
    limiter = make(redis_client)
    limiter.acquire("a", 0, now_us=T0)
    assert limiter.acquire("a", 0, now_us=T0) == Decision(0.02, False, "lane:a")
    assert limiter.acquire("a", 0, now_us=T0 + 20_000).go_now


def test_a_wait_within_max_wait_reserves_the_token_so_the_caller_never_asks_again(
    redis_client: redis.Redis,
) -> None:
    limiter = make(redis_client)
    answers = [limiter.acquire("a", 0.5, now_us=T0) for _ in range(27)]
    assert [answer.reserved for answer in answers] == [True] * 26 + [False]
    assert [answer.go_after_s for answer in answers[:26]] == pytest.approx([i * 0.02 for i in range(26)])
    assert answers[26].go_after_s == pytest.approx(0.52)


def test_a_wait_beyond_max_wait_reserves_nothing(redis_client: redis.Redis) -> None:
    limiter = make(redis_client, account=Rate(400, 1))
    limiter.acquire("a", 0, now_us=T0)
    before = state(redis_client)
    answer = limiter.acquire("a", 0.01, now_us=T0)
    assert not answer.reserved
    assert answer.go_after_s == pytest.approx(0.02)
    assert state(redis_client) == before


def test_when_the_account_cap_refuses_the_lane_keeps_its_token(redis_client: redis.Redis) -> None:
    limiter = make(redis_client, account=Rate(1, 1), a=Rate(50, 1), b=Rate(50, 1))
    assert limiter.acquire("a", 0, now_us=T0).go_now
    lane_b_before = redis_client.get(limiter_key(lane_limiter_name("b")))
    answer = limiter.acquire("b", 0, now_us=T0)
    assert answer == Decision(1.0, False, ACCOUNT_LIMITER)
    assert redis_client.get(limiter_key(lane_limiter_name("b"))) == lane_b_before is None
    assert limiter.acquire("b", 0, now_us=T0 + SECOND).go_now


def test_a_reserved_token_moves_every_limiter_to_the_time_it_is_used(redis_client: redis.Redis) -> None:
    # The lane makes the caller wait 20 ms (a wait it sleeps for); the account's token is then used
    # 20 ms late too, so the account must count it at that time, not at the time of the call.
    limiter = UpstreamLimiter(redis_client, {"a": Rate(50, 1)}, Rate(1000, 1), max_wait_s=1)
    limiter.acquire("a", 1, now_us=T0)
    assert limiter.acquire("a", 1, now_us=T0) == Decision(0.02, True, "lane:a")
    assert int(redis_client.get(limiter_key(ACCOUNT_LIMITER)) or 0) == T0 + 20_000 + 1_000


def test_a_burst_lets_that_many_go_at_once_after_idling_and_no_more(redis_client: redis.Redis) -> None:
    limiter = make(redis_client, burst=5, a=Rate(10, 1))
    answers = [limiter.acquire("a", 0, now_us=T0) for _ in range(6)]
    assert [answer.go_now for answer in answers] == [True] * 5 + [False]
    assert answers[5].go_after_s == pytest.approx(0.1)


def test_an_unknown_lane_is_refused(redis_client: redis.Redis) -> None:
    with pytest.raises(UnknownLane):
        make(redis_client).acquire("nope")


def test_a_negative_max_wait_is_refused(redis_client: redis.Redis) -> None:
    with pytest.raises(InvalidArgument):
        make(redis_client).acquire("a", -1)


def test_an_unreachable_redis_is_reported_as_service_unavailable() -> None:
    client = redis.Redis(port=1, socket_connect_timeout=0.5)
    with pytest.raises(ServiceUnavailable):
        make(client).acquire("a")


def test_the_limiter_is_built_from_the_settings(redis_client: redis.Redis) -> None:
    configured = Settings(lanes={"login": "100/second", "bulk": "3/10minutes"}, account_rate="400/second")
    limiter = UpstreamLimiter.from_settings(configured, redis_client)
    assert limiter.limiters("login") == (Limiter("lane:login", 10_000), Limiter(ACCOUNT_LIMITER, 2_500))
    assert limiter.limiters("bulk")[0] == Limiter("lane:bulk", 200 * SECOND)
    assert limiter.max_wait_s == configured.limiter_max_sleep_s
    assert UpstreamLimiter.from_settings(Settings(account_rate=""), redis_client).limiters("default") == (
        Limiter("lane:default", 20_000),
    )


def test_an_interval_is_rounded_up_so_the_limiter_is_never_faster_than_the_rate() -> None:
    assert Limiter.from_rate("x", Rate(3, 1)).interval_us == 333_334


# --- server clock and expiry --------------------------------------------------------------------------


def test_state_keys_expire_when_their_tat_passes_so_idle_limiters_vanish(redis_client: redis.Redis) -> None:
    limiter = make(redis_client, account=Rate(1, 10), a=Rate(1, 1))
    assert limiter.acquire("a", 0).go_now
    assert 0 < redis_client.pttl(limiter_key(lane_limiter_name("a"))) <= 1_000
    assert 9_000 < redis_client.pttl(limiter_key(ACCOUNT_LIMITER)) <= 10_000


def test_simulated_time_sets_no_ttl(redis_client: redis.Redis) -> None:
    make(redis_client).acquire("a", 0, now_us=T0)
    assert redis_client.pttl(limiter_key(lane_limiter_name("a"))) == -1


def test_the_server_clock_is_used_when_no_time_is_given(redis_client: redis.Redis) -> None:
    limiter = make(redis_client, a=Rate(1, 3600))
    assert limiter.acquire("a", 0).go_now
    seconds, micros = redis_client.time()
    tat = int(redis_client.get(limiter_key(lane_limiter_name("a"))) or 0)
    assert 0 < tat - (seconds * SECOND + micros) <= 3600 * SECOND


# --- throttling feedback ------------------------------------------------------------------------------


def test_a_penalty_halves_the_lane_rate_and_lifting_it_restores_the_rate(redis_client: redis.Redis) -> None:
    limiter = make(redis_client, account=Rate(400, 1))
    limiter.penalize("a", 60)
    assert limiter.lane_state("a").slowdown == 2.0
    assert 0 < redis_client.pttl(penalty_key(lane_limiter_name("a"))) <= 60_000
    limiter.acquire("a", 0, now_us=T0)
    assert limiter.acquire("a", 0, now_us=T0).go_after_s == pytest.approx(0.04)
    redis_client.delete(penalty_key(lane_limiter_name("a")))  # what the key's expiry does
    limiter.acquire("a", 0, now_us=T0 + 40_000)
    assert limiter.acquire("a", 0, now_us=T0 + 40_000).go_after_s == pytest.approx(0.02)
    assert limiter.lane_state("a").slowdown == 1.0


def test_a_penalty_slows_only_its_lane(redis_client: redis.Redis) -> None:
    limiter = make(redis_client, account=Rate(1000, 1), a=Rate(50, 1), b=Rate(50, 1))
    limiter.penalize("a", 60, factor=4)
    granted = {"a": 0, "b": 0}
    for step in range(100):  # one simulated second, a call every 10 ms in each lane
        for lane in granted:
            granted[lane] += limiter.acquire(lane, 0, now_us=T0 + step * 10_000).go_now
    assert granted == {"a": 13, "b": 50}


def test_a_penalty_lifts_itself_when_its_key_expires(redis_client: redis.Redis) -> None:
    limiter = make(redis_client)
    limiter.penalize("a", 0.05)
    for _ in range(200):  # wait for Redis to expire the key; no assertion on how long that takes
        if limiter.lane_state("a").slowdown == 1.0:
            break
        time.sleep(0.05)
    assert limiter.lane_state("a").slowdown == 1.0


def test_a_penalty_needs_a_factor_of_at_least_one(redis_client: redis.Redis) -> None:
    with pytest.raises(InvalidArgument):
        make(redis_client).penalize("a", 10, factor=0.5)


# --- properties over simulated time -------------------------------------------------------------------

LIMITERS = (Limiter("lane:a", 20_000, 1), Limiter("lane:b", 7_000, 3), Limiter(ACCOUNT_LIMITER, 5_000, 2))
# Mostly short steps on a 1 ms grid, so that uses from different calls coincide (where limiters
# interact and a miscount shows); sometimes a long idle.
STEPS = st.integers(0, 25).map(lambda ms: ms * 1_000) | st.integers(0, 3 * SECOND)
MAX_WAITS = st.sampled_from([0, 1, 20_000, 100_000, 500_000]) | st.integers(0, 10 * SECOND)
SUBSETS = st.lists(st.sampled_from(LIMITERS), min_size=1, max_size=3, unique=True)


def assert_within_rate(uses: dict[str, list[int]], limiters: Sequence[Limiter] = LIMITERS) -> None:
    """No window of length L holds more than L / interval + burst uses of any limiter."""
    for item in limiters:
        for length_us in (0, item.interval_us, 10 * item.interval_us, SECOND):
            allowed = length_us // item.interval_us + item.burst
            assert max_in_window(uses[item.name], length_us) <= allowed, (item, length_us)


# A small world where interactions are likely: a slow limiter that makes callers wait, a fast one
# with a burst that they also take from and that is sometimes penalized; calls on a 1 ms grid.
SLOW, FAST = Limiter("slow", 4_000, 1), Limiter("fast", 1_000, 2)


@settings(max_examples=1_000, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([0, 0, 1_000, 2_000, 4_000]),
            st.sampled_from([[SLOW, FAST], [FAST, SLOW], [FAST], [SLOW]]),
            st.sampled_from([0, 4_000, 10 * SECOND]),
            st.sampled_from([1.0, 1.0, 2.0]),
        ),
        max_size=30,
    )
)
def test_the_model_never_lets_more_through_than_rate_times_length_plus_burst(
    calls: list[tuple[int, list[Limiter], int, float]],
) -> None:
    # Fast and Redis-free, so it can search widely; the state machine below ties Redis to the model.
    model, now = GcraModel(), T0
    uses: dict[str, list[int]] = {"slow": [], "fast": []}
    for step_us, chosen, max_wait_us, fast_factor in calls:
        now += step_us
        model.penalties["fast"] = fast_factor
        wait_us, reserved, _ = model.take(chosen, max_wait_us, now)
        for item in chosen if reserved else ():
            uses[item.name].append(now + wait_us)
    assert_within_rate(uses, (SLOW, FAST))


class LimiterAgainstModel(RuleBasedStateMachine):
    """Random calls, clock steps and penalties; Redis and the model must agree at every step."""

    def __init__(self, client: redis.Redis) -> None:
        super().__init__()
        stale = client.keys("smsq:gcra*")
        if stale:
            client.delete(*stale)
        self.client = client
        # The lanes only name the penalty keys for penalize(); take() is given LIMITERS explicitly.
        self.limiter = UpstreamLimiter(client, {"a": Rate(50, 1), "b": Rate(1, 1)})
        self.model = GcraModel()
        self.now = T0
        self.uses: dict[str, list[int]] = {item.name: [] for item in LIMITERS}

    @rule(step_us=STEPS)
    def time_passes(self, step_us: int) -> None:
        self.now += step_us

    @rule(chosen=SUBSETS, max_wait_us=MAX_WAITS)
    def take(self, chosen: list[Limiter], max_wait_us: int) -> None:
        before = state(self.client)
        answer = self.limiter.take(chosen, max_wait_us / SECOND, now_us=self.now)
        wait_us, reserved, binding = self.model.take(chosen, max_wait_us, self.now)
        assert answer == Decision(wait_us / SECOND, reserved, chosen[binding - 1].name if binding else None)
        assert reserved == (wait_us <= max_wait_us)
        if reserved:
            for item in chosen:
                self.uses[item.name].append(self.now + wait_us)
        else:
            assert state(self.client) == before

    @rule(lane=st.sampled_from(["a", "b"]), factor=st.sampled_from([1.0, 1.5, 2.0, 3.0]))
    def penalize(self, lane: str, factor: float) -> None:
        self.limiter.penalize(lane, 3600, factor)
        self.model.penalties[lane_limiter_name(lane)] = factor

    @precondition(lambda self: self.model.penalties)
    @rule(lane=st.sampled_from(["a", "b"]))
    def penalty_expires(self, lane: str) -> None:
        self.client.delete(penalty_key(lane_limiter_name(lane)))
        self.model.penalties.pop(lane_limiter_name(lane), None)

    @invariant()
    def redis_holds_the_models_state(self) -> None:
        stored = {item.name: self.client.get(limiter_key(item.name)) for item in LIMITERS}
        assert {name: int(value) for name, value in stored.items() if value is not None} == self.model.state()

    @invariant()
    def no_window_holds_more_than_rate_times_length_plus_burst(self) -> None:
        assert_within_rate(self.uses)


def test_redis_and_the_model_agree_on_every_answer_and_never_exceed_the_rate(
    redis_client: redis.Redis,
) -> None:
    run_state_machine_as_test(
        lambda: LimiterAgainstModel(redis_client),
        settings=settings(
            max_examples=100,
            stateful_step_count=40,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )


def test_a_saturated_lane_never_exceeds_its_rate_in_any_one_second_window(redis_client: redis.Redis) -> None:
    # Ten simulated seconds of callers arriving every 3 ms, each willing to sleep up to 0.5 s.
    limiter = make(redis_client, account=Rate(400, 1))
    uses = []
    for step in range(3_333):
        now = T0 + step * 3_000
        answer = limiter.acquire("a", 0.5, now_us=now)
        if answer.reserved:
            uses.append(now + round(answer.go_after_s * SECOND))
    assert len(uses) >= 10 * 50
    busiest = max(sum(1 for use in uses if start <= use < start + SECOND) for start in uses)
    assert busiest == 50  # at 50/second: no one-second window ever holds more (the issue allows 55)


# --- the server clock, many callers -------------------------------------------------------------------


def test_two_hundred_concurrent_callers_in_threads_get_no_more_than_the_rate_allows(
    redis_client: redis.Redis,
) -> None:
    limiter = make(redis_client)

    def server_now() -> int:
        seconds, micros = redis_client.time()
        return int(seconds) * SECOND + int(micros)

    started = server_now()
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda _: limiter.acquire("a", 0), range(200)))
    elapsed_us = server_now() - started
    granted = sum(answer.go_now for answer in answers)
    assert granted >= 1
    # Whatever the machine's speed: one token up front, then one per 20 ms of server time.
    assert granted <= 1 + elapsed_us // 20_000 + 1
    assert all(answer.reserved == answer.go_now for answer in answers)


_CALLER = textwrap.dedent(
    """
    import json, sys
    from concurrent.futures import ThreadPoolExecutor
    import redis
    from producers.limits import Rate
    from worker.limiter import UpstreamLimiter

    url, calls = sys.argv[1], int(sys.argv[2])
    limiter = UpstreamLimiter(redis.Redis.from_url(url), {"slow": Rate(1, 60)}, Rate(400, 1), burst=3)
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda _: limiter.acquire("slow", 0), range(calls)))
    print(json.dumps(sum(answer.go_now for answer in answers)))
    """
)


def test_callers_in_several_processes_share_one_budget(redis_url: str, redis_client: redis.Redis) -> None:
    # 1 token a minute with a burst of 3: however the 200 calls interleave, exactly 3 go.
    callers = [
        subprocess.Popen(
            [sys.executable, "-c", _CALLER, redis_url, str(calls)], stdout=subprocess.PIPE, text=True
        )
        for calls in (67, 67, 66)
    ]
    granted = [json.loads(caller.communicate(timeout=120)[0]) for caller in callers]
    assert all(caller.returncode == 0 for caller in callers)
    assert sum(granted) == 3


# --- borrowing: a confirming retry goes ahead of a lane's backlog ------------------------------------


def test_a_borrowed_token_goes_ahead_of_the_lanes_reservations_and_still_counts_against_its_rate(
    redis_client: redis.Redis,
) -> None:
    limiter = make(redis_client, Rate(400, 1), a=Rate(1, 1))
    slots = [limiter.acquire("a", 60) for _ in range(10)]  # ten sends parked, one a second
    assert all(d.reserved for d in slots) and slots[-1].go_after_s > 8
    borrowed = limiter.borrow("a", 0.5)
    assert borrowed.reserved and borrowed.go_after_s < 0.5  # the account cap alone set its wait
    later = limiter.acquire("a", 60)
    # the next reservation moved back one interval more than the ten before it: 11 s, not 10 s
    assert later.go_after_s > slots[-1].go_after_s + 1.5


def test_a_borrowed_token_still_waits_for_the_account_cap(redis_client: redis.Redis) -> None:
    limiter = make(redis_client, Rate(1, 2), a=Rate(1, 1))
    assert limiter.acquire("a", 0).go_now
    before = state(redis_client)
    refused = limiter.borrow("a", 0.5)  # the account's next token is 2 s away
    assert not refused.reserved and refused.limiter == ACCOUNT_LIMITER
    assert state(redis_client) == before


def test_a_slot_reserved_beyond_the_sleep_is_the_lanes_alone_so_other_lanes_still_go_now(
    redis_client: redis.Redis,
) -> None:
    limiter = UpstreamLimiter(
        redis_client, {"slow": Rate(1, 1), "fast": Rate(50, 1)}, Rate(400, 1), max_wait_s=0.5
    )
    parked = [limiter.acquire("slow", 60, now_us=T0) for _ in range(30)]  # a backlog, 1 a second
    assert parked[-1] == Decision(29.0, True, "lane:slow")
    assert redis_client.get(limiter_key(ACCOUNT_LIMITER)) == str(T0 + 2_500)  # the first send only
    assert limiter.acquire("fast", 0.5, now_us=T0).go_after_s < 0.01
    # when a parked send's slot comes, it takes its account token then
    assert limiter.account_token(0.5, now_us=T0 + 29 * SECOND).go_now
