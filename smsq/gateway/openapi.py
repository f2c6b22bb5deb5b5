"""The gateway's contract, ``openapi.json`` beside this module (OpenAPI 3.1), served at ``/openapi.json``.

The JSON file is the one source: ``make lint`` validates it (``ops/checks.py``), and tests fail when
a gateway route, an smsq error's ``reason`` or an answer's fields are missing from it.
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any


@cache
def openapi_document() -> dict[str, Any]:
    """The document, read once (treat it as read-only)."""
    text = files("smsq.gateway").joinpath("openapi.json").read_text(encoding="utf-8")
    document: dict[str, Any] = json.loads(text)
    return document
