"""Chaos runs: real workers, a private persistent Redis and the emulator, broken on purpose under load.

``smsq chaos [SCENARIO...] [--pool threads|prefork|both] [--quick] [--json F] [--plot F.png]``
(:mod:`smsq.cli.chaos_cmd`) runs them. One module per job:

- :mod:`~smsq.chaos.bed` — Redis (AOF, fixed port), the emulator, ``smsq worker`` hosts, and their levers
- :mod:`~smsq.chaos.load` — this process as the producer: paced ``send_code`` calls, every attempt recorded
- :mod:`~smsq.chaos.faults` — kill -9 of a worker process or host, Redis restart and outage, provider faults
- :mod:`~smsq.chaos.monitor` — worker processes that exit by themselves; dead hosts restarted
- :mod:`~smsq.chaos.ledger` — statuses (``producers.get_status``) and the outbox, watched over time
- :mod:`~smsq.chaos.judge` — lost, doubled, false status, final states that change, takeover times
- :mod:`~smsq.chaos.scenarios`, :mod:`~smsq.chaos.runner`, :mod:`~smsq.chaos.report`, :mod:`~smsq.chaos.plots`

The judge reads only the emulator's outbox and smsq's public status lookup, never smsq's records or
queues directly, so a bug in smsq cannot hide itself.
"""
