"""The asyncio API against real workers, Redis and the emulator: the same answers, limits, lockout
and errors as the sync API, and one state shared with it."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from producers import (
    CheckLocked,
    CheckResult,
    InvalidCode,
    InvalidPhoneNumber,
    ProviderTransient,
    RateLimited,
    SendState,
    SendStatus,
    TicketNotFound,
    UnknownLane,
    acheck_code,
    aget_status,
    asend_code,
    check_code,
    get_status,
)
from tests.conftest import EmulatorHandle

pytestmark = pytest.mark.usefixtures("workers", "smsq_env")


def fresh_number() -> str:
    return f"138{uuid.uuid4().int % 10**8:08d}"


async def wait_final(ticket: str, timeout_s: float = 30.0) -> SendStatus:
    async with asyncio.timeout(timeout_s):
        status = await aget_status(ticket)
        while not status.state.final:
            await asyncio.sleep(0.05)
            status = await aget_status(ticket)
    return status


def test_an_async_send_is_sent_by_a_worker_and_its_code_passes_acheck_once(emulator: EmulatorHandle) -> None:
    phone = fresh_number()

    async def flow() -> None:
        ticket = await asend_code(phone, purpose="signup")
        assert (ticket.state, ticket.purpose, ticket.masked_phone) == (
            SendState.QUEUED,
            "signup",
            f"{phone[:3]}****{phone[-4:]}",
        )
        assert (await wait_final(ticket.id)).state is SendState.SENT
        code = emulator.messages(phone)[0]["code"]
        wrong = "00000000" if code != "00000000" else "11111111"
        first = await acheck_code(phone, wrong)
        assert (first.passed, first.attempts_left) == (False, 4)
        right = await acheck_code(phone, code)
        assert right.passed and right.ticket == ticket.id
        assert not (await acheck_code(phone, code)).passed
        assert (await aget_status(ticket.id)).state is SendState.VERIFIED

    asyncio.run(flow())


def test_the_async_api_refuses_bad_input_and_repeated_sends_as_the_sync_api_does() -> None:
    phone = fresh_number()

    async def flow() -> None:
        with pytest.raises(InvalidPhoneNumber):
            await asend_code("+1 415 555 0100")
        with pytest.raises(UnknownLane):
            await asend_code(phone, lane="nowhere")
        with pytest.raises(InvalidCode):
            await acheck_code(phone, "12 34")
        with pytest.raises(TicketNotFound):
            await aget_status(uuid.uuid4().hex)
        first = await asend_code(phone, idempotency_key="order-7")
        again = await asend_code(phone, idempotency_key="order-7")
        assert again.duplicate and again.id == first.id
        with pytest.raises(RateLimited) as refused:
            await asend_code(phone)
        assert refused.value.rule == "phone:1/minute" and 0 < refused.value.retry_after <= 60

    asyncio.run(flow())


def test_wrong_answers_count_across_both_apis_and_the_sixth_is_locked_out(emulator: EmulatorHandle) -> None:
    phone = fresh_number()
    ticket = asyncio.run(asend_code(phone))
    status = asyncio.run(wait_final(ticket.id))
    assert status.state is SendState.SENT
    code = emulator.messages(phone)[0]["code"]
    wrong = "00000000" if code != "00000000" else "11111111"

    left = [check_code(phone, wrong).attempts_left for _ in range(2)]

    async def more() -> list[int]:
        return [(await acheck_code(phone, wrong)).attempts_left for _ in range(3)]

    left += asyncio.run(more())
    assert left == [4, 3, 2, 1, 0]
    with pytest.raises(CheckLocked) as locked:
        asyncio.run(acheck_code(phone, code))
    assert locked.value.rule == "check" and locked.value.retry_after > 0
    assert get_status(ticket.id).state is SendState.SENT  # the right code came too late


def test_a_provider_that_cannot_answer_raises_the_mapped_error_and_gives_the_attempt_back(
    emulator: EmulatorHandle,
) -> None:
    phone = fresh_number()
    ticket = send_and_wait(phone)
    code = emulator.messages(phone)[0]["code"]
    wrong = "00000000" if code != "00000000" else "11111111"
    emulator.set_faults(error_500_rate=1.0)
    with pytest.raises(ProviderTransient) as failed:
        asyncio.run(acheck_code(phone, wrong))
    assert failed.value.status == 500
    emulator.set_faults(error_500_rate=0.0)
    # the failed call reached no verdict: its reservation came back, the next wrong answer is the first
    assert asyncio.run(acheck_code(phone, wrong)).attempts_left == 4
    assert get_status(ticket).state is SendState.SENT


def send_and_wait(phone: str) -> str:
    async def flow() -> str:
        ticket = await asend_code(phone)
        assert (await wait_final(ticket.id)).state is SendState.SENT
        return ticket.id

    return asyncio.run(flow())


def test_an_async_check_for_another_purpose_fails_without_asking_the_provider(
    emulator: EmulatorHandle,
) -> None:
    phone = fresh_number()
    send_and_wait(phone)  # a login code
    code = emulator.messages(phone)[0]["code"]
    asked = emulator.stats()["check_requests"]
    assert asyncio.run(acheck_code(phone, code, purpose="reset")) == CheckResult(False, 0)
    assert emulator.stats()["check_requests"] == asked
    assert asyncio.run(acheck_code(phone, code, purpose="login")).passed
