"""Configuration fails fast, in one line that names the variable; values with a normal form are normalised."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from producers import ConfigurationError, RateLimited, SmsqError, configure, send_code
from producers.constants import NO_CLOUD_PROBES
from producers.limits import Rate
from producers.settings import get_settings, redacted_url
from tests.conftest import clear_process_caches

SMSQ = str(Path(sys.executable).parent / "smsq")

#: variable, bad value, a fragment the message must contain (what is wrong)
BAD_VALUES = [
    ("SMSQ_LANES", "not json", "not valid JSON"),
    ("SMSQ_LANES", '{"vip":"fast"}', "lane 'vip'"),
    ("SMSQ_LANES", "{}", "non-empty"),
    ("SMSQ_PHONE_LIMITS", "1/fortnight", "unknown unit 'fortnight'"),
    ("SMSQ_IP_LIMITS", "5/minute;", "empty rule"),
    ("SMSQ_ACCOUNT_RATE", "1/second;2/minute", "exactly one rate rule"),
    ("SMSQ_MONITOR_RULES", "prefx", "names no limit scope"),
    ("SMSQ_MONITOR_RULES", "prefix:1/second", "not a configured rule"),
    ("SMSQ_SEND_DEADLINE_S", "400", "must not exceed SMSQ_CODE_TTL_S"),
    ("SMSQ_SEND_READ_TIMEOUT_S", "40", "must be at most 150"),
    ("SMSQ_SAFE_NUMBERS", "12345", "not a mainland China mobile number"),
    ("SMSQ_TEMPLATE_PARAM", '{"code":"1234"}', '"##code##"'),
    ("SMSQ_CODE_LENGTH", "three", "valid integer"),
    ("SMSQ_PURPOSES", "login", "not valid JSON"),
    ("SMSQ_PURPOSES", '{"login": {"scheme": "x"}}', "purpose 'login': scheme"),
    ("SMSQ_PURPOSES", '{"reset": {"scheme_name": "a-scheme-name-of-21-ch"}}', "at most 20 characters"),
    ("SMSQ_PURPOSES", '{"reset": {"code_ttl_s": 90}}', "must not be below SMSQ_SEND_DEADLINE_S"),
    # accepted once, then every send retried until its deadline, or every call refused by Redis
    ("SMSQ_ALIYUN_ENDPOINT", "https://dypnsapi.aliyuncs.com", "without a scheme"),
    ("SMSQ_ALIYUN_ENDPOINT", " ", "without a scheme"),
    ("SMSQ_ALIYUN_ENDPOINT", "dypnsapi.aliyuncs.com/", "without a scheme"),
    ("SMSQ_SIGN_NAME", " ", "must not be empty"),
    ("SMSQ_TEMPLATE_CODE", "", "must not be empty"),
    ("SMSQ_RECORD_TTL_S", "1e23", "valid integer"),
    ("SMSQ_RECORD_TTL_S", "100000000", "less than or equal to 31536000"),
    ("SMSQ_LIMITER_MAX_SLEEP_S", "inf", "less than or equal to 60"),
    ("SMSQ_BROKER_URL", "sentinel://127.0.0.1:26379", "not a broker URL"),
]


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """This process's settings read afresh from an environment without SMSQ_* variables."""
    for name in list(os.environ):
        if name.startswith("SMSQ_"):
            monkeypatch.delenv(name)
    clear_process_caches()
    yield monkeypatch
    clear_process_caches()


@pytest.mark.parametrize(("variable", "value", "problem"), BAD_VALUES)
def test_a_bad_value_raises_a_configuration_error_naming_the_variable_in_one_line(
    environment: pytest.MonkeyPatch, variable: str, value: str, problem: str
) -> None:
    environment.setenv(variable, value)
    with pytest.raises(ConfigurationError) as raised:
        get_settings()
    message = str(raised.value)
    assert message.startswith(f"{variable}") or f" {variable}" in message
    assert problem in message
    assert "\n" not in message
    assert isinstance(raised.value, SmsqError)


@pytest.mark.parametrize(("variable", "value", "problem"), BAD_VALUES)
def test_configure_refuses_the_same_values_from_code(
    environment: pytest.MonkeyPatch, variable: str, value: str, problem: str
) -> None:
    with pytest.raises(ConfigurationError, match=problem):
        configure({variable: value})


def test_configure_refuses_a_key_that_is_not_a_string(environment: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError, match="int key: a smsq setting is named by a string"):
        configure({5: "x"})  # type: ignore[dict-item]


def test_configure_names_an_unknown_setting_and_values_given_in_code_win_over_the_environment(
    environment: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(ConfigurationError, match="SMSQ_LANE: not a smsq setting"):
        configure({"SMSQ_LANE": "x"})
    environment.setenv("SMSQ_PHONE_LIMITS", "1/minute")
    environment.setenv("SMSQ_IP_LIMITS", "7/hour")
    settings = configure(phone_limits="3/minute")
    assert settings.phone_limits == (Rate(3, 60),)
    assert settings.ip_limits == (Rate(7, 3600),)
    assert get_settings() is settings


def test_rates_lanes_and_numbers_arrive_parsed(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("SMSQ_LANES", '{"default": "50/second", "bulk": "3/10minutes"}')
    environment.setenv("SMSQ_SAFE_NUMBERS", "+86 135-1111-2222, 8613900000001")
    environment.setenv("SMSQ_MONITOR_RULES", "prefix,phone:1/minute")
    settings = get_settings()
    assert settings.lanes == {"default": Rate(50, 1), "bulk": Rate(3, 600)}
    assert settings.safe_numbers == {"13511112222", "13900000001"}
    assert settings.monitor_rules == {"prefix", "phone:1/minute"}
    assert settings.account_rate == Rate(400, 1)


def test_an_error_never_prints_a_secret(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("SMSQ_REDIS_URL", "redis://:hunter2-password@10.0.0.1:6379/0")
    environment.setenv("SMSQ_GATEWAY_TOKEN", "tok-0123456789abcdefghijklmnopqrstuv")
    environment.setenv("SMSQ_SEND_DEADLINE_S", "400")  # a model-level error: the whole input is at hand
    with pytest.raises(ConfigurationError) as raised:
        get_settings()
    shown = f"{raised.value!s} {raised.value!r} {raised.value.__cause__!r} {raised.value.__context__!r}"
    assert "hunter2" not in shown and "0123456789abcdef" not in shown
    assert redacted_url("redis://:hunter2-password@10.0.0.1:6379/0") == "redis://:***@10.0.0.1:6379/0"


def test_a_safe_number_written_in_any_form_bypasses_the_limits(
    smsq_env: dict[str, str], redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMSQ_LANES", '{"default": "50/second", "parked": "1/second"}')
    monkeypatch.setenv("SMSQ_PHONE_LIMITS", "1/minute")
    monkeypatch.setenv("SMSQ_SAFE_NUMBERS", "+86 135-1111-2222")
    clear_process_caches()
    first = send_code("13511112222", lane="parked")
    second = send_code("135 1111 2222", lane="parked")
    assert first.id != second.id
    with pytest.raises(RateLimited):  # an unlisted number is still limited
        send_code("13511112223", lane="parked")
        send_code("13511112223", lane="parked")
    redis_client.delete("smsq.parked")


def _run_cli(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {name: value for name, value in os.environ.items() if not name.startswith("SMSQ_")}
    return subprocess.run(
        [SMSQ, *argv],
        env={**clean, **NO_CLOUD_PROBES, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(("variable", "value", "problem"), BAD_VALUES[:9])
@pytest.mark.parametrize("command", [["worker"], ["gateway", "--port", "0"], ["send", "13511112222"]])
def test_commands_exit_2_with_one_line_before_starting_anything(
    command: list[str], variable: str, value: str, problem: str
) -> None:
    # an unreachable Redis: a command that started anything before reading its settings would hang
    # or fail differently
    result = _run_cli(command, {variable: value, "SMSQ_REDIS_URL": "redis://127.0.0.1:1/0"})
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("smsq: configuration error: ") and variable in lines[0] and problem in lines[0]
    assert "Traceback" not in result.stdout + result.stderr


def test_the_default_code_has_six_digits_and_four_to_eight_are_allowed(
    environment: pytest.MonkeyPatch,
) -> None:
    """Finding 3a: four digits by default made a targeted number 0.5 % guessable a day."""
    assert get_settings().code_length == 6
    assert configure(code_length=4).code_length == 4
    assert configure(code_length=8).code_length == 8
    for bad in (3, 9):
        with pytest.raises(ConfigurationError, match="SMSQ_CODE_LENGTH"):
            configure(code_length=bad)


@pytest.mark.parametrize(
    ("url", "secret"),
    [
        ("redis://:p@ss-word-with-at@10.0.0.1:6379/0", "ss-word-with-at"),
        ("redis://ops:p@ss/w0rd@10.0.0.1:6379/0", "w0rd"),
        ("redis://only-a-secret@10.0.0.1:6379/0", "only-a-secret"),
        ("rediss://10.0.0.1:6379/0?password=qu3ry-secret&ssl_cert_reqs=none", "qu3ry-secret"),
        ("redis://:pw[@10.0.0.1/0", "pw["),
    ],
)
def test_a_redacted_url_shows_no_part_of_any_password(url: str, secret: str) -> None:
    """Finding 6: a password containing "@" left its tail in the banner."""
    shown = redacted_url(url)
    assert secret not in shown
    assert "10.0.0.1" in shown or "does not parse" in shown


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SMSQ_REDIS_URL", "redis://:hunter2-password@10.0.0.1:notaport/0"),
        ("SMSQ_REDIS_URL", "http://:hunter2-password@10.0.0.1/0"),
        ("SMSQ_REDIS_URL", "redis://:hunter2-password@[10.0.0.1/0"),
        ("SMSQ_REDIS_URL", "redis://:hunter2-password@10.0.0.1:6379/notadb"),
        ("SMSQ_BROKER_URL", "redis://:hunter2-password@10.0.0.1:6379/notadb"),
        ("SMSQ_BROKER_URL", "amqp://ops:hunter2-password@10.0.0.1:notaport//"),
        ("SMSQ_BROKER_URL", "kafka://ops:hunter2-password@10.0.0.1"),
    ],
)
def test_a_malformed_store_or_broker_url_is_refused_at_load_without_quoting_it(
    environment: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    """Finding 6: such a URL was accepted, and the first send failed later with an untyped error
    from the Redis client (whose text may quote the URL)."""
    environment.setenv(variable, value)
    with pytest.raises(ConfigurationError) as raised:
        get_settings()
    shown = f"{raised.value!s} {raised.value!r} {raised.value.__cause__!r} {raised.value.__context__!r}"
    assert variable in str(raised.value)
    assert "hunter2" not in shown


@pytest.mark.parametrize(
    "url",
    [
        "unix:///tmp/smsq-redis.sock",
        "redis://127.0.0.1:6379/0?password=hunter2-password",
        "redis://:hunter2-password@127.0.0.1:6379/0?socket_timeout=5",
        "redis://:hunter2-password@127.0.0.1:6379/0?db=3",
    ],
)
def test_a_store_url_the_broker_client_cannot_use_is_refused_at_load(
    environment: pytest.MonkeyPatch, url: str
) -> None:
    """redis-py reads these and the settings loaded, but the broker (kombu, the same URL unless
    SMSQ_BROKER_URL is set) refused them: every send raised an untyped TypeError or KeyError."""
    environment.setenv("SMSQ_REDIS_URL", url)
    with pytest.raises(ConfigurationError) as raised:
        get_settings()
    assert "SMSQ_REDIS_URL" in str(raised.value)
    assert "hunter2" not in f"{raised.value!s} {raised.value!r}"
    environment.setenv("SMSQ_BROKER_URL", "redis://127.0.0.1:6379/0")
    clear_process_caches()
    assert get_settings().redis_dsn == url  # redis-py alone reads it: fine as a store


def test_tls_options_in_the_broker_url_are_still_accepted(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("SMSQ_REDIS_URL", "rediss://:pw@127.0.0.1:6380/0?ssl_cert_reqs=required")
    assert get_settings().broker_dsn.startswith("rediss://")


@pytest.mark.parametrize(
    "endpoint", ["dypnsapi.aliyuncs.com", "127.0.0.1:8085", "emulator:8085", "localhost:8085", "[::1]:8085"]
)
def test_an_endpoint_is_a_host_with_an_optional_port(environment: pytest.MonkeyPatch, endpoint: str) -> None:
    environment.setenv("SMSQ_ALIYUN_ENDPOINT", endpoint)
    assert get_settings().aliyun_endpoint == endpoint
