"""Every way the real SDK fails, over real HTTP, maps to the right error — and none of them carries
the phone number or the code (the SDK's own errors quote the request URL, which holds both)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import traceback

import pytest

from producers import errors
from producers.provider import DypnsapiProvider
from producers.settings import Settings, get_settings
from smsq.net import free_port
from tests.conftest import EmulatorHandle

CASES = [
    ("13900000001", errors.ProviderThrottled, "Throttling.User", None),
    ("13900000002", errors.ProviderTransient, "InternalError", 500),
    ("13900000003", errors.ProviderTransient, "ServiceUnavailable", 503),
    ("13900000004", errors.ProviderTransient, None, 502),  # an HTML page, not JSON
    ("13900000005", errors.ProviderAmbiguous, None, None),  # processed, then no answer in time
    ("13900000006", errors.ProviderAmbiguous, None, None),  # connection dropped
    ("13900000007", errors.ProviderPermanent, "MOBILE_NUMBER_ILLEGAL", 200),
    ("13900000008", errors.ProviderPermanent, "BUSINESS_LIMIT_CONTROL", 200),
]


@pytest.fixture
def settings(smsq_env: dict[str, str]) -> Settings:
    return get_settings()


def assert_no_secrets(exc: BaseException, *secrets: str) -> None:
    # nothing chained (the SDK's exception quotes the URL), and nothing in the error itself
    assert exc.__cause__ is None and exc.__context__ is None
    text = "".join(traceback.format_exception_only(exc)) + repr(exc) + repr(vars(exc))
    for secret in secrets:
        assert secret not in text


@pytest.mark.parametrize(("phone", "error", "code", "status"), CASES)
def test_each_provider_failure_maps_to_its_error_and_leaks_nothing(
    settings: Settings,
    emulator: EmulatorHandle,
    phone: str,
    error: type,
    code: str | None,
    status: int | None,
) -> None:
    with pytest.raises(error) as info:
        DypnsapiProvider(settings).send(phone, out_id="t", purpose=settings.purpose("login"))
    assert type(info.value) is error
    assert info.value.code == code
    if status is not None:
        assert info.value.status == status
    assert_no_secrets(info.value, phone, settings.access_key_secret.get_secret_value())  # type: ignore[union-attr]


def test_a_refused_connection_is_transient_because_nothing_was_sent(settings: Settings) -> None:
    closed = settings.model_copy(update={"aliyun_endpoint": f"127.0.0.1:{free_port()}"})
    with pytest.raises(errors.ProviderTransient) as info:
        DypnsapiProvider(closed).check("13511112222", "98765432")
    assert_no_secrets(info.value, "13511112222", "98765432")


def test_missing_credentials_say_so_and_are_permanent_not_a_retry_loop(smsq_env: dict[str, str]) -> None:
    # A fresh process: the credentials library reads the environment once, at import.
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALIBABA_CLOUD_ACCESS_KEY")}
    env["HOME"] = tempfile.mkdtemp()  # no ~/.alibabacloud or ~/.aliyun profile either
    code = (
        "from producers import errors\n"
        "from producers.provider import get_provider\n"
        "from producers.settings import get_settings\n"
        "try:\n"
        "    get_provider().send('13511112222', out_id='t', purpose=get_settings().purpose('login'))\n"
        "except errors.ProviderError as exc:\n"
        "    print(type(exc).__name__, exc.reason, str(exc).startswith('no Alibaba credentials found'))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    assert result.stdout.split() == ["ProviderPermanent", "provider_no_credentials", "True"], result.stderr
