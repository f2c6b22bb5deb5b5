"""Look up where a send is, by ticket: ``get_status``, and ``aget_status`` on the event loop."""

from __future__ import annotations

from producers.effect import Flow, awaitable, blocking
from producers.records import SendStatus
from producers.settings import get_settings
from producers.store import status_op


def looking_up(ticket: str) -> Flow[SendStatus]:
    """The send's current state and delivery (phone masked); raises ``TicketNotFound`` past its
    record TTL."""
    return (yield from status_op(ticket, receipt_wait_s=get_settings().receipt_wait_s))


get_status = blocking(looking_up, "get_status")
aget_status = awaitable(looking_up, "aget_status")
