"""Client IPs count per person, not per address: IPv6 per /64, IPv4 inside IPv6 as itself, scope
ids ignored (finding 4)."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from producers import InvalidArgument
from producers.ip import ip_bucket, normalize_ip


@pytest.mark.parametrize(
    ("given_ip", "bucket"),
    [
        ("203.0.113.7", "203.0.113.7"),
        (" 203.0.113.7 ", "203.0.113.7"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("::FFFF:cb00:7107", "203.0.113.7"),
        ("2002:cb00:7107::1", "203.0.113.7"),  # 6to4 carries its IPv4 address
        ("2001:db8::1", "2001:db8::/64"),
        ("2001:db8::ffff:1:2", "2001:db8::/64"),
        ("2001:db8:0:1::1", "2001:db8:0:1::/64"),
        ("fe80::1%eth0", "fe80::/64"),
        ("fe80::2%25", "fe80::/64"),
    ],
)
def test_an_ip_counts_in_its_bucket(given_ip: str, bucket: str) -> None:
    assert ip_bucket(given_ip) == bucket


@pytest.mark.parametrize(
    "bad", ["", "not-an-ip", "999.1.1.1", "1.2.3.4/24", "::1::2", "%eth0", "1" * 200, 5, None]
)
def test_anything_else_is_refused_as_an_invalid_argument(bad: object) -> None:
    with pytest.raises(InvalidArgument):
        ip_bucket(bad)
    assert normalize_ip(bad) is None


@given(st.ip_addresses(v=6), st.integers(0, 2**64 - 1))
def test_every_address_of_one_ipv6_64_shares_one_bucket(address: ipaddress.IPv6Address, host: int) -> None:
    if address.ipv4_mapped or address.sixtofour or address.teredo:
        return  # these count as the IPv4 address they carry
    neighbour = ipaddress.IPv6Address((int(address) >> 64 << 64) | host)
    assert ip_bucket(str(address)) == ip_bucket(str(neighbour))
