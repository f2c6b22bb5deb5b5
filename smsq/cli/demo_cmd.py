"""``smsq demo``: one-shot end-to-end proof — send, read the code from the outbox, check it."""

from __future__ import annotations

import os
import random
import statistics
import time
from typing import Any

import click

from producers.settings import redacted_url
from smsq.devstack.local import LocalStack, start_core, start_worker
from smsq.devstack.processes import running_stack

# Fresh test numbers every run: the provider allows one code per number per minute.
_BLOCK = random.SystemRandom().randrange(1000, 9000)
DEMO_NUMBER = f"13800{_BLOCK}00"
WARM_NUMBERS = [f"13800{_BLOCK}{i:02d}" for i in range(1, 21)]


def _configure_this_process(env: dict[str, str]) -> None:
    """Make this process a producer of the stack (the settings are read after this)."""
    os.environ.update(env)
    os.environ["SMSQ_SAFE_NUMBERS"] = ",".join([DEMO_NUMBER, *WARM_NUMBERS])
    from producers.process import reset_caches  # noqa: PLC0415

    reset_caches()


def _run(local: LocalStack, provider_latency_ms: int, say: Any) -> None:
    from producers import check_code, get_status, send_code  # noqa: PLC0415
    from smsq.emulator.remote import EmulatorRemote  # noqa: PLC0415 - the dev stack may drive the emulator

    assert local.emulator_url is not None
    remote = EmulatorRemote(local.emulator_url.removeprefix("http://"))
    previous_latency = remote.faults().get("latency_ms", 0)
    remote.set_faults(latency_ms=provider_latency_ms)
    try:
        say(f"provider latency set to {provider_latency_ms} ms at the emulator")
        started = time.perf_counter()
        ticket = send_code(DEMO_NUMBER, purpose="demo")
        first_ms = (time.perf_counter() - started) * 1000
        say(
            f"send_code({DEMO_NUMBER[:3]}****{DEMO_NUMBER[-4:]}) -> ticket {ticket.id} "
            f"[{ticket.state}] in {first_ms:.2f} ms (first call, opens connections)"
        )
        samples = []
        for number in WARM_NUMBERS:
            t0 = time.perf_counter()
            send_code(number, purpose="demo")
            samples.append((time.perf_counter() - t0) * 1000)
        say(
            f"send_code() x{len(samples)} more: median {statistics.median(samples):.2f} ms, "
            f"max {max(samples):.2f} ms — the request never waits for the provider"
        )
        status = get_status(ticket.id)
        while not status.state.final and time.perf_counter() - started < 60:
            time.sleep(0.02)
            status = get_status(ticket.id)
        delivered_ms = (time.perf_counter() - started) * 1000
        say(
            f"worker delivered it: state {status.state} after {delivered_ms:.0f} ms "
            f"(provider request id {status.provider_request_id})"
        )
        if status.state != "sent":
            raise click.ClickException(f"send ended {status.state} ({status.reason})")
        remote.set_faults(latency_ms=previous_latency)
        code = remote.messages(DEMO_NUMBER)[0]["code"]
        say("read the code from the emulator's outbox")
        wrong = "0" * len(code) if code != "0" * len(code) else "1" * len(code)
        result = check_code(DEMO_NUMBER, wrong)
        say(f"check_code(wrong code) -> passed={result.passed}, attempts left {result.attempts_left}")
        if result.passed:
            raise click.ClickException("a wrong code passed")
        result = check_code(DEMO_NUMBER, code)
        say(f"check_code(right code) -> passed={result.passed}")
        if not result.passed:
            raise click.ClickException("the right code did not pass")
        say(f"status now: {get_status(ticket.id).state}")
    finally:
        remote.set_faults(latency_ms=previous_latency)


@click.command()
@click.option(
    "--provider-latency-ms",
    default=2000,
    show_default=True,
    help="Latency the emulator adds, to show that send_code() does not wait for it.",
)
def demo(provider_latency_ms: int) -> None:
    """Start what is needed (or reuse a running `smsq dev`), send a code to a test number, read it
    from the emulator's outbox, check a wrong and the right code, stop what was started."""

    def say(line: str) -> None:
        click.echo(f"[{time.strftime('%H:%M:%S')}] {line}")

    running = LocalStack.load_running()
    if running is not None and running.emulator_url:
        say(f"reusing the running smsq dev stack ({redacted_url(running.redis_url)})")
        _configure_this_process(running.env)
        _run(running, provider_latency_ms, say)
    else:
        with running_stack() as stack:
            say("starting Redis (or using one that answers), the emulator, a worker and a check worker")
            local = start_core(stack, force_emulator=True)
            start_worker(stack, local, concurrency=8)
            for child in stack.children[-2:]:  # the lane worker and the check worker
                child.wait_for_log("ready.", timeout_s=60)
            _configure_this_process(local.env)
            _run(local, provider_latency_ms, say)
            say("stopping what the demo started")
    say("demo passed")
