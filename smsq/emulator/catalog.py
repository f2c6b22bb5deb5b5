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
