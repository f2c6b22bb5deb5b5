"""The two Dypnsapi actions: parse the wire parameters, apply the store's rules, build the JSON body."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import phonenumbers

from smsq.emulator import errors
from smsq.emulator.catalog import TEMPLATES
from smsq.emulator.faults import Outcome
from smsq.emulator.receipts import ReceiptBook
from smsq.emulator.state import SendRequest, Stats, Store

SEND = "SendSmsVerifyCode"
CHECK = "CheckSmsVerifyCode"
DEFAULT_SCHEME = "默认方案"
MAX_SCHEME_CHARS = 20
MAX_VALID_TIME_S = 86_400  # the reference gives no upper bound; a day keeps the code store bounded
MAX_INTERVAL_S = 86_400
MAX_TEMPLATE_PARAM_CHARS = 2000


@dataclass(frozen=True, slots=True)
class Context:
    """What an action needs besides its parameters."""

    store: Store
    stats: Stats
    receipts: ReceiptBook
    sign_names: frozenset[str]
    daily_limit: int | None
    access_key_id: str
    request_id: str


def _required(params: Mapping[str, str], name: str) -> str:
    value = params.get(name)
    if not value:
        raise errors.MissingParameter(name)
    return value


def _int(params: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise errors.InvalidParameter(f"The parameter {name} must be an integer.") from None
    if not low <= value <= high:
        raise errors.InvalidParameter(f"The parameter {name} must be between {low} and {high}.")
    return value


def _bool(params: Mapping[str, str], name: str) -> bool:
    raw = params.get(name, "false").lower()
    if raw not in ("true", "false"):
        raise errors.InvalidParameter(f"The parameter {name} must be true or false.")
    return raw == "true"


def _scheme(params: Mapping[str, str]) -> str:
    scheme = params.get("SchemeName") or DEFAULT_SCHEME
    if len(scheme) > MAX_SCHEME_CHARS:
        raise errors.InvalidParameter(
            f"The parameter SchemeName is longer than {MAX_SCHEME_CHARS} characters."
        )
    return scheme


_PLAIN_MOBILE = re.compile(r"1[3-9]\d{9}\Z")


@lru_cache(maxsize=4096)
def _mobile_block(block: str) -> bool:
    # phonenumbers' CN mobile pattern decides on at most the first five digits (then ``\d{6}``), so a
    # number's 7-digit block settles it: checking one number of the block answers for all of them.
    return _parse_mobile(f"{block}0000") is not None


def mainland_mobile(raw: str) -> str | None:
    """The 11-digit national number when ``raw`` is a mainland-China mobile number, else None."""
    if _PLAIN_MOBILE.match(raw):  # the common form, answered from a per-block cache
        return raw if _mobile_block(raw[:7]) else None
    return _parse_mobile(raw)


def _parse_mobile(raw: str) -> str | None:
    try:
        number = phonenumbers.parse(raw, "CN")
    except phonenumbers.NumberParseException:
        return None
    mobile_types = (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)
    if number.country_code != 86 or not phonenumbers.is_valid_number(number):
        return None
    if phonenumbers.number_type(number) not in mobile_types:
        return None
    return phonenumbers.national_significant_number(number)


def _phone(params: Mapping[str, str]) -> str:
    raw = _required(params, "PhoneNumber")
    country = params.get("CountryCode") or "86"
    if country not in ("86", "+86"):
        raise errors.InvalidParameters("Only mainland China numbers (CountryCode 86) are supported.")
    phone = mainland_mobile(raw)
    if phone is None:
        raise errors.MobileNumberIllegal()
    return phone


def _template_param(raw: str) -> dict[str, str]:
    if len(raw) > MAX_TEMPLATE_PARAM_CHARS:
        raise errors.InvalidParameters("TemplateParam is too long.")
    try:
        value = json.loads(raw)
    except ValueError:
        raise errors.InvalidParameters("TemplateParam is not a JSON object.") from None
    if not isinstance(value, dict) or not all(isinstance(v, str | int | float) for v in value.values()):
        raise errors.InvalidParameters("TemplateParam must be a JSON object of strings.")
    return {str(k): str(v) for k, v in value.items()}


def send_sms_verify_code(params: Mapping[str, str], ctx: Context, forced: Outcome) -> dict[str, Any]:
    """SendSmsVerifyCode: validate, then generate, store and deliver a code."""
    _required(params, "PhoneNumber")
    sign_name = _required(params, "SignName")
    template_code = _required(params, "TemplateCode")
    template_param = _required(params, "TemplateParam")
    scheme_name = _scheme(params)
    code_length = _int(params, "CodeLength", 4, 4, 8)
    code_type = _int(params, "CodeType", 1, 1, 7)
    valid_time_s = _int(params, "ValidTime", 300, 1, MAX_VALID_TIME_S)
    interval_s = _int(params, "Interval", 60, 0, MAX_INTERVAL_S)
    duplicate_policy = _int(params, "DuplicatePolicy", 1, 1, 2)
    return_code = _bool(params, "ReturnVerifyCode")
    if forced is Outcome.MOBILE_NUMBER_ILLEGAL:
        raise errors.MobileNumberIllegal()
    if forced is Outcome.BUSINESS_LIMIT_CONTROL:
        raise errors.BusinessLimitControl()
    phone = _phone(params)
    if sign_name not in ctx.sign_names:
        raise errors.SignNameNotExist()
    if template_code not in TEMPLATES:
        raise errors.TemplateIllegal()
    request = SendRequest(
        phone=phone,
        sign_name=sign_name,
        template_code=template_code,
        template_param=_template_param(template_param),
        scheme_name=scheme_name,
        code_length=code_length,
        code_type=code_type,
        valid_time_s=valid_time_s,
        interval_s=interval_s,
        duplicate_policy=duplicate_policy,
        out_id=params.get("OutId"),
        access_key_id=ctx.access_key_id,
        request_id=ctx.request_id,
    )
    message = ctx.store.send(request, ctx.daily_limit)
    ctx.stats.send_timestamps.append(message.sent_at)
    ctx.receipts.record(message, time.monotonic())
    model: dict[str, Any] = {"BizId": message.biz_id, "RequestId": ctx.request_id}
    if request.out_id is not None:
        model["OutId"] = request.out_id
    if return_code and message.code is not None:
        model["VerifyCode"] = message.code
    return _ok(ctx.request_id, model)


def check_sms_verify_code(params: Mapping[str, str], ctx: Context, forced: Outcome) -> dict[str, Any]:
    """CheckSmsVerifyCode: PASS when the code is live for this number and scheme (and use it up)."""
    del forced  # no magic business outcome applies to checks
    phone_raw = _required(params, "PhoneNumber")
    code = _required(params, "VerifyCode")
    scheme = _scheme(params)
    case_policy = _int(params, "CaseAuthPolicy", 1, 1, 2)
    phone = mainland_mobile(phone_raw)
    passed = phone is not None and ctx.store.check(phone, scheme, code, case_sensitive=case_policy == 2)
    model: dict[str, Any] = {"VerifyResult": "PASS" if passed else "UNKNOWN"}
    if "OutId" in params:
        model["OutId"] = params["OutId"]
    return _ok(ctx.request_id, model)


def _ok(request_id: str, model: dict[str, Any]) -> dict[str, Any]:
    return {"RequestId": request_id, "Code": "OK", "Message": "OK", "Success": True, "Model": model}


ActionHandler = Callable[[Mapping[str, str], Context, Outcome], dict[str, Any]]

#: The route table of actions served on ``/``.
ACTIONS: dict[str, ActionHandler] = {SEND: send_sms_verify_code, CHECK: check_sms_verify_code}
