"""Addresses and ports on this host: what the servers smsq starts bind to."""

from __future__ import annotations

import contextlib
import ipaddress
import socket


def is_loopback(host: str) -> bool:
    """True when ``host`` only accepts connections from this machine (``""`` means every interface,
    and a name other than ``localhost`` may resolve to anything, so both count as reachable)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_or_free(preferred: int) -> int:
    """``preferred`` if nothing listens there, else any free port."""
    with socket.socket() as sock, contextlib.suppress(OSError):
        sock.bind(("127.0.0.1", preferred))
        return preferred
    return free_port()
