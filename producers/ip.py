"""Client IPs: one canonical form, and the bucket a per-IP limit counts them in.

One person rarely holds one IPv6 address: a home or a phone gets a whole /64 and picks addresses
from it at will, so an IPv6 limit keyed by the full address counts nothing. The rules, applied to
every IP smsq limits (sends and checks) and to the forwarded headers the gateway and the
integrations read:

- a zone or scope id is dropped (``fe80::1%eth0`` is ``fe80::1``);
- an IPv4 address carried inside IPv6 is that IPv4 address (``::ffff:203.0.113.7``, 6to4
  ``2002:cb00:7107::``, Teredo's client);
- IPv4 counts per address, IPv6 per /64 (``2001:db8::1`` and ``2001:db8::2`` share a budget).
"""

from __future__ import annotations

import ipaddress

from producers.errors import InvalidArgument

#: Prefix length an IPv6 client is bucketed by: the smallest block a subscriber is given (RFC 6177).
IPV6_BUCKET_PREFIX = 64
#: Longer text is no IP address (the longest IPv6 form with a zone id is well under this).
_MAX_TEXT = 100

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_ip(text: object) -> IPAddress:
    """``text`` as an address without its scope id, an embedded IPv4 address unwrapped.

    Raises :class:`~producers.errors.InvalidArgument` when it is not an IP address."""
    if not isinstance(text, str) or len(text) > _MAX_TEXT:
        raise InvalidArgument("client_ip is not an IP address")
    try:
        address = ipaddress.ip_address(text.strip().split("%", 1)[0])
    except ValueError:
        raise InvalidArgument("client_ip is not an IP address") from None
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or (address.teredo or (None, None))[1]
        if embedded is not None:
            return embedded
    return address


def normalize_ip(text: object) -> str | None:
    """The canonical text of ``text`` (see :func:`parse_ip`), or None when it is no IP address."""
    try:
        return str(parse_ip(text))
    except InvalidArgument:
        return None


def ip_bucket(text: object) -> str:
    """The subject a per-IP limit counts ``text`` under: an IPv4 address, or an IPv6 /64.

    ``"2001:db8::1"`` → ``"2001:db8::/64"``; ``"::ffff:203.0.113.7"`` → ``"203.0.113.7"``.
    Raises :class:`~producers.errors.InvalidArgument` when it is not an IP address."""
    address = parse_ip(text)
    if isinstance(address, ipaddress.IPv4Address):
        return str(address)
    return str(ipaddress.IPv6Network((address, IPV6_BUCKET_PREFIX), strict=False))
