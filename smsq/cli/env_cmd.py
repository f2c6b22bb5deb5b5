"""``smsq env``: the settings of the running ``smsq dev`` stack, ready for a shell or a web app."""

from __future__ import annotations

import shlex
import sys

import click

from smsq.devstack.local import dev_home, parse_env


@click.command()
@click.option("--dotenv", is_flag=True, help="Print NAME=value lines (a .env file) instead of exports.")
def env(dotenv: bool) -> None:
    """Print what a process needs to join the running `smsq dev`: `eval "$(smsq env)"`.

    Exit 1 when no dev stack is running."""
    path = dev_home() / "dev.env"
    try:
        values = parse_env(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        click.echo("no smsq dev is running (start it with `make dev` or `smsq dev`)", err=True)
        sys.exit(1)
    for name, value in sorted(values.items()):
        click.echo(f"{name}={shlex.quote(value)}" if dotenv else f"export {name}={shlex.quote(value)}")
