"""Delivery receipts over real HTTP: the SDK sends, the emulator pushes, a 127.0.0.1 receiver answers."""

from __future__ import annotations

import itertools
import json
import re
from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Any

import aiohttp
import pytest

from smsq.emulator.catalog import UNDELIVERED_CODES
from smsq.net import free_port
from tests.smsq.emulator.receipt_rig import OK, Answer, receipt_rig, run

FIELDS = {"phone_number", "send_time", "report_time", "success", "err_code", "err_msg", "sms_size", "biz_id"}
TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\Z")
BEIJING = timezone(timedelta(hours=8))


def _refuse(status: int = 500, body: bytes = b'{"code": 1, "msg": "busy"}', delay_s: float = 0.0) -> Answer:
    return Answer(status=status, body=body, delay_s=delay_s)


def test_every_accepted_send_gets_one_receipt_with_the_documented_fields() -> None:
    async def body() -> None:
        async with receipt_rig() as rig:
            with_out_id = await rig.send(out_id="ticket-42")
            without = await rig.send()
            refused = await rig.send(phone="12345")  # MOBILE_NUMBER_ILLEGAL: no SMS, so no receipt
            assert (with_out_id.code, without.code, refused.code) == ("OK", "OK", "MOBILE_NUMBER_ILLEGAL")
            await rig.until(lambda: len(rig.receiver.biz_ids()) >= 2, "two receipts")
            await rig.settled()
            assert sorted(rig.receiver.biz_ids()) == sorted([with_out_id.model.biz_id, without.model.biz_id])
            for push in rig.receiver.pushes:
                assert push.content_type == "application/json; charset=utf-8"
                assert push.raw.startswith(b"[")
            reports = {item["biz_id"]: item for push in rig.receiver.pushes for item in push.items}
            first, second = reports[with_out_id.model.biz_id], reports[without.model.biz_id]
            assert set(first) == FIELDS | {"out_id"} and first["out_id"] == "ticket-42"
            assert set(second) == FIELDS
            messages = {m.biz_id: m for m in rig.emulator.store.messages()}
            for report in (first, second):
                message = messages[report["biz_id"]]
                assert report["phone_number"] == message.phone
                sent = datetime.fromtimestamp(message.sent_at, BEIJING).strftime("%Y-%m-%d %H:%M:%S")
                assert report["send_time"] == sent
                assert TIME.match(report["report_time"]) and report["report_time"] >= report["send_time"]
                assert report["success"] is True
                assert (report["err_code"], report["err_msg"], report["sms_size"]) == (
                    "DELIVERED",
                    "用户接收成功",
                    "1",
                )

    run(body())


def test_the_controls_show_each_message_receipt_and_the_push_counters() -> None:
    async def body() -> None:
        async with receipt_rig() as rig:
            sent = await rig.send(out_id="ticket-7")
            await rig.until(lambda: len(rig.receiver.pushes) == 1, "the push")
            await rig.settled()
            status, answer = await rig.control("GET", "messages")
            assert status == 200
            (message,) = answer["messages"]
            receipt = message["receipt"]
            assert receipt["status"] == "pushed"
            assert (receipt["attempts"], receipt["accepted"], receipt["success"]) == (1, 1, True)
            assert receipt["err_code"] == "DELIVERED" and receipt["duplicate"] is False
            assert receipt["report"] == rig.receiver.pushes[0].items[0]
            assert receipt["report"]["biz_id"] == sent.model.biz_id
            status, stats = await rig.control("GET", "stats")
            counters = stats["receipts"]
            assert (counters["created"], counters["delivered"], counters["pushes_ok"]) == (1, 1, 1)
            assert (counters["receipts_pushed"], counters["pending"], counters["push_failures"]) == (1, 0, {})

    run(body())


def test_without_a_url_receipts_wait_and_a_url_set_later_gets_them_in_batches() -> None:
    async def body() -> None:
        async with receipt_rig(url=False, batch_size=2, delay_ms=0) as rig:
            sent = [await rig.send() for _ in range(5)]
            status, answer = await rig.control("GET", "messages")
            assert {m["receipt"]["status"] for m in answer["messages"]} == {"pending"}
            assert rig.receiver.pushes == []
            status, settings = await rig.control("PUT", "receipts", {"url": rig.url})
            assert status == 200 and settings["url"] == rig.url
            await rig.until(lambda: len(rig.receiver.biz_ids()) == 5, "five receipts")
            await rig.settled()
            assert sorted(len(p.items) for p in rig.receiver.pushes) == [1, 2, 2]
            assert sorted(rig.receiver.biz_ids()) == sorted(b.model.biz_id for b in sent)

    run(body())


FAILURES = {
    "HTTP 500": (lambda n: _refuse(500), "status"),
    "HTTP 503 JSON code 0": (lambda n: _refuse(503, b'{"code": 0}'), "status"),
    "HTTP 200, code 1": (lambda n: _refuse(200, b'{"code": 1, "msg": "no"}'), "body"),
    "HTTP 200, not JSON": (lambda n: _refuse(200, b"success"), "body"),
    "slower than the timeout": (lambda n: _refuse(200, b'{"code": 0}', delay_s=0.4), "timeout"),
}


@pytest.mark.parametrize("failure", list(FAILURES))
def test_a_failing_receiver_gets_the_batch_retried_three_times_then_dropped(failure: str) -> None:
    answers, kind = FAILURES[failure]

    async def body() -> None:
        async with receipt_rig(answers, timeout_ms=150) as rig:
            await rig.send()
            (message,) = rig.emulator.store.messages()
            receipt = rig.emulator.receipts.get(message.biz_id)
            assert receipt is not None
            await rig.until(lambda: receipt.status.value == "dropped", "the batch to be dropped")
            await rig.settled()
            pushes = rig.receiver.pushes
            assert len(pushes) == 4  # the first push and three retries, then nothing
            assert len({p.raw for p in pushes}) == 1  # the same batch every time
            stats = rig.emulator.receipts.stats()
            assert stats["push_failures"] == {kind: 4}
            assert (stats["batches_dropped"], stats["receipts_dropped"], stats["pushes_ok"]) == (1, 1, 0)
            assert receipt.attempts == 4
            if kind == "status":
                # Each retry starts after the previous answer, so the gaps are at least the schedule
                # (60, 300, 600 minutes scaled by 0.001): a lower bound that cannot flake.
                gaps = [b.at - a.at for a, b in itertools.pairwise(pushes)]
                assert [g >= d for g, d in zip(gaps, (0.060, 0.300, 0.600), strict=True)] == [True] * 3

    run(body())


def test_a_refused_connection_is_a_failed_push_retried_then_dropped() -> None:
    async def body() -> None:
        async with receipt_rig(url=False, timeout_ms=150) as rig:
            rig.emulator.receipts.update({"url": f"http://127.0.0.1:{free_port()}/receipts"})
            await rig.send()
            await rig.until(lambda: rig.emulator.receipts.stats()["batches_dropped"] == 1, "the drop")
            assert rig.emulator.receipts.stats()["push_failures"] == {"connection": 4}

    run(body())


def test_a_receiver_that_recovers_gets_the_batch_once_accepted() -> None:
    async def body() -> None:
        async with receipt_rig(lambda n: _refuse(503) if n <= 2 else OK) as rig:
            sent = await rig.send()
            await rig.until(lambda: len(rig.receiver.pushes) == 3, "the third attempt")
            await rig.settled()
            assert len(rig.receiver.pushes) == 3
            assert len({p.raw for p in rig.receiver.pushes}) == 1
            receipt = rig.emulator.receipts.get(sent.model.biz_id)
            assert receipt is not None
            assert (receipt.status.value, receipt.attempts, receipt.accepted) == ("pushed", 3, 1)

    run(body())


def test_the_default_700_ms_deadline_accepts_a_prompt_answer_and_retries_a_late_one() -> None:
    async def body() -> None:
        answers = {1: _refuse(200, b'{"code": 0}', delay_s=1.0), 2: Answer(delay_s=0.2)}
        async with receipt_rig(lambda n: answers[n]) as rig:
            assert rig.emulator.receipts.settings.timeout_ms == 700
            sent = await rig.send()
            await rig.until(lambda: len(rig.receiver.pushes) == 2, "the retry")
            await rig.settled()
            receipt = rig.emulator.receipts.get(sent.model.biz_id)
            assert receipt is not None and receipt.status.value == "pushed"
            assert rig.emulator.receipts.stats()["push_failures"] == {"timeout": 1}

    run(body())


def test_a_redirect_is_a_failure_and_is_never_followed() -> None:
    async def body() -> None:
        # The redirect points back at the receiver: a client that followed it would post again and again.
        back = Answer(status=307, headers={"Location": "/receipts"})
        async with receipt_rig(lambda n: back, timeout_ms=150) as rig:
            await rig.send()
            await rig.until(lambda: rig.emulator.receipts.stats()["batches_dropped"] == 1, "the drop")
            assert len(rig.receiver.pushes) == 4
            assert rig.emulator.receipts.stats()["push_failures"] == {"status": 4}

    run(body())


def test_duplicates_arrive_again_in_a_later_batch_when_configured() -> None:
    async def body() -> None:
        async with receipt_rig(duplicate_rate=1.0) as rig:
            sent = [await rig.send() for _ in range(3)]
            await rig.until(lambda: len(rig.receiver.biz_ids()) == 6, "six receipts")
            await rig.settled()
            counts = Counter(rig.receiver.biz_ids())
            assert counts == Counter({b.model.biz_id: 2 for b in sent})
            for biz_id in counts:
                batches = [
                    i for i, p in enumerate(rig.receiver.pushes) if biz_id in {x["biz_id"] for x in p.items}
                ]
                assert len(batches) == 2  # never twice in the same batch

    run(body())


def test_reordering_delivers_some_later_sends_first_when_configured() -> None:
    async def body() -> None:
        async with receipt_rig(reorder_rate=0.5, delay_ms=400.0, seed=11) as rig:
            sent = [(await rig.send()).model.biz_id for _ in range(10)]
            await rig.until(lambda: len(rig.receiver.biz_ids()) == 10, "ten receipts")
            await rig.settled()
            arrived = rig.receiver.biz_ids()
            assert sorted(arrived) == sorted(sent)  # each once
            assert arrived != sent

    run(body())


def test_without_faults_receipts_are_never_duplicated_reordered_lost_or_undelivered() -> None:
    async def body() -> None:
        async with receipt_rig(url=False, delay_ms=0) as rig:
            sent = [(await rig.send()).model.biz_id for _ in range(30)]
            rig.emulator.receipts.update({"url": rig.url})
            await rig.until(lambda: len(rig.receiver.biz_ids()) == 30, "thirty receipts")
            await rig.settled()
            (push,) = rig.receiver.pushes  # one batch of 30 (batch size 100)
            assert [x["biz_id"] for x in push.items] == sent
            assert all(x["success"] for x in push.items)
            stats = rig.emulator.receipts.stats()
            assert (stats["duplicated"], stats["lost"], stats["undelivered"]) == (0, 0, 0)

    run(body())


def test_numbers_under_an_undelivered_prefix_get_a_carrier_failure_others_are_delivered() -> None:
    async def body() -> None:
        async with receipt_rig(undelivered_prefixes=["1700000"]) as rig:
            pumped = [await rig.send(phone=f"1700000{i:04d}") for i in range(3)]
            normal = await rig.send()
            await rig.until(lambda: len(rig.receiver.biz_ids()) == 4, "four receipts")
            reports = {x["biz_id"]: x for p in rig.receiver.pushes for x in p.items}
            for sent in pumped:
                report = reports[sent.model.biz_id]
                assert (report["success"], report["err_code"]) == (False, "MK:0001")
                assert report["err_msg"] == UNDELIVERED_CODES["MK:0001"]
            assert reports[normal.model.biz_id]["success"] is True

    run(body())


def test_the_undelivered_rate_reports_real_carrier_codes() -> None:
    async def body() -> None:
        async with receipt_rig(undelivered_rate=1.0) as rig:
            for _ in range(5):
                await rig.send()
            await rig.until(lambda: len(rig.receiver.biz_ids()) == 5, "five receipts")
            for push in rig.receiver.pushes:
                for report in push.items:
                    assert report["success"] is False
                    assert report["err_msg"] == UNDELIVERED_CODES[report["err_code"]]

    run(body())


def test_lost_receipts_are_never_pushed_and_the_rest_are() -> None:
    async def body() -> None:
        async with receipt_rig(lost_rate=0.5, seed=3) as rig:
            sent = [(await rig.send()).model.biz_id for _ in range(12)]
            statuses = {b: getattr(rig.emulator.receipts.get(b), "status", None) for b in sent}
            lost = {b for b, status in statuses.items() if status == "lost"}
            assert 0 < len(lost) < 12  # the seed gives a mix
            await rig.until(lambda: len(rig.receiver.biz_ids()) == 12 - len(lost), "the kept receipts")
            await rig.settled()
            assert set(rig.receiver.biz_ids()) == set(sent) - lost
            assert len(rig.receiver.biz_ids()) == 12 - len(lost)
            _, answer = await rig.control("GET", "messages")
            views = {m["biz_id"]: m["receipt"] for m in answer["messages"]}
            assert {b for b, v in views.items() if v["status"] == "lost"} == lost
            assert all(views[b]["attempts"] == 0 for b in lost)

    run(body())


def test_receipt_faults_draw_on_their_own_stream_so_codes_stay_the_same() -> None:
    async def codes(**receipt_faults: Any) -> list[str | None]:
        async with receipt_rig(url=False, seed=9, **receipt_faults) as rig:
            for phone in [f"1360000{i:04d}" for i in range(10)]:
                await rig.send(phone=phone)
            return [m.code for m in reversed(rig.emulator.store.messages())]

    async def body() -> None:
        plain = await codes()
        faulty = await codes(undelivered_rate=0.5, duplicate_rate=0.5, lost_rate=0.5, reorder_rate=0.5)
        assert plain == faulty

    run(body())


def test_put_receipts_is_a_partial_update_and_reset_restores_the_startup_settings() -> None:
    async def body() -> None:
        async with receipt_rig(url=False) as rig:
            status, before = await rig.control("GET", "receipts")
            assert status == 200
            assert before == {
                "url": None,
                "delay_ms": 20.0,
                "batch_size": 100,
                "timeout_ms": 700.0,
                "retry_scale": 0.001,
                "undelivered_rate": 0.0,
                "undelivered_prefixes": [],
                "duplicate_rate": 0.0,
                "reorder_rate": 0.0,
                "lost_rate": 0.0,
            }
            change = {"url": rig.url, "undelivered_prefixes": ["1700000", "1710000"], "lost_rate": 0.25}
            status, after = await rig.control("PUT", "receipts", change)
            assert status == 200 and after == {**before, **change}
            status, _ = await rig.control("POST", "reset")
            assert status == 200
            assert (await rig.control("GET", "receipts"))[1] == before

    run(body())


@pytest.mark.parametrize(
    "change",
    [{"url": "gopher://127.0.0.1/"}, {"batch_size": 0}, {"lost_rate": 2}, {"nope": 1}, [1], "url"],
)
def test_put_receipts_refuses_bad_input_with_a_400_json_error_and_changes_nothing(change: Any) -> None:
    async def body() -> None:
        async with receipt_rig(url=False) as rig:
            before = (await rig.control("GET", "receipts"))[1]
            status, answer = await rig.control("PUT", "receipts", change)
            assert status == 400
            assert {"Code", "Message", "RequestId"} <= set(answer)
            assert (await rig.control("GET", "receipts"))[1] == before

    run(body())


def test_the_outbox_page_shows_each_message_delivery() -> None:
    async def body() -> None:
        async with receipt_rig(undelivered_prefixes=["1700000"]) as rig:
            await rig.send(phone="17000001234")
            await rig.until(lambda: len(rig.receiver.pushes) == 1, "the push")
            await rig.settled()
            async with (
                aiohttp.ClientSession() as session,
                session.get(str(rig.emulator_server.make_url("/_emulator/"))) as response,
            ):
                page = await response.text()
            assert "delivery receipt" in page
            assert "MK:0001, receipt pushed" in page

    run(body())


def test_shutdown_with_a_push_in_flight_stops_cleanly() -> None:
    async def body() -> None:
        async with receipt_rig(lambda n: Answer(delay_s=30.0), timeout_ms=60_000) as rig:
            await rig.send()
            await rig.until(lambda: len(rig.receiver.pushes) == 1, "the push to be in flight")
            pusher = rig.emulator.pusher
            assert pusher is not None and pusher._in_flight
            tasks = [pusher._loop_task, *pusher._in_flight]
            await rig.emulator_server.close()
            assert all(task is not None and task.done() for task in tasks)
            assert rig.emulator.pusher is None

    run(body())


def test_receipts_json_is_utf8_with_chinese_text_unescaped() -> None:
    async def body() -> None:
        async with receipt_rig() as rig:
            await rig.send()
            await rig.until(lambda: len(rig.receiver.pushes) == 1, "the push")
            raw = rig.receiver.pushes[0].raw
            assert "用户接收成功".encode() in raw
            assert json.loads(raw.decode("utf-8"))[0]["err_msg"] == "用户接收成功"

    run(body())
