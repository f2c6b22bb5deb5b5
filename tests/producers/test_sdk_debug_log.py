"""The Alibaba SDK's own debug switch (``DEBUG=sdk``) logs every request line and header through its
own stderr handler and the root logger: with smsq's provider, over real HTTP to the emulator, those
lines carry no phone number, no code and no credential."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys

import pytest

from producers.provider import DypnsapiProvider
from producers.settings import Settings, get_settings
from tests.conftest import EmulatorHandle

PHONE = "13512345678"
#: The SDK cores' loggers (darabonba/core.py, Tea/core.py): each has a stderr handler of its own.
SDK_LOGGERS = ("darabonba-core", "alibabacloud-tea")


@pytest.fixture
def settings(smsq_env: dict[str, str]) -> Settings:
    return get_settings()


@pytest.fixture
def sdk_handlers_on_stderr(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK cores' own handlers write to file descriptor 2, as in a real process (each is built at
    import with the ``sys.stderr`` of that moment: under pytest, whichever capture was active)."""
    import darabonba.core  # noqa: F401 - builds its logger's handler
    import Tea.core  # noqa: F401

    for name in SDK_LOGGERS:
        for handler in logging.getLogger(name).handlers:
            if isinstance(handler, logging.StreamHandler):
                monkeypatch.setattr(handler, "stream", sys.__stderr__)


def standalone(value: str, text: str) -> bool:
    """True when ``value`` appears in ``text`` not as part of a longer run of letters or digits."""
    return re.search(rf"(?<![0-9A-Za-z]){re.escape(value)}(?![0-9A-Za-z])", text) is not None


def test_the_sdks_debug_lines_of_a_send_and_a_check_show_no_number_code_or_key(
    settings: Settings,
    emulator: EmulatorHandle,
    monkeypatch: pytest.MonkeyPatch,
    sdk_handlers_on_stderr: None,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("DEBUG", "sdk")
    provider = DypnsapiProvider(settings)
    with caplog.at_level(logging.DEBUG):
        provider.send(PHONE, out_id="t", purpose=settings.purpose("login"))
        code = emulator.messages(PHONE)[0]["code"]
        assert provider.check(PHONE, code).passed
    printed = capfd.readouterr().err  # the SDK's own handler
    logged = "\n".join(record.getMessage() for record in caplog.records)  # through the root logger

    for text in (printed, logged):
        # the debug dump was produced, and masked before any handler saw it
        assert "x-acs-action : SendSmsVerifyCode" in text and "x-acs-action : CheckSmsVerifyCode" in text
        assert "PhoneNumber=135****5678" in text, text
        assert "VerifyCode=****" in text, text
        assert "Credential=***" in text and "Signature=***" in text, text
        assert PHONE not in text, text
        assert not standalone(code, text), text
        assert emulator.key_id not in text and emulator.key_secret not in text, text


def test_with_an_sts_session_from_the_credentials_chain_its_token_headers_are_masked_too(
    smsq_env: dict[str, str], emulator: EmulatorHandle
) -> None:
    # A fresh process: the credentials library reads the environment once, at import. No keys in the
    # settings, so the provider asks the chain, which finds an STS session in the environment.
    token = "CAIS-sts-session-token-0123456789"
    env = os.environ | {"ALIBABA_CLOUD_SECURITY_TOKEN": token, "DEBUG": "sdk"}
    code = (
        "import logging, sys\n"
        "from producers import errors\n"
        "from producers.provider import DypnsapiProvider\n"
        "from producers.settings import get_settings\n"
        "logging.basicConfig(level=logging.DEBUG, stream=sys.stdout, format='%(name)s %(message)s')\n"
        "chained = get_settings().model_copy(update={'access_key_id': None, 'access_key_secret': None})\n"
        "try:\n"
        f"    DypnsapiProvider(chained).check({PHONE!r}, '82106580')\n"
        "except errors.ProviderError:\n"
        "    pass  # the emulator may refuse the session: the request was logged all the same\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    for text in (result.stderr, result.stdout):  # the SDK's own handler, then the root logger
        assert "x-acs-security-token : ***" in text and "x-acs-accesskey-id : ***" in text, text
        assert "Credential=***" in text and "VerifyCode=****" in text, text
        assert token not in text and emulator.key_id not in text, text
        assert PHONE not in text and "82106580" not in text, text
