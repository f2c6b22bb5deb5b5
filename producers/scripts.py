"""Every Redis script smsq runs, loaded from ``lua/`` folders once and registered in one place.

A script is a ``.lua`` file beside the code that calls it (``producers/lua``, ``worker/lua``); its
name is the file's stem. Each is sent after ``producers/lua/prelude.lua``, the shared Lua (the clock,
the final states, the per-minute counters), because Redis scripts cannot import each other.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from importlib import resources
from typing import Any

import redis
import redis.asyncio
from redis.commands.core import AsyncScript, Script

from producers.errors import ServiceUnavailable

_PRELUDE = "prelude"


@functools.cache
def sources(package: str) -> dict[str, str]:
    """Name -> full text (prelude first) of every script in ``package``'s ``lua/`` folder."""
    prelude = (resources.files("producers") / "lua" / f"{_PRELUDE}.lua").read_text(encoding="utf-8")
    folder = resources.files(package) / "lua"
    return {
        entry.name.removesuffix(".lua"): prelude + entry.read_text(encoding="utf-8")
        for entry in sorted(folder.iterdir(), key=lambda item: item.name)
        if entry.name.endswith(".lua") and entry.name != f"{_PRELUDE}.lua"
    }


def _register(client: redis.Redis | redis.asyncio.Redis, package: str) -> dict[str, Any]:
    return {name: client.register_script(text) for name, text in sources(package).items()}


@contextlib.contextmanager
def unavailable() -> Iterator[None]:
    """A Redis failure inside becomes :class:`ServiceUnavailable`."""
    try:
        yield
    except redis.RedisError as exc:
        raise ServiceUnavailable("Redis is unavailable") from exc


class Scripts:
    """The scripts of one package, registered on one client (EVALSHA, loaded again after a restart)."""

    def __init__(self, client: redis.Redis, package: str) -> None:
        self._scripts: dict[str, Script] = _register(client, package)

    def run(self, name: str, keys: list[str], args: list[Any]) -> Any:
        """Run script ``name``; a Redis failure becomes :class:`ServiceUnavailable`."""
        with unavailable():
            return self._scripts[name](keys=keys, args=args)


class AsyncScripts:
    """The same scripts on a ``redis.asyncio`` client, awaited."""

    def __init__(self, client: redis.asyncio.Redis, package: str) -> None:
        self._scripts: dict[str, AsyncScript] = _register(client, package)

    async def run(self, name: str, keys: list[str], args: list[Any]) -> Any:
        """Run script ``name``; a Redis failure becomes :class:`ServiceUnavailable`."""
        with unavailable():
            return await self._scripts[name](keys=keys, args=args)
