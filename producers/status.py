"""Look up where a send is, by ticket."""

from __future__ import annotations

from producers.connections import get_redis
from producers.records import SendStatus
from producers.settings import get_settings
from producers.store import store_for


def get_status(ticket: str) -> SendStatus:
    """The send's current state and delivery (phone masked); raises ``TicketNotFound`` past its
    record TTL."""
    return store_for(get_redis()).status(ticket, receipt_wait_s=get_settings().receipt_wait_s)
