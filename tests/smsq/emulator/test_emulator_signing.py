"""The signature verifier agrees with the SDK: the reference's test vector, and a property over requests."""

from __future__ import annotations

import hashlib
from types import SimpleNamespace
from urllib.parse import urlencode

from alibabacloud_tea_openapi.utils import Utils
from hypothesis import given, settings
from hypothesis import strategies as st

from smsq.emulator.gateway import parse_form
from smsq.emulator.signing import (
    EMPTY_SHA256,
    acs3_signature,
    canonical_query,
    parse_authorization,
    rpc_signature,
)

VECTOR_QUERY = {
    "PhoneNumber": "13800000000",
    "SignName": "速通互联验证码",
    "TemplateCode": "100001",
    "TemplateParam": '{"code":"##code##","min":"5"}',
    "CodeLength": "6",
    "ReturnVerifyCode": "True",
    "OutId": "a b+c",
}
VECTOR_HEADERS = {
    "host": "127.0.0.1:8080",
    "x-acs-version": "2017-05-25",
    "x-acs-action": "SendSmsVerifyCode",
    "user-agent": "AlibabaCloud (Linux; x86_64) Python/3.11.7 Core/0.4.3 TeaDSL/2",
    "x-acs-date": "2026-01-01T00:00:00Z",
    "x-acs-signature-nonce": "0123456789abcdef0123456789abcdef",
    "accept": "application/json",
    "x-acs-content-sha256": EMPTY_SHA256,
    "x-acs-credentials-provider": "static_ak",
}


def _verify(
    method: str, query: dict[str, str], headers: dict[str, str], authorization: str, secret: str
) -> bool:
    """What the server does: parse the wire query and the header, recompute, compare."""
    auth = parse_authorization(authorization)
    assert auth is not None
    expected = acs3_signature(
        method=method,
        path="/",
        params=parse_form(urlencode(query)).items(),  # the SDK's wire encoding, decoded as the server does
        headers={name: [value] for name, value in headers.items()},
        signed_headers=auth.signed_headers,
        payload_sha256=EMPTY_SHA256,
        secret=secret,
    )
    return expected == auth.signature


def _sdk_authorization(method: str, query: dict[str, str], headers: dict[str, str], secret: str) -> str:
    request = SimpleNamespace(pathname="/", method=method, query=query, headers=headers)
    return str(Utils.get_authorization(request, "ACS3-HMAC-SHA256", EMPTY_SHA256, "testid", secret))


def test_the_reference_test_vector_verifies() -> None:
    assert canonical_query(VECTOR_QUERY.items()).startswith("CodeLength=6&OutId=a%20b%2Bc&PhoneNumber=")
    canonical_request = "\n".join(
        [
            "POST",
            "/",
            canonical_query(VECTOR_QUERY.items()),
            "".join(f"{k}:{VECTOR_HEADERS[k]}\n" for k in sorted(VECTOR_HEADERS)),
            ";".join(sorted(VECTOR_HEADERS)),
            EMPTY_SHA256,
        ]
    )
    assert hashlib.sha256(canonical_request.encode()).hexdigest() == (
        "b9f46d9a3790f71163112a23551b9a88c7bcb6c15efa8c46d539306386ca4b9a"
    )
    signature = acs3_signature(
        method="POST",
        path="/",
        params=VECTOR_QUERY.items(),
        headers={k: [v] for k, v in VECTOR_HEADERS.items()},
        signed_headers=tuple(sorted(VECTOR_HEADERS)),
        payload_sha256=EMPTY_SHA256,
        secret="testsecret",
    )
    assert signature == "cfd39dfd102504ed686f391f11725ff5f98da1cd424e5f90ff139645bcb8093c"
    authorization = _sdk_authorization("POST", VECTOR_QUERY, VECTOR_HEADERS, "testsecret")
    assert authorization.endswith(f"Signature={signature}")


_text = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), st.sampled_from(" +*/~%&=#")
    ),
    max_size=30,
)
_keys = st.from_regex(r"[A-Z][A-Za-z]{0,15}", fullmatch=True)
_header_values = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=30
)


@st.composite
def _requests(draw: st.DrawFn) -> tuple[str, dict[str, str], dict[str, str], str]:
    method = draw(st.sampled_from(["POST", "GET"]))
    query = draw(st.dictionaries(_keys, _text, min_size=1, max_size=6))
    headers = dict(VECTOR_HEADERS)
    headers.update(
        draw(st.dictionaries(st.from_regex(r"x-acs-[a-z]{1,10}", fullmatch=True), _header_values, max_size=3))
    )
    secret = draw(
        st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=40)
    )
    return method, query, headers, secret


@settings(max_examples=150, deadline=None)
@given(_requests(), st.data())
def test_any_request_the_sdk_signs_verifies_and_any_change_to_a_signed_part_fails(
    request: tuple[str, dict[str, str], dict[str, str], str], data: st.DataObject
) -> None:
    method, query, headers, secret = request
    authorization = _sdk_authorization(method, query, headers, secret)
    assert _verify(method, query, headers, authorization, secret)

    part = data.draw(st.sampled_from(["query", "header", "method", "secret"]))
    if part == "query":
        key = data.draw(st.sampled_from(sorted(query)))
        changed = data.draw(_text.filter(lambda v: v != query[key]))
        assert not _verify(method, {**query, key: changed}, headers, authorization, secret)
    elif part == "header":
        name = data.draw(st.sampled_from(sorted(headers)))
        changed = data.draw(_header_values.filter(lambda v: v.strip() != headers[name].strip()))
        assert not _verify(method, query, {**headers, name: changed}, authorization, secret)
    elif part == "method":
        assert not _verify("GET" if method == "POST" else "POST", query, headers, authorization, secret)
    else:
        assert not _verify(method, query, headers, authorization, secret + "x")


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(_keys, _text, min_size=1, max_size=6), st.sampled_from(["POST", "GET"]))
def test_the_legacy_rpc_signature_matches_the_sdk(query: dict[str, str], method: str) -> None:
    expected = Utils.get_rpcsignature(query, method, "testsecret")
    assert rpc_signature(method, parse_form(urlencode(query)).items(), "testsecret") == expected
    assert rpc_signature(method, query.items(), "other") != expected


def test_a_malformed_authorization_header_is_not_parsed() -> None:
    assert parse_authorization("ACS3-HMAC-SHA256 Credential=k") is None
    assert parse_authorization("garbage") is None
    parsed = parse_authorization("ACS3-HMAC-SHA256 Credential=k,SignedHeaders=a;b,Signature=ff")
    assert parsed is not None and parsed.signed_headers == ("a", "b")
