"""The product end to end: send_code → Celery on Redis → real worker processes → the emulator's
Dypnsapi over HTTP with the official SDK → check_code in the request."""

from __future__ import annotations

import json
import time
import uuid

import pytest
import redis

from producers import SendState, check_code, get_status, send_code
from producers.keyring import get_keyring
from producers.publisher import producer_app, publish_send
from producers.store import RecordStore
from tests.conftest import EmulatorHandle
from tests.e2e.helpers import EventRecorder, wait_final

pytestmark = pytest.mark.usefixtures("workers")


def fresh_number() -> str:
    return f"137{uuid.uuid4().int % 10**8:08d}"


def test_a_code_is_sent_by_a_worker_and_checks_once(
    smsq_env: dict[str, str], emulator: EmulatorHandle
) -> None:
    phone = fresh_number()
    ticket = send_code(phone)
    status = wait_final(ticket.id)
    assert status.state is SendState.SENT, status
    code = emulator.messages(phone)[0]["code"]
    wrong = "0000" if code != "0000" else "1111"

    first = check_code(phone, wrong)
    assert not first.passed and first.attempts_left == 4
    right = check_code(phone, code)
    assert right.passed and right.ticket == ticket.id
    again = check_code(phone, code)
    assert not again.passed
    assert get_status(ticket.id).state is SendState.VERIFIED


def test_the_same_task_delivered_twice_produces_one_sms(
    smsq_env: dict[str, str], emulator: EmulatorHandle, workers: object
) -> None:
    phone = fresh_number()
    ticket = send_code(phone)
    status = get_status(ticket.id)
    # the same message twice more, as broker redeliveries after a crash would bring it
    for _ in range(2):
        publish_send(
            ticket.id,
            lane="default",
            masked_phone=status.masked_phone,
            purpose="login",
            expires_at=status.deadline_at,
        )
    assert wait_final(ticket.id).state is SendState.SENT
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        logs = "".join(
            c.log_path.read_text(errors="replace") for c in workers.children if c.name.startswith("worker")
        )  # type: ignore[attr-defined]
        if logs.count(f"smsq.send_code[{ticket.id}] succeeded") >= 3:
            break
        time.sleep(0.1)
    assert logs.count(f"smsq.send_code[{ticket.id}] succeeded") == 3
    assert len(emulator.messages(phone)) == 1


def test_a_task_payload_of_another_version_ends_its_send_with_reason_schema(
    smsq_env: dict[str, str], emulator: EmulatorHandle, workers: object, redis_client: redis.Redis
) -> None:
    phone = fresh_number()
    ticket = uuid.uuid4().hex
    store = RecordStore(redis_client)
    store.admit(
        ticket=ticket, sealed_phone=get_keyring().seal(phone), masked="x", purpose="login",
        lane="default", rules=(), useful_life_s=10, record_ttl_s=600,
    )  # fmt: skip
    # what a later release's producer might publish: the worker must not guess at its arguments
    producer_app().send_task(
        "smsq.send_code", args=[ticket, "an argument this release does not know"], kwargs={"v": 99},
        task_id=ticket, queue="smsq.default",
    )  # fmt: skip
    status = wait_final(ticket)
    assert (status.state, status.reason) == (SendState.FAILED, "schema")
    assert emulator.messages(phone) == []


@pytest.mark.parametrize(
    ("phone", "state", "reason"),
    [
        (None, SendState.SENT, None),
        ("13900000007", SendState.FAILED, "provider_bad_number"),
        ("13900000002", SendState.FAILED, "provider_unavailable"),
    ],
)
def test_every_accepted_send_ends_sent_or_failed_with_a_reason(
    smsq_env: dict[str, str],
    emulator: EmulatorHandle,
    phone: str | None,
    state: SendState,
    reason: str | None,
) -> None:
    ticket = send_code(phone or fresh_number())
    status = wait_final(ticket.id, timeout_s=40)
    assert status.state is state
    assert status.reason == reason


def test_a_send_whose_message_arrives_after_its_deadline_ends_expired(
    smsq_env: dict[str, str], redis_client: redis.Redis, emulator: EmulatorHandle
) -> None:
    store = RecordStore(redis.Redis.from_url(smsq_env["SMSQ_REDIS_URL"], decode_responses=True))
    ticket = uuid.uuid4().hex
    created_ms = int((time.time() - 20) * 1000)
    store.admit(
        ticket=ticket,
        sealed_phone=get_keyring().seal(fresh_number()),
        masked="137****0000",
        purpose="login",
        lane="default",
        rules=(),
        useful_life_s=10,
        record_ttl_s=600,
        now_ms=created_ms,
    )
    publish_send(
        ticket, lane="default", masked_phone="137****0000", purpose="login", expires_at=created_ms / 1000 + 10
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and redis_client.hget(f"smsq:send:{ticket}", "state") == "queued":
        time.sleep(0.05)
    assert redis_client.hget(f"smsq:send:{ticket}", "state") == "expired"
    assert get_status(ticket).state is SendState.EXPIRED
    assert emulator.stats()["total"] == 0


def test_status_json_from_the_command_line_shows_the_state(smsq_env: dict[str, str]) -> None:
    from click.testing import CliRunner

    from smsq.cli import main

    ticket = send_code(fresh_number())
    wait_final(ticket.id)
    result = CliRunner().invoke(main, ["status", ticket.id, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["state"] == "sent" and data["ticket"] == ticket.id


def test_no_log_line_event_or_error_carries_the_phone_the_code_or_the_secret(
    smsq_env: dict[str, str], emulator: EmulatorHandle, workers: object, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    phone = fresh_number()
    sizes = {c.name: c.log_path.stat().st_size for c in workers.children}  # type: ignore[attr-defined]
    errors_seen: list[str] = []
    with EventRecorder(smsq_env["SMSQ_REDIS_URL"]) as recorder:
        ticket = send_code(phone, client_ip="203.0.113.7")
        assert wait_final(ticket.id).state is SendState.SENT
        code = emulator.messages(phone)[0]["code"]
        check_code(phone, "0000" if code != "0000" else "1111")
        assert check_code(phone, code).passed
        failed = wait_final(send_code("13900000007").id)
        assert failed.state is SendState.FAILED
        try:
            send_code("+1 415 555 2671")
        except Exception as exc:
            errors_seen.append(f"{type(exc).__name__}: {exc}")
    worker_logs = "".join(
        c.log_path.read_bytes()[sizes.get(c.name, 0) :].decode(errors="replace")
        for c in workers.children  # type: ignore[attr-defined]
    )
    events = json.dumps(recorder.events, default=str)
    assert ticket.id in events and "task-succeeded" in events and "task-sent" in events
    assert ticket.id in worker_logs
    haystacks = {
        "worker logs": worker_logs,
        "task events": events,
        "test-process logs": caplog.text,
        "exception messages": "\n".join(errors_seen),
        "statuses": repr(get_status(ticket.id)) + repr(failed),
    }
    assert len(code) == 8  # long enough that finding it by chance is practically impossible
    for where, text in haystacks.items():
        assert phone not in text, where
        assert code not in text, where
        assert emulator.key_secret not in text, where
        assert "4155552671" not in text, where
