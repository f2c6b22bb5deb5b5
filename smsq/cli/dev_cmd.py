"""``smsq dev``: the whole stack in the foreground until Ctrl-C."""

from __future__ import annotations

import os
import shlex
import time

import click

from smsq.devstack.local import STATE_FILE, LocalStack, start_core, start_worker
from smsq.devstack.processes import running_stack
from smsq.net import port_or_free


def _banner(local: LocalStack) -> str:
    exports = " ".join(
        f"{name}={shlex.quote(value)}"
        for name, value in sorted(local.env.items())
        if not name.endswith("_SECRET")
    )
    secret = local.env.get("ALIBABA_CLOUD_ACCESS_KEY_SECRET")
    lines = [
        "smsq dev is running (Ctrl-C stops everything)",
        f"  Redis         {local.redis_url}{' (embedded)' if local.redis_embedded else ''}",
        f"  Emulator      {local.emulator_url}/_emulator/   <- the outbox: codes land here"
        if local.emulator_url
        else "  Provider      Alibaba Cloud Dypnsapi (credentials from the environment)",
        f"  Flower        {local.flower_url}",
        f"  Metrics       {local.metrics_url}",
        "",
        "Try it from another terminal:",
        f"  export {exports}",
    ]
    if secret:
        lines.append(
            f"  export ALIBABA_CLOUD_ACCESS_KEY_SECRET={shlex.quote(secret)}  # emulator-only test key"
        )
    lines += [
        "  .venv/bin/smsq send 13511112222 --wait 5",
        "  .venv/bin/smsq check 13511112222 CODE      # CODE from the outbox page",
        "",
        "or from Python:",
        "  from producers import send_code, check_code",
        "  ticket = send_code('+86 135-1111-2222', purpose='login', client_ip='127.0.0.1')",
        "  check_code('13511112222', '1234')",
    ]
    return "\n".join(lines)


@click.command()
@click.option("--concurrency", default=16, show_default=True, help="Worker pool slots.")
@click.option("--no-flower", is_flag=True, help="Do not start Flower.")
def dev(concurrency: int, no_flower: bool) -> None:
    """Run Redis (embedded if none answers), the emulator (without Alibaba credentials), a worker and
    Flower, in the foreground; Ctrl-C stops them all."""
    with running_stack() as stack:
        try:
            local = start_core(stack)
            start_worker(stack, local, concurrency=concurrency)
            if not no_flower:
                local.flower_url = stack.flower(local.env, port_or_free(5555), local.redis_url)
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
            STATE_FILE.unlink(missing_ok=True)
