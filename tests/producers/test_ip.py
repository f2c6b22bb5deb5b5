"""Client IPs count per person, not per address: IPv6 per /64, IPv4 inside IPv6 as itself, scope
ids ignored (finding 4)."""

from __future__ import annotations

import ipaddress

import pytest
import redis
from hypothesis import given
from hypothesis import strategies as st

from producers import InvalidArgument, RateLimited, send_code
from producers.ip import ip_bucket, normalize_ip
from tests.conftest import clear_process_caches


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


@pytest.fixture
def two_per_hour(
    smsq_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, redis_client: redis.Redis
) -> None:
    monkeypatch.setenv("SMSQ_LANES", '{"default": "50/second", "parked": "1/second"}')
    monkeypatch.setenv("SMSQ_IP_LIMITS", "2/hour")
    clear_process_caches()
    redis_client.delete("smsq.parked")


@pytest.mark.usefixtures("two_per_hour")
@pytest.mark.parametrize(
    "addresses",
    [
        ["2001:db8::1", "2001:db8::2", "2001:db8::3", "2001:db8::ffff:4"],
        ["203.0.113.7", "::ffff:203.0.113.7", "::ffff:cb00:7107", "2002:cb00:7107::9"],
        ["fe80::1%x", "fe80::1%y", "fe80::2%eth0", "fe80::3"],
    ],
)
def test_one_person_cannot_multiply_their_send_budget_by_changing_address(addresses: list[str]) -> None:
    """Finding 4: each of these got its own budget, so 6 of 6 sends passed under 2/hour."""
    accepted = 0
    for n, address in enumerate(addresses):
        try:
            send_code(f"1351111{n:04d}", lane="parked", client_ip=address)
            accepted += 1
        except RateLimited as refused:
            assert refused.rule == "ip:2/hour"
    assert accepted == 2
