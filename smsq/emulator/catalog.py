"""The preset (gifted) signatures and templates of the SMS Authentication Service, and SMS rendering."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

#: Sign names accepted by default. ``速通互联验证码`` is Alibaba's own documented example value; the English
#: user guide names "Hengchuang Lianzhong". Others can be added with ``--sign-name`` (repeatable).
DEFAULT_SIGN_NAMES: Final = ("速通互联验证码", "Hengchuang Lianzhong")


@dataclass(frozen=True, slots=True)
class Template:
    """A preset template: its purpose, variables and text (``{sign}`` plus one ``{var}`` per variable)."""

    purpose: str
    variables: frozenset[str]
    text: str

    def render(self, sign_name: str, params: Mapping[str, str]) -> str:
        """The SMS as the phone shows it."""
        return self.text.format(sign=sign_name, **params)


_TAIL = "尊敬的客户，以上验证码{min}分钟内有效，请注意保密，切勿告知他人。"
_CODE_MIN = frozenset({"code", "min"})

#: Preset templates. Only 100001's text is documented (a third-party quote); the purposes of 100002–100005
#: come from third-party integrations that disagree, so their texts are the emulator's own wording.
TEMPLATES: Final[Mapping[str, Template]] = {
    "100001": Template("login / registration", _CODE_MIN, "【{sign}】您的验证码为{code}。" + _TAIL),
    "100002": Template(
        "change bound phone", _CODE_MIN, "【{sign}】您正在修改绑定手机号，验证码为{code}。" + _TAIL
    ),
    "100003": Template("reset password", _CODE_MIN, "【{sign}】您正在重置密码，验证码为{code}。" + _TAIL),
    "100004": Template("bind new phone", _CODE_MIN, "【{sign}】您正在绑定新手机号，验证码为{code}。" + _TAIL),
    "100005": Template(
        "verify identity", _CODE_MIN, "【{sign}】您正在进行身份验证，验证码为{code}。" + _TAIL
    ),
}

#: Alphabets per ``CodeType`` (1 digits … 7 digits + upper + lower).
_DIGITS, _UPPER, _LOWER = "0123456789", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz"
CODE_ALPHABETS: Final[Mapping[int, str]] = {
    1: _DIGITS,
    2: _UPPER,
    3: _LOWER,
    4: _UPPER + _LOWER,
    5: _DIGITS + _UPPER,
    6: _DIGITS + _LOWER,
    7: _DIGITS + _UPPER + _LOWER,
}

CODE_PLACEHOLDER: Final = "##code##"


# --- delivery receipts (DypnsSmsVerifyReport) ---------------------------------------------------

#: ``err_code`` / ``err_msg`` of a receipt the handset received (Alibaba's own sample text).
DELIVERED: Final = "DELIVERED"
DELIVERED_MSG: Final = "用户接收成功"

#: Carrier status codes that Chinese carriers put in failed delivery reports and Alibaba passes on as
#: ``err_code``, with the meaning the carriers' status-report tables give (China Mobile CMPP ``MK:``/``MI:``/
#: ``IB:`` codes and the SMPP-style final states). Alibaba publishes no table for Dypnsapi receipts; these
#: are the common ones from the carriers' tables and SMS vendors' documentation (see the README).
UNDELIVERED_CODES: Final[Mapping[str, str]] = {
    "MK:0001": "不存在的用户（空号）",
    "MK:0005": "呼叫被禁止，该用户的短信业务被停用",
    "MK:0008": "用户不在服务区",
    "MI:0024": "用户手机关机",
    "MI:0054": "空号、停机或关机",
    "UNDELIV": "用户状态异常（停机、挂起），无法接收短信",
    "EXPIRED": "用户长时间关机或不在服务区，短信超时未送达",
    "REJECTD": "短信被运营商拒绝",
    "IB:0008": "运营商网关流量控制",
}

#: The code for numbers under an undelivered prefix: a pumped range whose numbers do not exist.
NUMBER_NOT_FOUND: Final = "MK:0001"

_SINGLE_SMS_CHARS = 70  # one SMS holds 70 characters (UCS-2, so Chinese and ASCII alike)
_PART_CHARS = 67  # a long SMS is split into parts of 67 (3 go to the concatenation header)


def sms_parts(text: str) -> int:
    """How many SMS parts ``text`` is billed as (a receipt's ``sms_size``)."""
    if len(text) <= _SINGLE_SMS_CHARS:
        return 1
    return -(-len(text) // _PART_CHARS)
