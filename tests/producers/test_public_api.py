"""The public API is deliberate: a sorted ``__all__`` and a cheap import."""

from __future__ import annotations

import inspect
import subprocess
import sys
import types

import producers


def test_all_is_sorted_and_names_exactly_the_public_names_the_package_exports() -> None:
    assert producers.__all__ == sorted(producers.__all__)
    exported = {
        name
        for name, value in vars(producers).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType) and name != "annotations"
    }
    assert exported == set(producers.__all__)


def test_every_public_error_derives_from_the_one_root() -> None:
    for name in producers.__all__:
        value = getattr(producers, name)
        if isinstance(value, type) and issubclass(value, Exception):
            assert issubclass(value, producers.SmsqError), name


def test_importing_producers_loads_no_worker_web_server_dashboard_or_alibaba_sdk() -> None:
    code = (
        "import sys, producers; "
        "roots = {'worker', 'smsq', 'alibabacloud_dypnsapi20170525', 'alibabacloud_tea_openapi', "
        "'alibabacloud_credentials', 'Tea', 'darabonba', 'aiohttp', 'flower', 'tornado', 'celery'}; "
        "bad = sorted({m.split('.')[0] for m in sys.modules} & roots); "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_each_async_twin_is_a_coroutine_function_with_the_sync_functions_signature_and_doc() -> None:
    pairs = (
        (producers.send_code, producers.asend_code),
        (producers.check_code, producers.acheck_code),
        (producers.get_status, producers.aget_status),
    )
    for sync, twin in pairs:
        assert inspect.iscoroutinefunction(twin) and not inspect.iscoroutinefunction(sync), twin
        assert inspect.signature(twin) == inspect.signature(sync), twin
        assert "Flow" not in str(inspect.signature(twin))
        assert twin.__doc__ and twin.__doc__ == sync.__doc__
        assert twin.__name__ == f"a{sync.__name__}"


def test_a_plain_install_has_no_alibaba_sdk_and_the_workers_and_direct_mode_get_it() -> None:
    import tomllib
    from pathlib import Path

    project = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())["project"]
    assert not [name for name in project["dependencies"] if name.startswith("alibabacloud")]
    direct = project["optional-dependencies"]["direct"]
    assert {name.split("=")[0].split(">")[0] for name in direct} >= {
        "alibabacloud-dypnsapi20170525",
        "alibabacloud-credentials",
    }
    assert "smsq[direct]" in project["optional-dependencies"]["worker"]


def test_direct_mode_without_the_sdk_installed_is_a_configuration_error_naming_the_extra() -> None:
    code = (
        "import sys\n"
        "sys.modules['alibabacloud_dypnsapi20170525'] = None  # as if smsq[direct] were not installed\n"
        "from producers import ConfigurationError, configure\n"
        "from producers.provider import get_provider\n"
        "configure(check_mode='direct')\n"
        "try:\n"
        "    get_provider()\n"
        "except ConfigurationError as exc:\n"
        "    print(exc)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install 'smsq[direct]'" in result.stdout
