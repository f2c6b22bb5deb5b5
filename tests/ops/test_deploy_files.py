"""The deployment files pass the same checks as ``make lint`` (ops/checks.py), and the checks bite.

No skips: a missing promtool fails here (``make test`` installs it through ops/testdeps.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from ops import checks
from producers.process import reset_caches


def _assert_passes(report: checks.Report) -> None:
    assert report.ok, "\n".join(report.problems)


def test_the_alert_rules_and_the_prometheus_config_pass_promtool() -> None:
    _assert_passes(checks.check_prometheus())


def test_the_compose_file_is_valid_under_the_compose_specification() -> None:
    _assert_passes(checks.check_compose_schema())


def test_the_kubernetes_manifests_validate_strictly_including_the_keda_objects() -> None:
    report = checks.check_kubernetes()
    _assert_passes(report)
    assert any("KEDA kinds against" in note for note in report.notes)


def test_every_service_is_health_checked_and_workers_outlive_their_longest_task() -> None:
    _assert_passes(checks.check_health_and_grace())


def test_every_smsq_command_a_container_runs_exists_with_its_options() -> None:
    _assert_passes(checks.check_cli_commands())


def test_the_gateway_openapi_document_validates() -> None:
    _assert_passes(checks.check_openapi())


# --- the checks catch what they are for ------------------------------------------------------------


def _compose_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, edit: object) -> None:
    compose = yaml.safe_load(checks.COMPOSE_FILE.read_text(encoding="utf-8"))
    edit(compose)  # type: ignore[operator]
    path = tmp_path / "docker-compose.yml"
    path.write_text(yaml.safe_dump(compose, allow_unicode=True), encoding="utf-8")
    monkeypatch.setattr(checks, "COMPOSE_FILE", path)


def test_a_worker_grace_period_shorter_than_the_task_limit_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _compose_copy(tmp_path, monkeypatch, lambda c: c["services"]["worker"].update(stop_grace_period="3m"))
    problems = checks.check_health_and_grace().problems
    assert any("stop_grace_period '3m' must exceed" in problem for problem in problems), problems


def test_a_service_without_a_healthcheck_or_with_a_public_port_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def edit(compose: dict) -> None:
        del compose["services"]["flower"]["healthcheck"]
        compose["services"]["flower"]["ports"] = ["5555:5555"]

    _compose_copy(tmp_path, monkeypatch, edit)
    problems = "\n".join(checks.check_health_and_grace().problems)
    assert "'flower' has no healthcheck" in problems
    assert "publishes '5555:5555' beyond 127.0.0.1" in problems


def test_an_unknown_compose_key_fails_the_schema_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _compose_copy(tmp_path, monkeypatch, lambda c: c["services"]["worker"].update(stop_grace_periods="210s"))
    assert not checks.check_compose_schema().ok


def test_an_unknown_subcommand_or_option_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def edit(compose: dict) -> None:
        compose["services"]["worker"]["command"] = ["smsq", "worker", "--no-such-option", "1"]
        compose["services"]["redis"]["command"] = ["smsq", "no-such-command"]

    _compose_copy(tmp_path, monkeypatch, edit)
    problems = "\n".join(checks.check_cli_commands().problems)
    assert "`smsq worker` has no option --no-such-option" in problems
    assert "`smsq no-such-command` is not in smsq.cli.COMMANDS" in problems


def test_a_misspelt_keda_redis_setting_fails_validation() -> None:
    scaled_object = next(
        doc
        for doc in yaml.safe_load_all((checks.K8S_DIR / "keda.yaml").read_text())
        if doc["kind"] == "ScaledObject"
    )
    scaled_object["spec"]["triggers"][0]["metadata"]["listname"] = "smsq.default"
    problems = checks._validate_keda(scaled_object)
    assert any("listname" in problem for problem in problems), problems


def test_the_task_time_limit_comes_from_the_celery_config() -> None:
    limit_s, fallback_reason = checks.task_hard_time_limit_s()
    assert fallback_reason is None
    assert limit_s == 180


@pytest.mark.parametrize(("text", "seconds"), [("210s", 210), ("3m30s", 210), ("1h", 3600), ("1m0.5s", 60.5)])
def test_compose_durations_are_read_in_seconds(text: str, seconds: float) -> None:
    assert checks.parse_compose_duration_s(text) == seconds


def test_a_malformed_compose_duration_is_refused() -> None:
    with pytest.raises(ValueError, match="not a compose duration"):
        checks.parse_compose_duration_s("210")


def test_each_worker_lane_has_a_scaled_object_on_its_own_queue() -> None:
    queues = {}
    lists = {}
    for _, doc in checks._k8s_documents():
        if doc["kind"] == "Deployment" and doc["metadata"]["name"].startswith("smsq-worker-"):
            command = doc["spec"]["template"]["spec"]["containers"][0]["command"]
            queues[doc["metadata"]["name"]] = ",".join(checks._worker_queues(command) or [])
        if doc["kind"] == "ScaledObject":
            lists[doc["spec"]["scaleTargetRef"]["name"]] = doc["spec"]["triggers"][0]["metadata"]["listName"]
    assert (
        queues
        == lists
        == {
            "smsq-worker-default": "smsq.default",
            "smsq-worker-login": "smsq.login",
            "smsq-worker-check": "smsq.check",
        }
    )


def test_the_dashboard_gives_every_panel_a_title_and_a_unit() -> None:
    dashboard = json.loads((checks.ROOT / "ops" / "grafana" / "dashboards" / "smsq.json").read_text())
    panels = [panel for panel in dashboard["panels"] if panel["type"] != "row"]
    assert panels
    for panel in panels:
        assert panel["title"]
        assert panel["fieldConfig"]["defaults"]["unit"], panel["title"]
        assert panel["datasource"]["uid"] == "smsq-prometheus"


def test_every_alert_points_to_a_runbook_section_that_exists() -> None:
    runbook = (checks.ROOT / "ops" / "runbook.md").read_text(encoding="utf-8")
    anchors = {
        line.lstrip("#").strip().lower().replace(" ", "-")
        for line in runbook.splitlines()
        if line.startswith("#")
    }
    rules = yaml.safe_load((checks.PROMETHEUS_DIR / "alerts.yml").read_text(encoding="utf-8"))
    for rule in rules["groups"][0]["rules"]:
        annotations = rule["annotations"]
        assert annotations["summary"] and annotations["description"]
        anchor = annotations["runbook_url"].split("#", 1)[1]
        assert anchor in anchors, f"{rule['alert']}: ops/runbook.md has no section #{anchor}"


# --- smsq flower (the command compose and Kubernetes run) ----------------------------------------


def test_flower_refuses_a_public_address_without_basic_auth(monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from smsq.cli import flower_cmd

    monkeypatch.setattr(flower_cmd.os, "execvpe", lambda *args: pytest.fail("Flower must not start"))
    result = CliRunner().invoke(
        flower_cmd.flower, ["--address", "0.0.0.0"], env={"SMSQ_FLOWER_BASIC_AUTH": ""}
    )
    assert result.exit_code != 0
    assert "refusing to serve Flower" in result.output


def test_flower_gets_its_secrets_through_the_environment_not_the_command_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from click.testing import CliRunner

    from smsq.cli import flower_cmd

    started: dict[str, object] = {}
    monkeypatch.setattr(flower_cmd.os, "execvpe", lambda file, argv, env: started.update(argv=argv, env=env))
    env = {"SMSQ_FLOWER_BASIC_AUTH": "ops:s3cret", "SMSQ_REDIS_URL": "redis://:redispw@127.0.0.1:6379/9"}
    reset_caches()
    try:
        result = CliRunner().invoke(flower_cmd.flower, ["--address", "0.0.0.0", "--port", "5555"], env=env)
    finally:
        reset_caches()
    assert result.exit_code == 0, result.output
    argv = " ".join(started["argv"])  # type: ignore[arg-type]
    assert "-A worker.app flower" in argv and "--address=0.0.0.0" in argv and "--port=5555" in argv
    assert "s3cret" not in argv and "redispw" not in argv
    assert started["env"]["FLOWER_BASIC_AUTH"] == "ops:s3cret"  # type: ignore[index]
    assert started["env"]["CELERY_BROKER_URL"] == "redis://:redispw@127.0.0.1:6379/9"  # type: ignore[index]


@pytest.mark.parametrize(
    ("address", "loopback"),
    [("127.0.0.1", True), ("::1", True), ("localhost", True), ("0.0.0.0", False), ("", False)],
)
def test_only_loopback_addresses_count_as_private(address: str, loopback: bool) -> None:
    from smsq.net import is_loopback

    assert is_loopback(address) is loopback


@pytest.mark.parametrize(
    ("edit", "says"),
    [
        (lambda doc: doc["paths"]["/v1/codes"]["post"]["responses"]["202"].pop("description"), "description"),
        (lambda doc: doc["components"]["schemas"]["Ticket"].update(type="tuple"), "tuple"),
        (lambda doc: doc.update(openapi="3.1.0", info="smsq"), "info"),
    ],
)
def test_a_broken_openapi_document_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, edit: object, says: str
) -> None:
    document = json.loads(checks.OPENAPI_FILE.read_text(encoding="utf-8"))
    edit(document)  # type: ignore[operator]
    path = tmp_path / "openapi.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    monkeypatch.setattr(checks, "OPENAPI_FILE", path)
    problems = checks.check_openapi().problems
    assert problems and any(says in problem for problem in problems), problems


# --- secrets and network policies (finding 1) -----------------------------------------------------------


def test_gateways_beyond_loopback_run_with_a_token_and_every_pod_is_guarded() -> None:
    """Finding 1: compose and Kubernetes ran `smsq gateway --host 0.0.0.0` with no token and no
    NetworkPolicy; any pod could send SMS on the account."""
    _assert_passes(checks.check_secrets_and_network())
    assert "check_secrets_and_network" in {check.__name__ for check in checks.CHECKS.values()}


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            lambda env: env.pop("SMSQ_GATEWAY_TOKEN"),
            "'gateway': SMSQ_GATEWAY_TOKEN must be a required variable",
        ),
        (lambda env: env.update(SMSQ_GATEWAY_TOKEN="changeme"), "SMSQ_GATEWAY_TOKEN must be a required"),
        (lambda env: env.update(SMSQ_GATEWAY_TOKEN="${TOKEN:-}"), "SMSQ_GATEWAY_TOKEN must be a required"),
        (lambda env: env.pop("SMSQ_HASH_KEYS"), "'gateway': SMSQ_HASH_KEYS must be a required variable"),
    ],
)
def test_a_compose_gateway_without_a_required_token_or_keys_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, edit: object, expected: str
) -> None:
    _compose_copy(tmp_path, monkeypatch, lambda c: edit(c["services"]["gateway"]["environment"]))  # type: ignore[operator]
    problems = "\n".join(checks.check_secrets_and_network().problems)
    assert expected in problems


def test_a_compose_gateway_on_loopback_needs_no_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def edit(compose: dict) -> None:
        gateway = compose["services"]["gateway"]
        gateway["command"] = ["smsq", "gateway", "--host", "127.0.0.1", "--port", "8000"]
        del gateway["environment"]["SMSQ_GATEWAY_TOKEN"]

    _compose_copy(tmp_path, monkeypatch, edit)
    _assert_passes(checks.check_secrets_and_network())


def _k8s_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, edit: object) -> None:
    folder = tmp_path / "k8s"
    folder.mkdir()
    for source in checks.K8S_DIR.glob("*.yaml"):
        documents = list(yaml.safe_load_all(source.read_text(encoding="utf-8")))
        if source.name == name:
            documents = [edit(document) for document in documents]  # type: ignore[operator]
        text = yaml.safe_dump_all([d for d in documents if d is not None], allow_unicode=True)
        (folder / source.name).write_text(text, encoding="utf-8")
    monkeypatch.setattr(checks, "K8S_DIR", folder)
    monkeypatch.setattr(checks, "SECRET_EXAMPLE", folder / "secret.example.yaml")


def _without_env(variable: str) -> object:
    def edit(document: dict) -> dict:
        if document["kind"] == "Deployment":
            container = document["spec"]["template"]["spec"]["containers"][0]
            container["env"] = [item for item in container["env"] if item["name"] != variable]
        return document

    return edit


@pytest.mark.parametrize(
    ("name", "edit", "expected"),
    [
        ("gateway.yaml", _without_env("SMSQ_GATEWAY_TOKEN"), "SMSQ_GATEWAY_TOKEN must come from the Secret"),
        ("worker-login.yaml", _without_env("SMSQ_ENCRYPTION_KEYS"), "SMSQ_ENCRYPTION_KEYS must come from"),
        (
            "networkpolicy.yaml",
            lambda d: None if d["metadata"]["name"] == "smsq-gateway" else d,
            "Deployment/smsq-gateway: no NetworkPolicy limits who may connect",
        ),
        (
            "secret.example.yaml",
            lambda d: {**d, "stringData": {k: v for k, v in d["stringData"].items() if k != "gateway-token"}},
            "secret key 'gateway-token' is not in",
        ),
    ],
)
def test_a_kubernetes_gateway_or_worker_missing_a_secret_or_a_policy_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, edit: object, expected: str
) -> None:
    _k8s_copy(tmp_path, monkeypatch, name, edit)
    problems = "\n".join(checks.check_secrets_and_network().problems)
    assert expected in problems, problems


# --- check workers (issue 12) ----------------------------------------------------------------------------


def test_compose_and_kubernetes_run_a_dedicated_check_worker_and_a_keyless_gateway() -> None:
    _assert_passes(checks.check_check_workers())
    assert "check_check_workers" in {check.__name__ for check in checks.CHECKS.values()}


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda c: c["services"].pop("check-worker"), "compose runs no check worker"),
        (
            lambda c: c["services"]["worker"].update(
                command=["smsq", "worker", "-Q", "smsq.default,smsq.check"]
            ),
            "'worker': serves smsq.check with other queues",
        ),
        (
            lambda c: c["services"]["gateway"]["environment"].update(ALIBABA_CLOUD_ACCESS_KEY_ID="${KEY:?}"),
            "'gateway': ALIBABA_CLOUD_ACCESS_KEY_ID set, but the gateway needs no Alibaba key",
        ),
    ],
)
def test_compose_without_a_check_worker_or_with_a_keyed_gateway_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, edit: object, expected: str
) -> None:
    _compose_copy(tmp_path, monkeypatch, edit)
    problems = "\n".join(checks.check_check_workers().problems)
    assert expected in problems, problems


@pytest.mark.parametrize(
    ("name", "edit", "expected"),
    [
        ("worker-check.yaml", lambda d: None, "ops/k8s runs no check worker Deployment"),
        (
            "keda.yaml",
            lambda d: None if d["metadata"]["name"] == "smsq-worker-check" else d,
            "Deployment/smsq-worker-check: no ScaledObject keeps at least one replica",
        ),
        (
            "keda.yaml",
            lambda d: (
                {**d, "spec": {**d["spec"], "minReplicaCount": 0}}
                if d["metadata"]["name"] == "smsq-worker-check"
                else d
            ),
            "Deployment/smsq-worker-check: no ScaledObject keeps at least one replica",
        ),
    ],
)
def test_kubernetes_without_an_always_running_check_worker_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, edit: object, expected: str
) -> None:
    _k8s_copy(tmp_path, monkeypatch, name, edit)
    problems = "\n".join(checks.check_check_workers().problems)
    assert expected in problems, problems
