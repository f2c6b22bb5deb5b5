"""SMSQ_PURPOSES resolves each purpose against the global settings; the validity in TemplateParam
follows the code's lifetime."""

from __future__ import annotations

import json

import pytest

from producers import UnknownPurpose, configure
from tests.conftest import clear_process_caches


@pytest.fixture(autouse=True)
def fresh_settings() -> None:
    clear_process_caches()
    yield
    clear_process_caches()


@pytest.mark.parametrize(("code_ttl_s", "minutes"), [(300, "5"), (600, "10"), (150, "3")])
def test_the_minutes_in_template_param_follow_the_codes_validity(code_ttl_s: int, minutes: str) -> None:
    settings = configure(code_ttl_s=code_ttl_s, send_deadline_s=60)
    assert json.loads(settings.purpose("login").template_param) == {"code": "##code##", "min": minutes}


def test_a_literal_minutes_value_is_sent_as_written() -> None:
    settings = configure(template_param='{"code":"##code##","min":"5"}', code_ttl_s=600)
    assert json.loads(settings.purpose("login").template_param)["min"] == "5"


def test_a_purpose_takes_what_it_leaves_out_from_the_global_settings() -> None:
    settings = configure(
        sign_name="我的签名",
        code_length=8,
        purpose_limits="100/hour",
        purposes={"login": {}, "reset": {"scheme_name": "reset", "code_ttl_s": 900, "limits": "5/minute"}},
    )
    login, reset = settings.purpose("login"), settings.purpose("reset")
    assert (login.sign_name, login.template_code, login.scheme_name) == ("我的签名", "100001", "默认方案")
    assert (login.code_length, login.code_ttl_s, [str(r) for r in login.limits]) == (8, 300, ["100/hour"])
    assert (reset.scheme_name, reset.code_ttl_s, [str(r) for r in reset.limits]) == (
        "reset",
        900,
        ["5/minute"],
    )
    assert json.loads(reset.template_param)["min"] == "15"
    with pytest.raises(UnknownPurpose):
        settings.purpose("signup")
