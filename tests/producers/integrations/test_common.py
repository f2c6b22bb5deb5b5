"""The framework-neutral part of the integrations: JSON bodies and the client IP behind proxies."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from producers import InvalidArgument, TicketNotFound
from producers.integrations.common import (
    MAX_BODY_BYTES,
    SEND_FIELDS,
    forwarded_ip,
    json_object,
    status_answer,
)
from producers.ip import normalize_ip


@pytest.mark.parametrize(
    ("raw", "content_type", "reason"),
    [
        (b'{"phone": "1"}', "text/plain", "unsupported_media_type"),
        (b'{"phone": "1"}', None, "unsupported_media_type"),
        (b"phone=1", "application/x-www-form-urlencoded", "unsupported_media_type"),
        (b'{"phone": ', "application/json", "malformed_json"),
        (b"\xff\xfe", "application/json", "malformed_json"),
        (b"[" * 10_000, "application/json", "malformed_json"),
        (b'["13612345678"]', "application/json", "malformed_json"),
        (b'{"phone": "1", "client_ip": "1.2.3.4"}', "application/json", "invalid_argument"),
        (json.dumps({"phone": "x" * MAX_BODY_BYTES}).encode(), "application/json", "body_too_large"),
    ],
)
def test_a_body_that_is_not_a_small_json_object_of_known_fields_is_refused(
    raw: bytes, content_type: str | None, reason: str
) -> None:
    with pytest.raises(InvalidArgument) as info:
        json_object(raw, content_type, SEND_FIELDS)
    assert info.value.reason == reason


def test_a_json_body_with_a_charset_parameter_is_accepted() -> None:
    body = json_object(b'{"phone": "13511112222"}', "Application/JSON; charset=utf-8", SEND_FIELDS)
    assert body == {"phone": "13511112222"}


def test_a_malformed_ticket_is_not_found_without_asking_redis() -> None:
    with pytest.raises(TicketNotFound):
        status_answer("../../etc/passwd")


@pytest.mark.parametrize(
    ("remote", "forwarded", "hops", "expected"),
    [
        ("10.0.0.1", None, 0, "10.0.0.1"),
        ("10.0.0.1", "203.0.113.5", 0, "10.0.0.1"),  # off by default: the header is anyone's word
        ("10.0.0.1", "203.0.113.5", 1, "203.0.113.5"),
        ("10.0.0.1", "6.6.6.6, 203.0.113.5", 1, "203.0.113.5"),  # the client's own entry is ignored
        ("10.0.0.1", "6.6.6.6, 203.0.113.5, 10.0.0.2", 2, "203.0.113.5"),
        ("10.0.0.1", "203.0.113.5", 2, "10.0.0.1"),  # fewer entries than proxies: the peer
        ("10.0.0.1", "not-an-ip", 1, "10.0.0.1"),
        ("10.0.0.1", " 2001:db8::1 ", 1, "2001:db8::1"),
        ("10.0.0.1", "::ffff:203.0.113.7", 1, "203.0.113.7"),  # one IPv4 client, however written
        ("10.0.0.1", "fe80::1%eth0", 1, "fe80::1"),  # a scope id is no part of the address
        ("::ffff:10.0.0.9", None, 0, "10.0.0.9"),
        (None, None, 0, None),
        ("testclient", None, 0, None),
        ("/run/app.sock", "203.0.113.5", 1, "203.0.113.5"),
        # proxies that append the client's port (Azure Application Gateway): the address counts
        ("10.0.0.1", "6.6.6.6, 203.0.113.7:51234", 1, "203.0.113.7"),
        ("10.0.0.1", "[2001:db8::7]:51234", 1, "2001:db8::7"),
        ("10.0.0.1", "[2001:db8::7]", 1, "2001:db8::7"),
        ("10.0.0.1", "203.0.113.7:port", 1, "10.0.0.1"),
    ],
)
def test_the_client_ip_behind_trusted_proxies(
    remote: str | None, forwarded: str | None, hops: int, expected: str | None
) -> None:
    assert forwarded_ip(remote, forwarded, hops) == expected


@given(st.data(), st.lists(st.ip_addresses().map(str), min_size=1, max_size=6), st.text(max_size=40))
def test_entries_left_of_the_trusted_proxies_never_decide(
    data: st.DataObject, appended: list[str], spoofed: str
) -> None:
    """Whatever the client writes in the header, the entry the outermost proxy appended comes out."""
    hops = data.draw(st.integers(min_value=1, max_value=len(appended)), label="proxies")
    header = ", ".join([spoofed, *appended])
    assert forwarded_ip("192.0.2.1", header, hops) == normalize_ip(appended[-hops])
