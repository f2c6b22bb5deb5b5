"""The judge: figures and invariants of one scenario, from the ledger, the outbox and the faults.

Pure functions over plain records, so they can be checked without a bed. Definitions:

- **lost**: accepted, a valid number, the provider healthy during part of the send's useful life,
  and no SMS to that number in the outbox.
- **doubled**: more than one SMS for one accepted send (outbox ``out_id`` == ticket), or more than
  one SMS to its number (every send of a run has a number of its own).
- **false status**: ``sent``/``verified`` with no SMS, or ``failed``/``expired`` while an SMS went
  out and the reason does not admit it may have (only ``ambiguous_*`` reasons do). Judged on the
  first final state seen and on the last.
- **final changed**: a send whose final state (not just its reason) changed after it was first seen.
- **kill -> final**: for each kill, the time until every send accepted before it and not final at
  it is final (an upper bound of the takeover), and the same for the sends Celery said the killed
  process held just before.
- **takeover**: for each send the killed process held, the time from the kill until another worker
  took it (its task runs rose above the count read right after the kill) or it was final; and
  **slot -> final**: the time from its rate slot (the later of the kill and the slot it was parked
  for after the takeover) until it was final. Both leave out the time Redis was killed or frozen
  (nothing can be taken over then; the combined scenario freezes it for 20 s). A kill whose held
  set Celery could not tell is counted apart, never as "never".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from smsq.chaos.faults import FaultEvent
from smsq.chaos.ledger import Entry, Sighting
from smsq.chaos.load import Attempt
from smsq.chaos.monitor import ProcessExit
from smsq.chaos.scenarios import KILLS, REDIS_FAULTS, Scenario

#: Reasons of a failed/expired send that admit its SMS may have gone out.
UNCERTAIN_REASONS = frozenset({"ambiguous_unconfirmed", "ambiguous_expired"})
#: A refusal this long after Redis came back still counts as "while Redis was down".
REDIS_GRACE_S = 5.0
#: A held send must be taken over within this long of the kill, and final within this long of its
#: rate slot (issue 10's promise).
TAKEOVER_BOUND_S = 30.0
_LISTED = 20  # tickets listed per finding in the JSON


@dataclass(frozen=True, slots=True)
class Window:
    """Everything that happened during one scenario."""

    scenario: Scenario
    started_at: float
    load_ended_at: float
    ended_at: float
    #: when the provider was healthy again (faults off), or the start when it never was faulty
    provider_healthy_from: float
    deadline_s: float


def judge(
    window: Window,
    entries: Sequence[Entry],
    attempts: Sequence[Attempt],
    messages: Iterable[Mapping[str, Any]],
    events: Sequence[FaultEvent],
    exits: Sequence[ProcessExit],
    everyone: Mapping[str, Entry],
) -> dict[str, Any]:
    """The figures of one scenario (``everyone`` maps every ticket of the run, for held sets)."""
    by_ticket: Counter[str] = Counter()
    by_phone: Counter[str] = Counter()
    for message in messages:
        by_phone[message["phone"]] += 1
        if message.get("out_id"):
            by_ticket[message["out_id"]] += 1

    lost = [
        e.ticket
        for e in entries
        if by_phone[e.phone] == 0 and e.accepted_at + window.deadline_s > window.provider_healthy_from
    ]
    doubled = [e.ticket for e in entries if by_ticket[e.ticket] > 1 or by_phone[e.phone] > 1]
    false_status = [
        {"ticket": e.ticket, "status": seen.label, "sms": by_phone[e.phone]}
        for e in entries
        for seen in _final_sightings(e)
        if _false(seen, by_phone[e.phone])
    ]
    ambiguous = [e for e in entries if e.last is not None and e.last.reason == "ambiguous_unconfirmed"]
    changes: list[dict[str, Any]] = [
        {
            "ticket": e.ticket,
            "from": first.label,
            "to": later.label,
            "after_s": round(later.at - first.at, 1),
            "state_changed": first.state != later.state,
        }
        for e in entries
        for first, later in e.changes
    ]
    final_changed = sorted({c["ticket"] for c in changes if c["state_changed"]})
    unsettled = [e.ticket for e in entries if e.first_final is None]
    host_exits = [x for x in exits if x.kind == "host"]
    refusals = _refusals(attempts, events, messages_by_phone=by_phone)
    figures: dict[str, Any] = {
        "accepted": len(entries),
        "attempts": len(attempts),
        "final_states": dict(sorted(Counter(_label(e) for e in entries).items(), key=lambda kv: -kv[1])),
        "lost": len(lost),
        "doubled": len(doubled),
        "false_status": len({f["ticket"] for f in false_status}),
        "ambiguous_unconfirmed": {
            "total": len(ambiguous),
            "sms_went_out": sum(1 for e in ambiguous if by_phone[e.phone] > 0),
        },
        "unsettled": len(unsettled),
        "missing_records": sum(1 for e in entries if e.missing_at is not None),
        "final_changed": len(final_changed),
        "reason_only_changed": len({c["ticket"] for c in changes}) - len(final_changed),
        "kills": [
            _kill(event, entries, everyone, _redis_down(events)) for event in events if event.kind in KILLS
        ],
        "redis": [_redis_recovery(event, entries) for event in events if event.kind in REDIS_FAULTS],
        "refusals": refusals,
        "worker_exits": [asdict(x) for x in host_exits],
        "pool_child_exits": sum(1 for x in exits if x.kind == "pool child"),
        "examples": {
            "lost": lost[:_LISTED],
            "doubled": doubled[:_LISTED],
            "false_status": false_status[:_LISTED],
            "final_changed": [c for c in changes if c["ticket"] in final_changed][:_LISTED],
            "unsettled": [{"ticket": t, "status": _label(_entry(entries, t))} for t in unsettled[:_LISTED]],
        },
        "timeline": _timeline(window, entries, events),
    }
    killed = [k for k in figures["kills"] if k["pids"]]
    held = [k for k in killed if k["held"]]
    taken = [k for k in held if k["takeover_known"]]
    figures["max_kill_to_final_s"] = _max_or_none([k["bound_to_final_s"] for k in killed])
    figures["max_held_to_final_s"] = _max_or_none([k["held_to_final_s"] for k in held])
    figures["max_takeover_s"] = _max_or_none([k["takeover_s"] for k in taken])
    figures["max_slot_to_final_s"] = _max_or_none([k["slot_to_final_s"] for k in held])
    figures["kills_held_unknown"] = sum(1 for k in killed if k["held"] is None)
    figures["invariants"] = _invariants(window.scenario, figures, len(host_exits))
    figures["passed"] = all(figures["invariants"].values())
    return figures


def _invariants(scenario: Scenario, figures: Mapping[str, Any], host_exits: int) -> dict[str, bool]:
    checks = {
        "lost == 0": figures["lost"] == 0,
        "doubled == 0": figures["doubled"] == 0,
        "false_status == 0": figures["false_status"] == 0,
        "every accepted send final": figures["unsettled"] == 0,
        "no final state changed": figures["final_changed"] == 0,
        "no worker exited by itself": host_exits == 0,
        "no record vanished": figures["missing_records"] == 0,
        "every refusal typed": not figures["refusals"]["untyped"],
    }
    if scenario.kills and not scenario.redis_faults and not scenario.provider_faults:
        checks["ambiguous_unconfirmed == 0"] = figures["ambiguous_unconfirmed"]["total"] == 0
    if any(k["held"] for k in figures["kills"]):
        bounds = (("taken over", "max_takeover_s"), ("final after its slot", "max_slot_to_final_s"))
        for name, figure in bounds:
            value = figures[figure]
            checks[f"held sends {name} within {TAKEOVER_BOUND_S:.0f} s"] = (
                value is not None and value <= TAKEOVER_BOUND_S
            )
    return checks


def _final_sightings(entry: Entry) -> list[Sighting]:
    seen = [s for s in (entry.first_final, entry.last) if s is not None and s.final]
    return seen[:1] if len(seen) == 2 and seen[0] == seen[1] else seen


def _false(seen: Sighting, sms: int) -> bool:
    if seen.state in ("sent", "verified"):
        return sms == 0
    return sms > 0 and seen.reason not in UNCERTAIN_REASONS


def _label(entry: Entry) -> str:
    """The first final state seen (what a caller was told), else "not final (<state>)"."""
    if entry.first_final is not None:
        return entry.first_final.label
    return f"not final ({entry.last.label if entry.last else 'never seen'})"


def _entry(entries: Sequence[Entry], ticket: str) -> Entry:
    return next(e for e in entries if e.ticket == ticket)


def _settle_time(since: float, entries: Iterable[Entry]) -> tuple[float | None, int, int]:
    """(max seconds from ``since`` until final, how many, how many never final) over ``entries``."""
    times, never, count = [], 0, 0
    for entry in entries:
        count += 1
        if entry.first_final is None:
            never += 1
        else:
            times.append(max(0.0, entry.first_final.at - since))
    return (None if never or not times else round(max(times), 1)), count, never


def _pending_at(at: float, entries: Iterable[Entry]) -> list[Entry]:
    return [e for e in entries if e.accepted_at < at and (e.first_final is None or e.first_final.at > at)]


def _kill(
    event: FaultEvent,
    entries: Sequence[Entry],
    everyone: Mapping[str, Entry],
    down: Sequence[tuple[float, float]],
) -> dict[str, Any]:
    bound, pending, never = _settle_time(event.started_at, _pending_at(event.started_at, entries))
    result: dict[str, Any] = {
        "kind": event.kind,
        "at": event.started_at,
        "target": event.target,
        "pids": event.pids,
        "mid_call": event.mid_call,
        "pending_at_kill": pending,
        "bound_to_final_s": bound,
        "bound_never_final": never,
        "held": None,
        "held_to_final_s": None,
        "held_never_final": None,
        "takeover_s": None,
        "takeover_known": 0,
        "slot_to_final_s": None,
    }
    if event.held is not None:
        held = _pending_at(event.started_at, [everyone[t] for t in event.held if t in everyone])
        held_time, count, held_never = _settle_time(event.started_at, held)
        known = [e for e in held if e.ticket in event.held_runs]  # runs read right after the kill
        result |= {
            "held": count,
            "held_to_final_s": held_time,
            "held_never_final": held_never,
            "takeover_s": _max_or_none(_takeover(event, e, down) for e in known),
            "takeover_known": len(known),
            "slot_to_final_s": _max_or_none(_slot_to_final(event.started_at, e, down) for e in held),
        }
    return result


def _takeover(event: FaultEvent, entry: Entry, down: Sequence[tuple[float, float]]) -> float | None:
    """Seconds (Redis up) from the kill until another run took the send, or it was final; None if
    never."""
    runs_at_kill = event.held_runs[entry.ticket]
    for seen in entry.history:
        if seen.at >= event.started_at and (seen.final or seen.attempts > runs_at_kill):
            return _up_seconds(event.started_at, seen.at, down)
    return None


def _slot_to_final(killed_at: float, entry: Entry, down: Sequence[tuple[float, float]]) -> float | None:
    """Seconds (Redis up) from the send's rate slot after the kill (or the kill) until it was final."""
    if entry.first_final is None:
        return None
    slots = [s.waiting_until for s in entry.history if s.at >= killed_at and s.waiting_until]
    return _up_seconds(max([killed_at, *slots]), entry.first_final.at, down)


def _redis_down(events: Sequence[FaultEvent]) -> list[tuple[float, float]]:
    """When Redis was killed or frozen: no worker can take anything over then."""
    return [(e.started_at, e.ended_at) for e in events if e.kind in REDIS_FAULTS]


def _up_seconds(start: float, end: float, down: Sequence[tuple[float, float]]) -> float:
    """Seconds from ``start`` to ``end`` less the time Redis was down in between."""
    lost = sum(max(0.0, min(end, until) - max(start, since)) for since, until in down)
    return round(max(0.0, end - start - lost), 1)


def _redis_recovery(event: FaultEvent, entries: Sequence[Entry]) -> dict[str, Any]:
    """Time from Redis being back until every send pending when it went away is final."""
    back, pending, never = _settle_time(event.ended_at, _pending_at(event.started_at, entries))
    return {
        "kind": event.kind,
        "at": event.started_at,
        "down_s": round(event.ended_at - event.started_at, 1),
        "pending": pending,
        "back_to_final_s": back,
        "never_final": never,
    }


def _refusals(
    attempts: Sequence[Attempt], events: Sequence[FaultEvent], messages_by_phone: Mapping[str, int]
) -> dict[str, Any]:
    """Sends refused while Redis was down: were they typed, how slow, did an SMS go out anyway."""
    windows = [(e.started_at, e.ended_at + REDIS_GRACE_S) for e in events if e.kind in REDIS_FAULTS]
    failed = [a for a in attempts if not a.accepted]
    during = [a for a in failed if any(a.started_at < end and a.ended_at > start for start, end in windows)]
    outside = [a for a in failed if not any(a is b for b in during)]
    untyped = Counter(a.error for a in during if not a.typed_refusal)
    return {
        "while_redis_down": len(during),
        "typed": sum(1 for a in during if a.typed_refusal),
        "untyped": dict(untyped),
        "slowest_s": round(max((a.latency_s for a in during), default=0.0), 3),
        "outside_redis_faults": dict(Counter(a.error for a in outside)),
        "refused_but_sms_sent": sum(1 for a in failed if messages_by_phone.get(a.phone, 0) > 0),
    }


def _timeline(window: Window, entries: Sequence[Entry], events: Sequence[FaultEvent]) -> dict[str, Any]:
    """Offsets (s after the load started) for the plot."""
    t0 = window.started_at
    return {
        "accepted": sorted(round(e.accepted_at - t0, 2) for e in entries),
        "final": sorted(round(e.first_final.at - t0, 2) for e in entries if e.first_final),
        "events": [
            {"kind": e.kind, "at": round(e.started_at - t0, 2), "until": round(e.ended_at - t0, 2)}
            for e in events
        ],
        "provider_faults_until": (
            round(window.provider_healthy_from - t0, 2) if window.scenario.provider_faults else None
        ),
        "load_ended": round(window.load_ended_at - t0, 2),
    }


def _max_or_none(values: Iterable[float | None]) -> float | None:
    """The largest value; None when any is None (a set never settled) or there is none."""
    values = list(values)
    if not values or any(v is None for v in values):
        return None
    return max(v for v in values if v is not None)
