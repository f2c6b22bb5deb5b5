"""The Django app's start: ``SMSQ = {...}`` reaches smsq through ``configure()``, winning over the
environment; a bad value stops Django. Each case is a fresh process, as Django's settings and
smsq's are once per process. (Views and middleware run in a real server: tests/examples.)"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import TEST_ENCRYPTION_KEY, TEST_HASH_KEY

KEYS = {"SMSQ_HASH_KEYS": TEST_HASH_KEY, "SMSQ_ENCRYPTION_KEYS": TEST_ENCRYPTION_KEY}

SETUP = """
import django
from django.conf import settings
settings.configure(INSTALLED_APPS=["producers.integrations.django"]{smsq})
django.setup()
from producers.settings import get_settings
s = get_settings()
print(s.check_max_failures, s.code_ttl_s, s.trusted_proxy_hops)
"""


def start_django(smsq: str | None, keys: bool = True, **env: str) -> subprocess.CompletedProcess[str]:
    script = textwrap.dedent(SETUP).format(smsq="" if smsq is None else f", SMSQ={smsq}")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SMSQ_")}
    argv = [sys.executable, "-c", script]
    full = {**clean, **(KEYS if keys else {}), **env}
    return subprocess.run(argv, capture_output=True, text=True, env=full, timeout=60, check=False)


def test_the_smsq_dict_wins_over_the_environment_and_the_rest_comes_from_it() -> None:
    started = start_django(
        '{"CHECK_MAX_FAILURES": 7, "smsq_trusted_proxy_hops": 2}',
        SMSQ_CHECK_MAX_FAILURES="3",
        SMSQ_CODE_TTL_S="600",
    )
    assert started.returncode == 0, started.stderr
    assert started.stdout.split() == ["7", "600", "2"]


def test_without_a_dict_the_environment_alone_configures_smsq() -> None:
    started = start_django(None, SMSQ_CHECK_MAX_FAILURES="3")
    assert started.returncode == 0, started.stderr
    assert started.stdout.split() == ["3", "300", "0"]


@pytest.mark.parametrize(
    ("smsq", "env", "says"),
    [
        ('{"PHONE_LIMITS": "often"}', {}, "ConfigurationError: SMSQ_PHONE_LIMITS: "),
        ('{"TRUSTED_PROXY_HOPS": -1}', {}, "ConfigurationError: SMSQ_TRUSTED_PROXY_HOPS: "),
        ('{"COLOUR": "blue"}', {}, "ConfigurationError: COLOUR: not a smsq setting"),
        (None, {"SMSQ_CODE_TTL_S": "soon"}, "ConfigurationError: SMSQ_CODE_TTL_S: "),
        ('"redis://x"', {}, "ImproperlyConfigured: SMSQ must be a dict"),
    ],
)
def test_a_bad_setting_stops_django_from_starting_naming_it(
    smsq: str | None, env: dict[str, str], says: str
) -> None:
    started = start_django(smsq, **env)
    assert started.returncode == 1
    assert says in started.stderr.strip().splitlines()[-1]


def test_without_the_data_keys_django_does_not_start() -> None:
    started = start_django('{"CHECK_MAX_FAILURES": 7}', keys=False)
    assert started.returncode == 1
    assert "ConfigurationError: SMSQ_HASH_KEYS is not set" in started.stderr.strip().splitlines()[-1]


def test_an_error_page_shows_no_password_or_secret_given_in_the_smsq_dict() -> None:
    """Django's debug page and ADMINS mails print settings through SafeExceptionReporterFilter, which
    hides only names that look secret: REDIS_URL does not."""
    script = textwrap.dedent(
        """
        import django
        from django.conf import settings
        settings.configure(SECRET_KEY="x" * 50, INSTALLED_APPS=["producers.integrations.django"], SMSQ={
            "REDIS_URL": "redis://:hunter2-url@127.0.0.1:6379/9",
            "BROKER_URL": "redis://ops:hunter3-url@127.0.0.1:6379/9",
            "GATEWAY_TOKEN": "hunter4-token-0123456789abcdef0123",
            "CHECK_MAX_FAILURES": 7,
        })
        django.setup()
        from django.views.debug import SafeExceptionReporterFilter
        from producers.settings import get_settings
        print(SafeExceptionReporterFilter().get_safe_settings()["SMSQ"])
        print(get_settings().redis_dsn, get_settings().check_max_failures)
        """
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SMSQ_")}
    shown = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env={**clean, **KEYS},
        timeout=60,
        check=False,
    )
    assert shown.returncode == 0, shown.stderr
    page, held = shown.stdout.splitlines()
    assert "hunter" not in page and "127.0.0.1:6379/9" in page and "7" in page
    assert held == "redis://:hunter2-url@127.0.0.1:6379/9 7"  # smsq itself still has it
