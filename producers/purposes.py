"""Purposes: what a code is for (login, reset…), and the template, scheme and limits it is sent with.

``SMSQ_PURPOSES`` maps each purpose to its provider parameters; what one leaves out comes from the
global settings (``SMSQ_SIGN_NAME``, ``SMSQ_TEMPLATE_CODE``…). Only template ``100001`` (login and
registration, with the preset signature) is confirmed for individual accounts, so every purpose
defaults to it. smsq binds a code to its purpose itself, whatever the schemes: a check names the
purpose, and only a live code sent for that purpose can pass it (:mod:`producers.check`).

``##min##`` in a template's parameters becomes the code's validity in whole minutes, so the text
the user reads ("valid for 5 minutes") follows the purpose's ``code_ttl_s``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from producers.errors import InvalidInput
from producers.limits import Rate, parse_rates

#: What a purpose name looks like (send_code and check_code refuse anything else).
PURPOSE_NAME = re.compile(r"[A-Za-z0-9_.:-]{1,32}")
#: Where the code goes in TemplateParam (Alibaba generates it), and where smsq puts the validity.
CODE_PLACEHOLDER = "##code##"
MINUTES_PLACEHOLDER = "##min##"
_EXPECTED = (
    'expected a JSON object of purpose to settings, e.g. {"login": {}, "reset": {"scheme_name": '
    '"reset", "code_ttl_s": 600}}'
)


def _template_param(value: object) -> object:
    if isinstance(value, Mapping):
        value = json.dumps(dict(value), ensure_ascii=False, separators=(",", ":"))
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            raise ValueError("template_param is not valid JSON") from None
        if not isinstance(parsed, dict) or CODE_PLACEHOLDER not in parsed.values():
            raise ValueError(f'template_param must be a JSON object with a "{CODE_PLACEHOLDER}" value')
    return value


def _limits(value: object) -> object:
    if isinstance(value, str):
        try:
            return parse_rates(value)
        except InvalidInput as exc:
            raise ValueError(f"{exc} (expected rules like 100/minute;1000/hour)") from None
    return value


class PurposeSpec(BaseModel):
    """One purpose as configured: every field optional (the global settings fill the rest)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sign_name: str | None = Field(default=None, min_length=1)
    template_code: str | None = Field(default=None, min_length=1)
    #: A JSON object (or its text) with a ``##code##`` value; ``##min##`` becomes the validity.
    template_param: Annotated[str | None, BeforeValidator(_template_param)] = None
    #: The provider's SchemeName (at most 20 characters): purposes sharing one share live codes.
    scheme_name: str | None = Field(default=None, min_length=1, max_length=20)
    code_length: int | None = Field(default=None, ge=4, le=8)
    code_ttl_s: int | None = Field(default=None, ge=60, le=3600)
    #: Sends of this purpose by everyone (the ``purpose`` limit scope), e.g. "100/minute".
    limits: Annotated[tuple[Rate, ...] | None, BeforeValidator(_limits)] = None


@dataclass(frozen=True, slots=True)
class Purpose:
    """A purpose with every value resolved: what the provider is sent for its codes."""

    name: str
    sign_name: str
    template_code: str
    #: TemplateParam as sent, ``##min##`` already replaced by the validity in minutes.
    template_param: str
    scheme_name: str
    code_length: int
    code_ttl_s: int
    limits: tuple[Rate, ...]

    @classmethod
    def of(cls, name: str, spec: PurposeSpec, defaults: PurposeSpec | None = None) -> Purpose:
        """Resolve ``spec``, taking what it leaves out from ``defaults`` (which must be complete)."""
        base = defaults or spec

        def pick(field: str) -> object:
            value = getattr(spec, field)
            return getattr(base, field) if value is None else value

        code_ttl_s = int(str(pick("code_ttl_s")))
        template = str(pick("template_param"))
        minutes = str(math.ceil(code_ttl_s / 60))
        limits = pick("limits")
        return cls(
            name=name,
            sign_name=str(pick("sign_name")),
            template_code=str(pick("template_code")),
            template_param=template.replace(MINUTES_PLACEHOLDER, minutes),
            scheme_name=str(pick("scheme_name")),
            code_length=int(str(pick("code_length"))),
            code_ttl_s=code_ttl_s,
            limits=tuple(limits) if isinstance(limits, tuple) else (),
        )


def parse_purposes(value: object) -> dict[str, PurposeSpec]:
    """``SMSQ_PURPOSES`` (JSON text, or a mapping given in code) as specs; raises ``ValueError``
    with one line saying which purpose and field is wrong."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ValueError(f"not valid JSON ({_EXPECTED})") from None
    if not isinstance(value, Mapping) or not value:
        raise ValueError(f"must be a non-empty JSON object ({_EXPECTED})")
    specs: dict[str, PurposeSpec] = {}
    for name, spec in value.items():
        if not isinstance(name, str) or not PURPOSE_NAME.fullmatch(name):
            raise ValueError(f"purpose name {str(name)[:40]!r} must be 1-32 of letters, digits and _.:-")
        if isinstance(spec, PurposeSpec):
            specs[name] = spec
            continue
        if not isinstance(spec, Mapping):
            raise ValueError(f"purpose {name!r} must be a JSON object ({_EXPECTED})")
        try:
            specs[name] = PurposeSpec(**spec)
        except ValidationError as exc:
            first = exc.errors(include_input=False, include_url=False)[0]
            field = ".".join(str(part) for part in first["loc"])
            message = str(first["msg"]).removeprefix("Value error, ")
            raise ValueError(f"purpose {name!r}: {field}: {message}") from None
    return specs


def resolve_purposes(specs: Mapping[str, PurposeSpec] | None, *, defaults: PurposeSpec) -> dict[str, Purpose]:
    """Every configured purpose, resolved against ``defaults`` (empty when none is configured)."""
    return {name: Purpose.of(name, spec, defaults) for name, spec in (specs or {}).items()}
