"""The ``smsq`` command line: one console script, one module per subcommand.

Subcommand modules are imported only when their command runs, so ``smsq send`` stays quick and
``producers`` never imports ``worker`` or ``emulator`` at import time.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

from producers.errors import ConfigurationError
from smsq.cli.exits import ExitCode

# command name -> "module:attribute" of a click.Command
COMMANDS = {
    "admin": "smsq.cli.admin_cmd:admin",
    "bench": "smsq.cli.bench_cmd:bench",
    "check": "smsq.cli.client_cmds:check",
    "demo": "smsq.cli.demo_cmd:demo",
    "dev": "smsq.cli.dev_cmd:dev",
    "doctor": "smsq.cli.doctor_cmd:doctor",
    "emulator": "smsq.cli.emulator_cmd:emulator",
    "env": "smsq.cli.env_cmd:env",
    "flower": "smsq.cli.flower_cmd:flower",
    "gateway": "smsq.cli.gateway_cmd:gateway",
    "send": "smsq.cli.client_cmds:send",
    "status": "smsq.cli.client_cmds:status",
    "worker": "smsq.cli.worker_cmd:worker",
}


class LazyGroup(click.Group):
    """A click group that imports a subcommand's module only when it is used, and turns a bad
    configuration into one line and exit status 2, before anything starts."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigurationError as exc:
            click.echo(f"smsq: configuration error: {exc}", err=True)
            ctx.exit(ExitCode.INVALID)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        command: Any = getattr(importlib.import_module(module_name), attribute)
        return command  # type: ignore[no-any-return]


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """smsq: SMS verification codes through Alibaba Cloud Dypnsapi, sent by Celery workers."""
