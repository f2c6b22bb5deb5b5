"""Request signatures exactly as the Alibaba Cloud SDK computes them; pure functions, no I/O.

* ACS3-HMAC-SHA256 (the SDK default, ``Authorization`` header), as Alibaba documents it.
* Legacy RPC HMAC-SHA1 (``Config(signature_algorithm='v2')``, ``Signature`` in the query).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import quote

ACS3_HMAC_SHA256 = "ACS3-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


@dataclass(frozen=True, slots=True)
class Authorization:
    """The parts of an ``Authorization: ACS3-... Credential=..,SignedHeaders=..,Signature=..`` header."""

    algorithm: str
    key_id: str
    signed_headers: tuple[str, ...]
    signature: str


def parse_authorization(value: str) -> Authorization | None:
    """Split an ACS3 ``Authorization`` header; None when it is not well formed."""
    algorithm, _, rest = value.strip().partition(" ")
    fields: dict[str, str] = {}
    for part in rest.split(","):
        name, sep, content = part.strip().partition("=")
        if not sep:
            return None
        fields[name] = content
    try:
        key_id, signed, signature = fields["Credential"], fields["SignedHeaders"], fields["Signature"]
    except KeyError:
        return None
    if not (algorithm and key_id and signed and signature):
        return None
    return Authorization(algorithm, key_id, tuple(signed.split(";")), signature)


def _pct(value: str) -> str:
    return quote(value, safe="~", encoding="utf-8")


def canonical_query(params: Iterable[tuple[str, str]]) -> str:
    """Sorted ``key=pct(value)`` pairs joined by ``&`` (keys as sent, like the SDK)."""
    return "&".join(f"{key}={_pct(value)}" for key, value in sorted(params))


def canonical_headers(headers: Mapping[str, list[str]], names: Iterable[str]) -> str:
    """``name:v1,v2\\n`` lines for ``names`` (already lower case and sorted by the signer)."""
    lines = []
    for name in names:
        values = sorted(value.strip() for value in headers.get(name, ()))
        lines.append(f"{name}:{','.join(values)}\n")
    return "".join(lines)


def acs3_signature(
    *,
    method: str,
    path: str,
    params: Iterable[tuple[str, str]],
    headers: Mapping[str, list[str]],
    signed_headers: tuple[str, ...],
    payload_sha256: str,
    secret: str,
) -> str:
    """The lower-case hex ACS3-HMAC-SHA256 signature of a request.

    ``headers`` maps lower-case names to every value the request carries for that name.
    """
    canonical_request = "\n".join(
        (
            method.upper(),
            path or "/",
            canonical_query(params),
            canonical_headers(headers, signed_headers),
            ";".join(signed_headers),
            payload_sha256,
        )
    )
    digest = hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()
    string_to_sign = f"{ACS3_HMAC_SHA256}\n{digest}"
    return hmac.new(secret.encode("utf-8"), string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def rpc_signature(method: str, params: Iterable[tuple[str, str]], secret: str) -> str:
    """The base64 HMAC-SHA1 signature of a legacy RPC request (every param except ``Signature``)."""
    canonical = "&".join(f"{_pct(key)}={_pct(value)}" for key, value in sorted(params) if key != "Signature")
    string_to_sign = f"{method.upper()}&%2F&{_pct(canonical)}"
    digest = hmac.new(f"{secret}&".encode(), string_to_sign.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def same(expected: str, given: str) -> bool:
    """Constant-time comparison of two signatures."""
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8"))
