"""The chaos judge on hand-made records: each finding is counted for the right reason, and only then."""

from __future__ import annotations

import itertools
from typing import Any

from smsq.chaos.faults import FaultEvent
from smsq.chaos.judge import Window, judge
from smsq.chaos.ledger import Entry, Sighting
from smsq.chaos.load import Attempt
from smsq.chaos.monitor import ProcessExit
from smsq.chaos.scenarios import SCENARIOS, Scenario

T0 = 1_000_000.0


_biz_ids = itertools.count()


def entry(ticket: str, state: str | None = "sent", reason: str | None = None, final_at: float = 5.0) -> Entry:
    """An accepted send (accepted 1 s into the scenario), seen final ``final_at`` s in."""
    e = Entry(ticket, f"1350000{ticket[-4:]}", "default", "s", T0 + 1)
    if state is not None:
        e.last = e.first_final = Sighting(state, reason, T0 + final_at)
    return e


def sms(e: Entry, out_id: str | None = None) -> dict[str, Any]:
    """An outbox message to the send's number (with its ticket as OutId unless told otherwise)."""
    return {"phone": e.phone, "out_id": e.ticket if out_id is None else out_id, "biz_id": next(_biz_ids)}


def later(e: Entry, state: str, reason: str, at: float) -> None:
    """The send was seen in another final state ``at`` s into the scenario."""
    assert e.first_final is not None
    e.changes.append((e.first_final, Sighting(state, reason, T0 + at)))


def run(
    entries: list[Entry],
    messages: list[dict[str, Any]],
    *,
    scenario: Scenario = SCENARIOS["baseline"],
    attempts: list[Attempt] | None = None,
    events: list[FaultEvent] | None = None,
    exits: list[ProcessExit] | None = None,
) -> dict[str, Any]:
    window = Window(scenario, T0, T0 + 40, T0 + 100, T0, 120.0)
    everyone = {e.ticket: e for e in entries}
    return judge(window, entries, attempts or [], messages, events or [], exits or [], everyone)


def test_a_send_with_one_sms_and_a_sent_status_breaks_nothing() -> None:
    e = entry("t0001")
    figures = run([e], [sms(e)])
    assert figures["passed"]
    assert figures["final_states"] == {"sent": 1}


def test_a_send_without_any_sms_is_lost_and_a_sent_status_for_it_is_false() -> None:
    e = entry("t0001")
    figures = run([e], [])
    assert (figures["lost"], figures["false_status"]) == (1, 1)
    assert not figures["invariants"]["lost == 0"]


def test_a_failure_that_claims_nothing_went_out_is_false_when_an_sms_did() -> None:
    claims, admits = (
        entry("t0001", "failed", "worker_lost"),
        entry("t0002", "failed", "ambiguous_unconfirmed"),
    )
    figures = run([claims, admits], [sms(claims), sms(admits)])
    assert figures["false_status"] == 1
    assert figures["examples"]["false_status"][0]["ticket"] == "t0001"
    assert figures["ambiguous_unconfirmed"] == {"total": 1, "sms_went_out": 1}


def test_two_sms_for_one_send_are_doubled_by_ticket_and_by_phone() -> None:
    by_ticket, by_phone = entry("t0001"), entry("t0002")
    figures = run([by_ticket, by_phone], [sms(by_ticket), sms(by_ticket), sms(by_phone), sms(by_phone, "")])
    assert figures["doubled"] == 2


def test_a_final_state_that_changes_later_is_flagged_but_a_reason_alone_is_not() -> None:
    flipped, reworded = entry("t0001", "failed", "worker_lost"), entry("t0002", "expired")
    later(flipped, "expired", "ambiguous_expired", 600)
    later(reworded, "expired", "deadline_passed", 600)
    figures = run([flipped, reworded], [])
    assert (figures["final_changed"], figures["reason_only_changed"]) == (1, 1)
    assert figures["examples"]["final_changed"][0]["after_s"] == 595.0


def test_a_send_lost_while_the_provider_was_never_healthy_is_not_counted() -> None:
    e = entry("t0001", "failed", "provider_unavailable")
    window = Window(SCENARIOS["provider-faults"], T0, T0 + 40, T0 + 300, T0 + 200, 120.0)
    figures = judge(window, [e], [], [], [], [], {e.ticket: e})
    assert figures["lost"] == 0


def test_refusals_while_redis_was_down_must_all_be_typed() -> None:
    outage = FaultEvent("redis-outage", T0 + 10, T0 + 30, "redis")
    attempts = [
        Attempt("13500000001", "default", T0 + 11, T0 + 16, error="ServiceUnavailable"),
        Attempt("13500000002", "default", T0 + 12, T0 + 12.5, error="ConnectionError"),
        Attempt("13500000003", "default", T0 + 50, T0 + 50.1, error="RateLimited"),
    ]
    figures = run([], [], scenario=SCENARIOS["redis-outage"], attempts=attempts, events=[outage])
    refusals = figures["refusals"]
    assert (refusals["while_redis_down"], refusals["typed"], refusals["slowest_s"]) == (2, 1, 5.0)
    assert refusals["untyped"] == {"ConnectionError": 1}
    assert refusals["outside_redis_faults"] == {"RateLimited": 1}
    assert not figures["invariants"]["every refusal typed"]


def test_kill_to_final_covers_every_send_pending_at_the_kill_and_the_held_ones() -> None:
    early, held, late, stuck = (
        entry("t0001", final_at=2),
        entry("t0002", final_at=21),
        entry("t0003", final_at=12),
        entry("t0004", state=None),
    )
    kill = FaultEvent("kill-worker", T0 + 5, T0 + 5, "host0", [42], held=["t0002"], mid_call=True)
    figures = run([early, held, late, stuck], [], scenario=SCENARIOS["kill-worker"], events=[kill])
    [k] = figures["kills"]
    assert (k["pending_at_kill"], k["bound_never_final"], k["bound_to_final_s"]) == (3, 1, None)
    assert (k["held"], k["held_to_final_s"]) == (1, 16.0)
    assert figures["unsettled"] == 1 and figures["max_kill_to_final_s"] is None


def test_a_worker_that_exited_by_itself_breaks_the_run_and_a_pool_child_is_only_counted() -> None:
    e = entry("t0001")
    exits = [
        ProcessExit(T0 + 3, "host", "host0.0@chaos", 10, 1, "CRITICAL ... Unrecoverable error"),
        ProcessExit(T0 + 4, "pool child", "host1.0@chaos", 11, None),
    ]
    figures = run([e], [sms(e)], exits=exits)
    assert not figures["invariants"]["no worker exited by itself"]
    assert figures["pool_child_exits"] == 1 and len(figures["worker_exits"]) == 1


def test_ambiguous_unconfirmed_breaks_only_the_pure_kill_scenarios() -> None:
    e = entry("t0001", "failed", "ambiguous_unconfirmed")
    assert "ambiguous_unconfirmed == 0" in run([e], [], scenario=SCENARIOS["kill-host"])["invariants"]
    assert "ambiguous_unconfirmed == 0" not in run([e], [], scenario=SCENARIOS["combined"])["invariants"]


def seen(e: Entry, at: float, state: str = "queued", runs: int = 1, slot: float | None = None) -> None:
    """The ledger saw the send ``at`` s in, with ``runs`` task runs and a rate slot ``slot`` s in."""
    sighting = Sighting(state, None, T0 + at, runs, None if slot is None else T0 + slot)
    e.history.append(sighting)
    e.last = sighting
    if sighting.final and e.first_final is None:
        e.first_final = sighting


def test_a_held_send_is_taken_over_when_another_run_takes_it_and_judged_from_its_rate_slot() -> None:
    parked, direct = entry("t0001", state=None), entry("t0002", state=None)
    seen(parked, 4, "sending", runs=1)
    seen(parked, 15, runs=2, slot=40)  # re-claimed 10 s after the kill, parked for a slot at 40 s
    seen(parked, 43, "sent", runs=3)
    seen(direct, 4, "sending", runs=1)
    seen(direct, 12, "sent", runs=2)
    kill = FaultEvent("kill-host", T0 + 5, T0 + 5, "host0", [42], held=["t0001", "t0002"], mid_call=True)
    kill.held_runs = {"t0001": 1, "t0002": 1}
    outbox = [sms(parked), sms(direct)]
    figures = run([parked, direct], outbox, scenario=SCENARIOS["kill-host"], events=[kill])
    [k] = figures["kills"]
    assert (k["takeover_s"], k["slot_to_final_s"], k["held_to_final_s"]) == (10.0, 7.0, 38.0)
    assert figures["invariants"]["held sends taken over within 30 s"]
    assert figures["invariants"]["held sends final after its slot within 30 s"]
    assert figures["passed"]


def test_a_held_send_no_other_run_takes_breaks_the_takeover_bound() -> None:
    stuck = entry("t0001", state=None)
    seen(stuck, 4, "sending", runs=1)
    seen(stuck, 50, "sending", runs=1)  # the dead run's count never rises
    kill = FaultEvent("kill-host", T0 + 5, T0 + 5, "host0", [42], held=["t0001"], mid_call=True)
    kill.held_runs = {"t0001": 1}
    figures = run([stuck], [], scenario=SCENARIOS["kill-host"], events=[kill])
    assert figures["max_takeover_s"] is None
    assert not figures["invariants"]["held sends taken over within 30 s"]


def test_a_kill_whose_held_set_is_unknown_is_counted_apart_not_as_never() -> None:
    e = entry("t0001", final_at=9)
    blind = FaultEvent("kill-host", T0 + 5, T0 + 5, "host0", [42], held=None, mid_call=None)
    figures = run([e], [sms(e)], scenario=SCENARIOS["kill-host"], events=[blind])
    assert figures["kills_held_unknown"] == 1
    assert figures["max_kill_to_final_s"] == 4.0
    assert figures["passed"]


def test_the_takeover_leaves_out_the_time_redis_was_down() -> None:
    held = entry("t0001", state=None)
    seen(held, 4, "sending", runs=1)
    seen(held, 40, runs=2)  # taken over 35 s after the kill, 20 of them with Redis frozen
    seen(held, 41, "sent", runs=2)
    kill = FaultEvent("kill-host", T0 + 5, T0 + 5, "host0", [42], held=["t0001"], mid_call=True)
    kill.held_runs = {"t0001": 1}
    outage = FaultEvent("redis-outage", T0 + 10, T0 + 30, "redis")
    figures = run([held], [sms(held)], scenario=SCENARIOS["combined"], events=[kill, outage])
    assert (figures["max_takeover_s"], figures["max_slot_to_final_s"]) == (15.0, 16.0)
    assert figures["invariants"]["held sends taken over within 30 s"]
