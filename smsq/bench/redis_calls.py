"""What a Redis server did between two moments: round trips, and commands by name with their time.

Redis counts every command it runs, the ones a Lua script calls included (``INFO commandstats``),
so commands do not tell round trips apart from script work. Read events (``INFO stats``
``total_reads_processed``) do: one request, pipelined or not, is one read on a quiet connection,
so reads are the round trips clients made. Both are snapshotted in one pipelined call.
"""

from __future__ import annotations

import redis


class RedisCalls:
    """Round trips and commands a Redis server processed between :meth:`start` and :meth:`stop`."""

    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        self._before: tuple[int, dict[str, tuple[int, int]]] = (0, {})
        self.round_trips = 0
        #: command -> (calls, microseconds of Redis time), scripts' own commands included
        self.commands: dict[str, tuple[int, int]] = {}

    def _snapshot(self) -> tuple[int, dict[str, tuple[int, int]]]:
        pipe = self._client.pipeline(transaction=False)
        pipe.info("stats")
        pipe.info("commandstats")
        stats, commandstats = pipe.execute()
        commands = {
            name.removeprefix("cmdstat_"): (int(row["calls"]), int(row["usec"]))
            for name, row in commandstats.items()
        }
        return int(stats["total_reads_processed"]), commands

    def start(self) -> None:
        self._before = self._snapshot()

    def stop(self) -> None:
        """Take the difference since :meth:`start` (this class's own two snapshots left out)."""
        reads, commands = self._snapshot()
        before_reads, before = self._before
        self.round_trips = reads - before_reads - 1  # the second snapshot's own read
        self.commands = {}
        for name, (calls, usec) in commands.items():
            was_calls, was_usec = before.get(name, (0, 0))
            if calls > was_calls and name != "info":  # INFO: only these snapshots ask for it
                self.commands[name] = (calls - was_calls, usec - was_usec)
