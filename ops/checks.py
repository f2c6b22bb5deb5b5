"""Checks of the deployment files, run by ``make lint`` (``python -m ops.checks``) and by tests/ops.

Each ``check_*`` function returns a :class:`Report`: the problems found (empty means it passed) and
notes worth printing (what was deliberately not checked, and why). Nothing here needs a Docker
engine, a cluster or the network: schemas ship with the tools (see ops/schemas/README.md).

- :func:`check_prometheus`: ``promtool check rules`` / ``check config`` / ``test rules``.
- :func:`check_compose_schema`: docker-compose.yml against the Compose Specification schema.
- :func:`check_kubernetes`: ops/k8s against Kubernetes' schemas (strict) and KEDA's (hand-written).
- :func:`check_health_and_grace`: healthchecks, ``service_healthy`` waits, loopback ports, and stop
  grace periods longer than the task hard time limit.
- :func:`check_cli_commands`: every ``smsq …`` command a container runs exists, with its options.
- :func:`check_openapi`: the gateway's ``smsq/gateway/openapi.json`` is a valid OpenAPI 3.1 document.
- :func:`check_secrets_and_network`: a gateway bound beyond loopback gets its token from a secret,
  workers and gateways get the data keys from one, every secret key a manifest reads is in the
  example Secret, and a NetworkPolicy guards the ingress of every worker and gateway pod.
- :func:`check_check_workers`: compose and Kubernetes run a dedicated check worker (``smsq worker
  --check``), Kubernetes keeps at least one always (KEDA ``minReplicaCount``), no worker mixes the
  check queue with a lane's, and the gateway holds no Alibaba key.
"""

from __future__ import annotations

import ast
import importlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from producers.constants import CHECK_QUEUE, NO_CLOUD_PROBES

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
PROMETHEUS_DIR = ROOT / "ops" / "prometheus"
K8S_DIR = ROOT / "ops" / "k8s"
KEDA_SCHEMA = ROOT / "ops" / "schemas" / "keda-v1alpha1.json"
CELERYCONFIG_FILE = ROOT / "worker" / "celeryconfig.py"
OPENAPI_FILE = ROOT / "smsq" / "gateway" / "openapi.json"
SECRET_EXAMPLE = K8S_DIR / "secret.example.yaml"

#: The contract's task hard time limit, used only when worker/celeryconfig.py cannot be read.
CONTRACT_TASK_TIME_LIMIT_S = 180
#: Kinds in ops/k8s that are not Kubernetes API objects and are not validated, with the reason.
NOT_API_OBJECTS = {"Kustomization": "kustomize's own file, read by `kubectl apply -k`, never sent to the API"}
#: Subprocesses must never reach the Alibaba credential sources (no metadata probe, no CLI profile).
CHILD_ENV = NO_CLOUD_PROBES


@dataclass
class Report:
    """What one check found: problems (it failed when there are any) and informational notes."""

    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _run(argv: list[str], timeout_s: float = 120) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, **CHILD_ENV)
    return subprocess.run(  # noqa: S603 - fixed argv built here, no shell
        argv, capture_output=True, text=True, timeout=timeout_s, cwd=ROOT, env=env, check=False
    )


def _load_yaml_documents(path: Path) -> list[Any]:
    with path.open(encoding="utf-8") as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc is not None]


def _compose() -> dict[str, Any]:
    documents = _load_yaml_documents(COMPOSE_FILE)
    return documents[0] if documents else {}


def _k8s_documents() -> Iterator[tuple[Path, dict[str, Any]]]:
    for path in sorted(K8S_DIR.glob("*.yaml")):
        for document in _load_yaml_documents(path):
            yield path, document


def _rel(path: Path) -> str:
    """``path`` relative to the repository, when it is inside it."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


# --- (a) Prometheus ---------------------------------------------------------------------------------


def check_prometheus() -> Report:
    """promtool accepts the alert rules and the scrape config, and the rule unit tests pass."""
    report = Report()
    promtool = shutil.which("promtool")
    if promtool is None:
        report.problems.append(
            "promtool not found: install Debian's `prometheus` package (make test does: ops/testdeps.py)"
        )
        return report
    for argv in (
        [promtool, "check", "rules", "alerts.yml"],
        # Resolves nothing: dns_sd_configs are only parsed; rule_files are relative to the config.
        [promtool, "check", "config", "prometheus.yml"],
        [promtool, "test", "rules", "alerts_test.yml"],
    ):
        result = _run([*argv[:1], *argv[1:-1], str(PROMETHEUS_DIR / argv[-1])])
        if result.returncode != 0:
            output = (result.stdout + result.stderr).strip()
            report.problems.append(f"`promtool {' '.join(argv[1:])}` failed:\n{output}")
    return report


# --- (b) Compose schema -----------------------------------------------------------------------------


def check_compose_schema() -> Report:
    """docker-compose.yml is valid under the Compose Specification schema (vendored by check-jsonschema)."""
    report = Report()
    result = _run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.compose-spec",
            str(COMPOSE_FILE),
        ]
    )
    if result.returncode != 0:
        report.problems.append(f"compose schema:\n{(result.stdout + result.stderr).strip()}")
    return report


# --- (c) Kubernetes ---------------------------------------------------------------------------------


@cache
def _keda_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(KEDA_SCHEMA.read_text(encoding="utf-8"))
    return schema


def _validate_keda(document: dict[str, Any]) -> list[str]:
    import jsonschema  # noqa: PLC0415 - only this check needs it

    schema = _keda_schema()
    kind = document.get("kind")
    if kind not in schema["$defs"]:
        return [f"no schema for KEDA kind {kind!r} in {_rel(KEDA_SCHEMA)}"]
    # Validate against the kind's own definition: errors then point at the field, not at a oneOf.
    by_kind = {key: value for key, value in schema.items() if key != "oneOf"} | {"$ref": f"#/$defs/{kind}"}
    validator = jsonschema.Draft202012Validator(by_kind)
    return [
        f"{'.'.join(str(part) for part in error.absolute_path) or '<root>'}: {error.message}"
        for error in sorted(validator.iter_errors(document), key=lambda error: list(error.absolute_path))
    ]


def check_kubernetes() -> Report:
    """Every manifest in ops/k8s validates strictly: core kinds via kubernetes-validate, KEDA kinds via
    ops/schemas/keda-v1alpha1.json."""
    import kubernetes_validate  # noqa: PLC0415 - a dev dependency, only this check needs it

    report = Report()
    version = kubernetes_validate.latest_version()
    for path, document in _k8s_documents():
        kind = document.get("kind", "?")
        name = f"{_rel(path)} {kind}/{(document.get('metadata') or {}).get('name', '?')}"
        if kind in NOT_API_OBJECTS:
            report.notes.append(f"skipped {name}: {NOT_API_OBJECTS[kind]}")
            continue
        if str(document.get("apiVersion", "")).startswith("keda.sh/"):
            report.problems.extend(f"{name}: {problem}" for problem in _validate_keda(document))
            continue
        try:
            kubernetes_validate.validate(document, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            path_text = ".".join(str(part) for part in error.path)
            report.problems.append(f"{name}: {path_text}: {error.message}")
        except kubernetes_validate.SchemaNotFoundError as error:
            report.problems.append(f"{name}: no Kubernetes {version} schema ({error})")
    report.notes.append(
        f"Kubernetes kinds checked against {version} schemas (strict); KEDA kinds against {_rel(KEDA_SCHEMA)}"
    )
    return report


# --- (d) healthchecks, waits, ports, grace periods ----------------------------------------------------


def task_hard_time_limit_s() -> tuple[int, str | None]:
    """``task_time_limit`` from worker.celeryconfig (import, else parse the file), and why not if it
    fell back to the contract's value."""
    try:
        module = importlib.import_module("worker.celeryconfig")
        value = getattr(module, "task_time_limit", None)
        if isinstance(value, int | float):
            return int(value), None
        import_error = "it has no numeric task_time_limit"
    except Exception as error:  # any import failure (missing module, settings) falls back to the file
        import_error = f"import failed: {error!r}"
    if CELERYCONFIG_FILE.exists():
        for node in ast.walk(ast.parse(CELERYCONFIG_FILE.read_text(encoding="utf-8"))):
            targets = node.targets if isinstance(node, ast.Assign) else []
            if isinstance(node, ast.AnnAssign):
                targets = [node.target]
            for target in targets:
                value_node = getattr(node, "value", None)
                if (
                    isinstance(target, ast.Name)
                    and target.id == "task_time_limit"
                    and isinstance(value_node, ast.Constant)
                    and isinstance(value_node.value, int | float)
                ):
                    return int(value_node.value), None
    return CONTRACT_TASK_TIME_LIMIT_S, (
        f"could not read task_time_limit from worker.celeryconfig ({import_error}); "
        f"compared against the contract's {CONTRACT_TASK_TIME_LIMIT_S} s instead"
    )


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(us|ms|s|m|h)")
_DURATION_UNIT_S = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_compose_duration_s(text: str) -> float:
    """Seconds in a compose duration such as ``210s`` or ``3m30s`` (the spec's Go-style format)."""
    text = str(text).strip()
    if not text or _DURATION_PART.sub("", text):
        raise ValueError(f"not a compose duration: {text!r}")
    return sum(float(number) * _DURATION_UNIT_S[unit] for number, unit in _DURATION_PART.findall(text))


def _runs_smsq_worker(command: Any) -> bool:
    words = _command_words(command)
    return words[:2] == ["smsq", "worker"] and "--healthcheck" not in words


def _compose_problems(limit_s: int) -> list[str]:
    problems = []
    services: dict[str, Any] = _compose().get("services") or {}
    for name, service in services.items():
        healthcheck = service.get("healthcheck") or {}
        if not healthcheck.get("test") or healthcheck.get("disable"):
            problems.append(f"compose service {name!r} has no healthcheck: dependents cannot wait for it")
        depends_on = service.get("depends_on") or {}
        if isinstance(depends_on, list):
            problems.append(f"compose service {name!r}: depends_on must wait with condition: service_healthy")
        else:
            for dependency, spec in depends_on.items():
                if (spec or {}).get("condition") != "service_healthy":
                    problems.append(
                        f"compose service {name!r} does not wait for {dependency!r} to be healthy"
                    )
        for port in service.get("ports") or []:
            if not str(port).startswith("127.0.0.1:"):
                problems.append(f"compose service {name!r} publishes {port!r} beyond 127.0.0.1")
        if _runs_smsq_worker(service.get("command")):
            grace = service.get("stop_grace_period")
            if grace is None or parse_compose_duration_s(grace) <= limit_s:
                problems.append(
                    f"compose service {name!r}: stop_grace_period {grace!r} must exceed the task hard "
                    f"time limit ({limit_s} s), or Docker SIGKILLs a send in flight"
                )
            if "container_name" in service:
                problems.append(f"compose service {name!r}: container_name prevents --scale")
    return problems


def _k8s_grace_problems(limit_s: int) -> list[str]:
    problems = []
    for path, document in _k8s_documents():
        if document.get("kind") != "Deployment":
            continue
        pod = document["spec"]["template"]["spec"]
        name = f"{_rel(path)} Deployment/{document['metadata']['name']}"
        if not (pod.get("securityContext") or {}).get("runAsNonRoot"):
            problems.append(f"{name}: pod securityContext must set runAsNonRoot: true")
        for container in pod.get("containers", []):
            if not _runs_smsq_worker(container.get("command")):
                continue
            grace = pod.get("terminationGracePeriodSeconds", 30)
            if grace <= limit_s:
                problems.append(
                    f"{name}: terminationGracePeriodSeconds {grace} must exceed the task hard time "
                    f"limit ({limit_s} s), or scale-in SIGKILLs a send in flight"
                )
            liveness = (container.get("livenessProbe") or {}).get("exec", {}).get("command")
            if _command_words(liveness) != ["smsq", "worker", "--healthcheck"]:
                problems.append(
                    f"{name}: liveness must be `smsq worker --healthcheck` (cheap, no broker ping)"
                )
            if not container.get("resources", {}).get("limits"):
                problems.append(f"{name}: container {container.get('name')!r} has no resource limits")
    return problems


def check_health_and_grace() -> Report:
    """Every compose service is health-checked and awaited; workers outlive their longest task."""
    report = Report()
    limit_s, fallback_reason = task_hard_time_limit_s()
    if fallback_reason:
        report.problems.append(fallback_reason)
    report.notes.append(f"task hard time limit: {limit_s} s")
    report.problems.extend(_compose_problems(limit_s))
    report.problems.extend(_k8s_grace_problems(limit_s))
    return report


# --- (e) the CLI commands containers run -------------------------------------------------------------


def _command_words(command: Any) -> list[str]:
    if command is None:
        return []
    if isinstance(command, str):
        return command.split()
    return [str(word) for word in command]


def container_commands() -> list[tuple[str, list[str]]]:
    """(where, argv) of every command a container runs: Dockerfile CMD, compose commands and
    healthchecks, Kubernetes container commands and exec probes."""
    found: list[tuple[str, list[str]]] = []
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        if line.startswith(("CMD ", "ENTRYPOINT ")):
            keyword, _, rest = line.partition(" ")
            found.append((f"Dockerfile {keyword}", json.loads(rest)))
    for name, service in (_compose().get("services") or {}).items():
        if service.get("command"):
            found.append((f"compose {name} command", _command_words(service["command"])))
        test = _command_words((service.get("healthcheck") or {}).get("test"))
        if test[:1] == ["CMD"]:
            found.append((f"compose {name} healthcheck", test[1:]))
    for path, document in _k8s_documents():
        pod = ((document.get("spec") or {}).get("template") or {}).get("spec") or {}
        for container in pod.get("containers", []):
            where = f"{_rel(path)} {document['metadata']['name']}/{container['name']}"
            if container.get("command"):
                found.append((f"{where} command", [*container["command"], *container.get("args", [])]))
            for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
                exec_command = (container.get(probe) or {}).get("exec", {}).get("command")
                if exec_command:
                    found.append((f"{where} {probe}", _command_words(exec_command)))
    return found


@cache
def subcommand_help(name: str) -> tuple[int, str]:
    """Exit code and output of ``smsq <name> --help``, run as a separate process like a container would."""
    result = _run([sys.executable, "-m", "smsq.cli", name, "--help"], timeout_s=60)
    return result.returncode, result.stdout + result.stderr


def _option_in_help(option: str, help_text: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", help_text) is not None


def check_cli_commands() -> Report:
    """Every ``smsq`` command a container runs names a real subcommand, with options it accepts."""
    from smsq.cli import COMMANDS  # noqa: PLC0415 - import the CLI only when this check runs

    report = Report()
    for where, argv in container_commands():
        if argv[:1] != ["smsq"]:
            continue
        if len(argv) < 2 or argv[1] not in COMMANDS:
            sub = argv[1] if len(argv) > 1 else ""
            report.problems.append(f"{where}: `smsq {sub}` is not in smsq.cli.COMMANDS")
            continue
        code, help_text = subcommand_help(argv[1])
        if code != 0:
            last = help_text.strip().splitlines()[-1:] or ["no output"]
            report.problems.append(f"{where}: `smsq {argv[1]} --help` exited {code}: {last[0]}")
            continue
        for word in argv[2:]:
            option = word.split("=", 1)[0]
            if option.startswith("--") and not _option_in_help(option, help_text):
                report.problems.append(f"{where}: `smsq {argv[1]}` has no option {option}")
    return report


# --- (f) the gateway's OpenAPI document -------------------------------------------------------------


def check_openapi() -> Report:
    """The gateway's contract validates as OpenAPI 3.1 (openapi-spec-validator, schemas it ships)."""
    from openapi_spec_validator import OpenAPIV31SpecValidator  # noqa: PLC0415 - a dev dependency

    report = Report()
    try:
        document = json.loads(OPENAPI_FILE.read_text(encoding="utf-8"))
    except ValueError as error:
        report.problems.append(f"{_rel(OPENAPI_FILE)} is not JSON: {error}")
        return report
    for error in OpenAPIV31SpecValidator(document).iter_errors():
        where = "/".join(str(part) for part in error.absolute_path) or "<root>"
        report.problems.append(f"{_rel(OPENAPI_FILE)}: {where}: {error.message}")
    report.notes.append("the routes it describes are checked against the gateway by tests/smsq")
    return report


# --- (g) secrets wired, network policies ------------------------------------------------------------

#: The variables every process that reads or writes a phone number needs (producers/keyring.py).
DATA_KEY_VARIABLES = ("SMSQ_HASH_KEYS", "SMSQ_ENCRYPTION_KEYS")
_REQUIRED_VARIABLE = re.compile(r"^\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*):\?[^}]*\}$")


def _gateway_host(words: list[str]) -> str:
    """The ``--host`` a ``smsq gateway`` command binds (its default is loopback)."""
    for index, word in enumerate(words):
        if word == "--host" and index + 1 < len(words):
            return words[index + 1]
        if word.startswith("--host="):
            return word.partition("=")[2]
    return "127.0.0.1"


def _needs(words: list[str]) -> tuple[str, ...]:
    """The secret variables a command needs: the data keys for a worker or gateway, and the token
    for a gateway beyond loopback."""
    from smsq.net import is_loopback  # noqa: PLC0415 - the CLI's own definition of loopback

    if words[:2] == ["smsq", "gateway"]:
        token = () if is_loopback(_gateway_host(words)) else ("SMSQ_GATEWAY_TOKEN",)
        return (*DATA_KEY_VARIABLES, *token)
    if _runs_smsq_worker(words):
        return DATA_KEY_VARIABLES
    return ()


def _compose_secret_problems() -> list[str]:
    problems = []
    for name, service in (_compose().get("services") or {}).items():
        environment = service.get("environment") or {}
        if isinstance(environment, list):
            environment = dict(item.partition("=")[::2] for item in environment)
        for variable in _needs(_command_words(service.get("command"))):
            value = str(environment.get(variable, ""))
            if not _REQUIRED_VARIABLE.match(value):
                problems.append(
                    f"compose service {name!r}: {variable} must be a required variable "
                    f'("${{{variable}:?…}}", from .env), not {"missing" if not value else "a literal"}'
                )
    return problems


def _secret_keys_in_example() -> set[str]:
    keys: set[str] = set()
    for document in _load_yaml_documents(SECRET_EXAMPLE):
        keys |= set((document.get("stringData") or {}) | (document.get("data") or {}))
    return keys


def _selects(policy: dict[str, Any], labels: dict[str, str]) -> bool:
    spec = policy.get("spec") or {}
    wanted = (spec.get("podSelector") or {}).get("matchLabels") or {}
    return "Ingress" in (spec.get("policyTypes") or []) and all(labels.get(k) == v for k, v in wanted.items())


def _k8s_secret_problems() -> list[str]:
    problems = []
    documents = list(_k8s_documents())
    policies = [document for _, document in documents if document.get("kind") == "NetworkPolicy"]
    known = _secret_keys_in_example()
    for path, document in documents:
        if document.get("kind") != "Deployment":
            continue
        name = f"{_rel(path)} Deployment/{document['metadata']['name']}"
        template = document["spec"]["template"]
        labels = (template.get("metadata") or {}).get("labels") or {}
        for container in template["spec"].get("containers", []):
            env = {item["name"]: item for item in container.get("env") or []}
            for item in env.values():
                ref = (item.get("valueFrom") or {}).get("secretKeyRef") or {}
                if ref and ref.get("key") not in known:
                    problems.append(f"{name}: secret key {ref.get('key')!r} is not in {_rel(SECRET_EXAMPLE)}")
            argv = [*(container.get("command") or []), *(container.get("args") or [])]
            needed = _needs(_command_words(argv))
            for variable in needed:
                if not ((env.get(variable) or {}).get("valueFrom") or {}).get("secretKeyRef"):
                    problems.append(f"{name}: {variable} must come from the Secret (valueFrom.secretKeyRef)")
            if needed and not any(_selects(policy, labels) for policy in policies):
                problems.append(f"{name}: no NetworkPolicy limits who may connect to its pods")
    return problems


def check_secrets_and_network() -> Report:
    """A gateway beyond loopback runs with a token, workers and gateways with the data keys, all from
    secrets (compose: required variables; Kubernetes: the Secret), and NetworkPolicies guard them."""
    report = Report()
    report.problems.extend(_compose_secret_problems())
    report.problems.extend(_k8s_secret_problems())
    return report


# --- (h) check workers (SMSQ_CHECK_MODE=worker) -----------------------------------------------------

#: Variables that carry the Alibaba key: the gateway runs check_code in worker mode and needs none.
ALIBABA_KEY_VARIABLES = ("ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET")


def _worker_queues(words: list[str]) -> list[str] | None:
    """The queues an ``smsq worker`` command serves (``["*lanes"]`` by default), None for others."""
    if not _runs_smsq_worker(words):
        return None
    if "--check" in words:
        return [CHECK_QUEUE]
    for index, word in enumerate(words):
        if word in {"--queues", "-Q"} and index + 1 < len(words):
            return words[index + 1].split(",")
    return ["*lanes"]


def _queue_problems(where: str, queues: list[str] | None) -> list[str]:
    if queues and CHECK_QUEUE in queues and len(queues) > 1:
        return [f"{where}: serves {CHECK_QUEUE} with other queues: checks would wait behind their backlog"]
    return []


def _compose_check_worker_problems() -> list[str]:
    problems, check_workers = [], 0
    for name, service in (_compose().get("services") or {}).items():
        words = _command_words(service.get("command"))
        queues = _worker_queues(words)
        problems += _queue_problems(f"compose service {name!r}", queues)
        check_workers += queues == [CHECK_QUEUE]
        environment = service.get("environment") or {}
        problems += _gateway_key_problems(f"compose service {name!r}", words, environment)
    if not check_workers:
        problems.append("compose runs no check worker (`smsq worker --check`): every check would fail")
    return problems


def _gateway_key_problems(where: str, words: list[str], variables: Collection[str]) -> list[str]:
    """An Alibaba key given to a gateway, which in worker mode needs none."""
    if words[:2] != ["smsq", "gateway"]:
        return []
    return [
        f"{where}: {variable} set, but the gateway needs no Alibaba key"
        for variable in ALIBABA_KEY_VARIABLES
        if variable in variables
    ]


def _k8s_check_worker_problems() -> list[str]:
    problems, check_deployments = [], set()
    documents = [document for _, document in _k8s_documents()]
    for document in documents:
        if document.get("kind") != "Deployment":
            continue
        name = f"Deployment/{document['metadata']['name']}"
        for container in document["spec"]["template"]["spec"].get("containers", []):
            words = _command_words([*(container.get("command") or []), *(container.get("args") or [])])
            queues = _worker_queues(words)
            problems += _queue_problems(name, queues)
            if queues == [CHECK_QUEUE]:
                check_deployments.add(document["metadata"]["name"])
            env = {item["name"] for item in container.get("env") or []}
            problems += _gateway_key_problems(name, words, env)
    if not check_deployments:
        problems.append("ops/k8s runs no check worker Deployment (`smsq worker --check`)")
    scaled = {
        (document["spec"].get("scaleTargetRef") or {}).get("name"): document["spec"].get("minReplicaCount", 0)
        for document in documents
        if document.get("kind") == "ScaledObject"
    }
    for deployment in sorted(check_deployments):
        if scaled.get(deployment, 0) < 1:
            problems.append(
                f"Deployment/{deployment}: no ScaledObject keeps at least one replica (minReplicaCount >= 1)"
            )
    return problems


def check_check_workers() -> Report:
    """A dedicated check worker always runs, alone on its queue; the gateway holds no Alibaba key."""
    report = Report()
    report.problems.extend(_compose_check_worker_problems())
    report.problems.extend(_k8s_check_worker_problems())
    return report


CHECKS: dict[str, Callable[[], Report]] = {
    "prometheus rules and config (promtool)": check_prometheus,
    "compose file against the compose specification": check_compose_schema,
    "kubernetes manifests (kubernetes-validate --strict, KEDA schema)": check_kubernetes,
    "healthchecks, waits, ports and grace periods": check_health_and_grace,
    "smsq commands run by containers exist": check_cli_commands,
    "gateway OpenAPI document (openapi-spec-validator, 3.1)": check_openapi,
    "secrets wired (gateway token, data keys) and network policies": check_secrets_and_network,
    "a dedicated check worker, always running; no Alibaba key in the gateway": check_check_workers,
}


def main() -> int:
    """Run every check, print what each found, exit 1 when any failed."""
    failed = 0
    for title, check in CHECKS.items():
        report = check()
        print(f"{'ok  ' if report.ok else 'FAIL'} {title}")
        for note in report.notes:
            print(f"       note: {note}")
        for problem in report.problems:
            print("       " + problem.replace("\n", "\n       "))
        failed += not report.ok
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
