"""The gateway's access log, read from a real ``smsq gateway`` process: a request that matched no route
logs a placeholder, not its path (a mistyped receipt URL carries the path secret), and a phone number
in a matched path is masked whatever separates its digits."""

from __future__ import annotations

import uuid

from smsq.devstack.processes import wait_until
from tests.smsq.gateway_client import Gateway, StartGateway

SECRET = "access-log-receipt-secret-q8Zr3kW1xV7mN2pLc5Hd"

#: Paths near the receipt route that match no route: each carries the secret.
NEAR_MISSES = [
    f"/{SECRET}",
    f"//receipts/{SECRET}",
    f"/smsq/receipts/{SECRET}",
    f"/receipts/{SECRET}/",
    f"/receipts/{SECRET}/x",
    f"/Receipts/{SECRET}",
    f"/v1/receipts/{SECRET}",
    f"/v1/codes/{SECRET}/x",
]


def logged_up_to(gateway: Gateway, marker: str) -> str:
    """The gateway's log once a request for ``marker`` (made last) has its access line."""
    gateway.call("GET", f"/v1/codes/{marker}")
    wait_until(lambda: f"GET /v1/codes/{marker} 404" in gateway.log(), timeout_s=10, what="the access line")
    return gateway.log()


def test_a_request_that_matches_no_route_is_logged_without_its_path(
    smsq_env: dict[str, str], start_gateway: StartGateway
) -> None:
    gateway = start_gateway(SMSQ_RECEIPT_PATH_SECRET=SECRET)
    for path in NEAR_MISSES:
        assert gateway.call("POST", path, []).status == 404, path
        assert gateway.call("GET", path).status == 404, path
    assert gateway.call("DELETE", "/v1/codes").status == 405
    assert gateway.call("POST", f"/receipts/{SECRET[:-1]}", []).status == 404  # the route, a wrong secret

    log = logged_up_to(gateway, uuid.uuid4().hex)
    assert "q8Zr3kW1xV7mN2pL" not in log, log  # nor any part of the secret
    assert log.count("POST <unmatched> 404") == len(NEAR_MISSES), log
    assert log.count("GET <unmatched> 404") == len(NEAR_MISSES), log
    assert "DELETE <unmatched> 405" in log, log
    assert "POST /receipts/*** 404" in log, log


def test_a_phone_number_in_a_matched_path_is_masked_whatever_separates_its_digits(
    smsq_env: dict[str, str], start_gateway: StartGateway
) -> None:
    gateway = start_gateway()
    spellings = ["13512345678", "135_1234_5678", "135-1234-5678", "135a1234b5678", "86_135_1234_5678"]
    for spelling in spellings:
        assert gateway.call("GET", f"/v1/codes/{spelling}").status == 404, spelling  # no such ticket

    log = logged_up_to(gateway, uuid.uuid4().hex)
    for leaked in [*spellings, "12345678", "1234_5678", "1234b5678"]:
        assert leaked not in log, log
    assert log.count("GET /v1/codes/135****5678 404") == 4, log
    assert "GET /v1/codes/861******5678 404" in log, log
