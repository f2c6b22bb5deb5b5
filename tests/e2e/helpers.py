"""Waiting for sends to finish, and collecting Celery task events, against real workers."""

from __future__ import annotations

import threading
import time
from typing import Any

from celery import Celery

from producers import SendStatus, get_status


def wait_final(ticket: str, timeout_s: float = 30.0) -> SendStatus:
    """Poll the status until the send is in a final state."""
    deadline = time.monotonic() + timeout_s
    status = get_status(ticket)
    while not status.state.final and time.monotonic() < deadline:
        time.sleep(0.05)
        status = get_status(ticket)
    return status


class EventRecorder:
    """Every Celery event (task-sent, task-received, task-succeeded…) seen while it runs."""

    def __init__(self, broker_url: str) -> None:
        self.events: list[dict[str, Any]] = []
        self._app = Celery("smsq-test-events", broker=broker_url, set_as_current=False)
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with self._app.connection() as connection:
            receiver = self._app.events.Receiver(connection, handlers={"*": self.events.append})
            self._ready.set()
            while not self._stop.is_set():
                try:
                    receiver.capture(limit=None, timeout=0.5, wakeup=False)
                except TimeoutError:  # no event within the timeout: look at the stop flag again
                    continue

    def __enter__(self) -> EventRecorder:
        self._thread.start()
        self._ready.wait(10)
        time.sleep(0.5)  # the subscription is in place once the receiver consumes
        return self

    def __exit__(self, *exc: object) -> None:
        time.sleep(1.0)  # let the last events arrive
        self._stop.set()
        self._thread.join(timeout=5)
