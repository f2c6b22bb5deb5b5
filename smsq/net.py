"""Addresses and ports on this host: what the servers smsq starts bind to."""

from __future__ import annotations

import contextlib
import ipaddress
import socket


def is_loopback(host: str | None) -> bool:
    """True when ``host``, an address or name to bind, is reachable from this machine only.

    ``""`` (every interface) and names other than ``localhost`` (they may resolve to anything) are not.
    """
    return host == "localhost" or is_loopback_address(host)


def is_loopback_address(address_text: str | None) -> bool:
    """True when ``address_text`` is a loopback IP address (a peer's, say); never for a name.

    An IPv4 address mapped into IPv6 counts as itself; a scope id (``fe80::1%eth0``) is ignored.
    """
    if not address_text:
        return False
    try:
        address = ipaddress.ip_address(address_text.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_or_free(preferred: int) -> int:
    """``preferred`` if nothing listens there, else any free port.

    The probe binds as the servers do, with ``SO_REUSEADDR``: connections a stopped stack left in
    TIME_WAIT (a minute) do not keep a restart off its usual port; a listener still does."""
    with socket.socket() as sock, contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", preferred))
        return preferred
    return free_port()
