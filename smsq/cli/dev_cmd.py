"""``smsq dev``: the whole stack in the foreground until Ctrl-C."""

from __future__ import annotations

import os
import time

import click

from producers.settings import redacted_url
from smsq.devstack.local import FLOWER_PORT, LocalStack, dev_home, start_core, start_gateway, start_worker
from smsq.devstack.processes import running_stack
from smsq.net import port_or_free


def _banner(local: LocalStack) -> str:
    lines = [
        "smsq dev is running (Ctrl-C stops everything)",
        f"  Redis         {redacted_url(local.redis_url)}{' (embedded)' if local.redis_embedded else ''}",
        f"  Emulator      {local.emulator_url}/_emulator/   <- the outbox: codes land here"
        if local.emulator_url
        else "  Provider      Alibaba Cloud Dypnsapi (credentials from the environment)",
        *([f"  Flower        {local.flower_url}"] if local.flower_url else []),
        f"  Gateway       {local.gateway_url}/v1/   <- HTTP API; delivery receipts arrive here too",
        f"  Metrics       {local.metrics_url}",
        f"  Settings      {dev_home() / 'dev.env'}   <- load it in your web app (dotenv), owner-only",
        "",
        "Try it from another terminal:",
        '  eval "$(.venv/bin/smsq env)"              # the settings above, as exports',
        "  .venv/bin/smsq send 13511112222 --wait 5",
        "  .venv/bin/smsq check 13511112222 CODE      # CODE from the outbox page",
        "  .venv/bin/smsq status TICKET                # delivery: pending, then delivered",
        "",
        "or from Python (with those settings in the environment):",
        "  from producers import send_code, check_code",
        "  ticket = send_code('+86 135-2222-3333', purpose='login', client_ip='127.0.0.1')",
        "  check_code('13522223333', '123456')",
    ]
    return "\n".join(lines)


@click.command()
@click.option("--concurrency", default=16, show_default=True, help="Worker pool slots.")
@click.option("--no-flower", is_flag=True, help="Do not start Flower.")
def dev(concurrency: int, no_flower: bool) -> None:
    """Run Redis (embedded if none answers), the emulator (without Alibaba credentials), a worker,
    a check worker, the gateway (receiving the emulator's delivery receipts) and Flower, in the
    foreground; Ctrl-C stops them all."""
    with running_stack() as stack:
        try:
            local = start_core(stack)
            start_worker(stack, local, concurrency=concurrency)
            start_gateway(stack, local)
            if not no_flower:
                local.flower_url = stack.flower(local.env, port_or_free(FLOWER_PORT), local.redis_url)
            local.save(os.getpid())
            click.echo(_banner(local), err=False)
            click.echo(f"\nlogs: {stack.log_dir}")
            while all(child.alive() for child in stack.children):
                time.sleep(0.5)
            dead = [child.name for child in stack.children if not child.alive()]
            click.echo(f"stopping: {', '.join(dead)} exited (see {stack.log_dir})", err=True)
            raise SystemExit(1)
        except KeyboardInterrupt:
            click.echo("\nstopping…", err=True)
        finally:
            LocalStack.forget()
