"""The gateway's contract: ``/openapi.json`` is valid OpenAPI 3.1, names every route, error reason and
``Retry-After``, and what the running gateway answers matches it. The README's Node client runs
against a real gateway."""

from __future__ import annotations

import re
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import redis
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from producers import SmsqError
from producers.http_answers import status_for
from smsq.gateway.app import GatewayConfig, create_app
from smsq.gateway.openapi import openapi_document
from smsq.gateway.receipts import ReceiptConfig
from smsq.net import free_port
from tests.conftest import EmulatorHandle, limit_log_key, record_sent
from tests.producers.test_http_answers import all_subclasses
from tests.smsq.gateway_client import Gateway, Reply, StartGateway, fresh_number, wait_final_over_http

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT_URI = "urn:smsq:gateway-openapi"
#: aiohttp adds HEAD to every GET route by itself; the document describes the GET. The receipt
#: route's catch-all ("*") only answers 404/405, as the document says under its POST.
IMPLICIT_METHODS = {"HEAD", "*"}
#: A gateway with every optional route: the receipt route exists only with a path secret.
FULL = GatewayConfig(receipts=ReceiptConfig("s" * 32))


def routes_served() -> set[tuple[str, str]]:
    """(path template, method) of every route the gateway application registers."""
    found = set()
    for route in create_app(FULL).router.routes():
        if route.method not in IMPLICIT_METHODS:
            found.add((route.resource.canonical, route.method.lower()))  # type: ignore[union-attr]
    return found


def routes_described(document: dict[str, Any]) -> set[tuple[str, str]]:
    methods = {"get", "put", "post", "delete", "patch", "options", "head", "trace"}
    paths = document["paths"].items()
    return {(path, method) for path, item in paths for method in item if method in methods}


def response(document: dict[str, Any], path: str, method: str, status: int) -> tuple[dict[str, Any], str]:
    """The response object for ``status`` and a JSON pointer to it, following a ``$ref``."""
    pointer = f"/paths/{path.replace('~', '~0').replace('/', '~1')}/{method}/responses/{status}"
    found = document["paths"][path][method]["responses"][str(status)]
    if "$ref" in found:
        pointer = found["$ref"].removeprefix("#")
        name = pointer.rsplit("/", 1)[-1]
        found = document["components"]["responses"][name]
    return found, pointer


def reasons_of(response_object: dict[str, Any]) -> set[str]:
    schema = response_object["content"]["application/json"]["schema"]
    return set(schema.get("properties", {}).get("reason", {}).get("enum", []))


# --- the document ------------------------------------------------------------------------------------


def test_the_document_is_valid_openapi_3_1() -> None:
    document = openapi_document()
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_every_gateway_route_is_described_and_every_described_route_is_served() -> None:
    served, described = routes_served(), routes_described(openapi_document())
    assert served - described == set(), "routes the gateway serves that openapi.json does not describe"
    assert described - served == set(), "routes openapi.json describes that the gateway does not serve"


def test_the_route_drift_guard_sees_a_route_added_to_the_gateway() -> None:
    async def receipts(request: object) -> None:
        return None

    app = create_app()
    app.router.add_post("/v1/receipts", receipts)  # type: ignore[arg-type]
    served = {(r.resource.canonical, r.method.lower()) for r in app.router.routes() if r.method != "HEAD"}  # type: ignore[union-attr]
    assert ("/v1/receipts", "post") in served - routes_described(openapi_document())


def test_every_smsq_error_reason_is_described_under_the_status_it_answers() -> None:
    document = openapi_document()
    all_reasons = set(document["components"]["schemas"]["Error"]["properties"]["reason"]["enum"])
    v1 = [(path, method) for path, method in routes_described(document) if path.startswith("/v1/")]
    for klass in all_subclasses(SmsqError):
        error = klass.__new__(klass)  # only its class attributes are read
        status = status_for(error)
        assert klass.reason in all_reasons, klass.__name__
        described = [
            reasons_of(response(document, path, method, status)[0])
            for path, method in v1
            if str(status) in document["paths"][path][method]["responses"]
        ]
        assert any(klass.reason in reasons for reasons in described), (
            f"{klass.__name__}: reason {klass.reason!r} is under no {status} answer of a /v1 route"
        )


def test_every_refusal_and_transient_failure_describes_retry_after() -> None:
    document = openapi_document()
    for path, method in routes_described(document):
        for status in document["paths"][path][method]["responses"]:
            found, pointer = response(document, path, method, int(status))
            if status == "429":
                header = found["headers"]["Retry-After"]
                header = document["components"]["headers"][header["$ref"].rsplit("/", 1)[-1]]
                assert header["required"] is True, pointer
            if reasons_of(found) & {"provider_transient", "provider_throttled"}:
                assert "Retry-After" in found["headers"], pointer


def test_the_gateway_serves_the_document(gateway: Gateway) -> None:
    reply = gateway.call("GET", "/openapi.json")
    assert reply.status == 200
    assert reply.json == openapi_document()


# --- the running gateway answers what the document says -------------------------------------------------


def assert_conforms(reply: Reply, path: str, method: str) -> None:
    """``reply``'s status is documented for the operation, and its body and headers match."""
    document = openapi_document()
    responses = document["paths"][path][method]["responses"]
    assert str(reply.status) in responses, f"{method.upper()} {path} answered an undocumented {reply.status}"
    found, pointer = response(document, path, method, reply.status)
    registry = Registry().with_resource(
        DOCUMENT_URI, Resource.from_contents(document, default_specification=DRAFT202012)
    )
    schema = {"$ref": f"{DOCUMENT_URI}#{pointer}/content/application~1json/schema"}
    Draft202012Validator(schema, registry=registry).validate(reply.json)
    for name, given in found.get("headers", {}).items():
        header = document["components"]["headers"].get(given.get("$ref", "").rsplit("/", 1)[-1], given)
        if header.get("required"):
            assert name in reply.headers, f"{name} missing from {reply.status}"
        if name == "Retry-After" and name in reply.headers:
            assert int(reply.headers[name]) >= 1


def test_what_the_gateway_answers_matches_the_document(
    gateway: Gateway, emulator: EmulatorHandle, workers: object
) -> None:
    phone = fresh_number()
    sent = gateway.send(phone)
    assert_conforms(sent, "/v1/codes", "post")
    assert_conforms(gateway.send(phone), "/v1/codes", "post")  # 429
    assert_conforms(gateway.send("12345"), "/v1/codes", "post")  # 400
    ticket = sent.json["ticket"]
    assert wait_final_over_http(gateway, ticket)["state"] == "sent"
    assert_conforms(gateway.call("GET", f"/v1/codes/{ticket}"), "/v1/codes/{ticket}", "get")
    assert_conforms(gateway.call("GET", f"/v1/codes/{uuid.uuid4().hex}"), "/v1/codes/{ticket}", "get")
    code = emulator.messages(phone)[0]["code"]
    for _ in range(5):
        wrong = gateway.call("POST", "/v1/checks", {"phone": phone, "code": "0" * 8})
        assert_conforms(wrong, "/v1/checks", "post")
    locked = gateway.call("POST", "/v1/checks", {"phone": phone, "code": code})
    assert locked.status == 429
    assert_conforms(locked, "/v1/checks", "post")
    assert_conforms(gateway.call("POST", "/v1/checks", {"phone": phone}), "/v1/checks", "post")
    assert_conforms(gateway.call("GET", "/healthz"), "/healthz", "get")


def test_a_provider_outage_answers_as_the_document_says(
    gateway: Gateway, emulator: EmulatorHandle, redis_client: redis.Redis
) -> None:
    # the emulator's magic number 13900000003 answers HTTP 503 every time; smsq asks only about a
    # number that has a live code
    record_sent(redis_client, "13900000003")
    reply = gateway.call("POST", "/v1/checks", {"phone": "13900000003", "code": "1234"})
    assert (reply.status, reply.json["reason"]) == (503, "provider_transient")
    assert reply.headers["Retry-After"] == "1"
    assert_conforms(reply, "/v1/checks", "post")


# --- the README's Node client ----------------------------------------------------------------------------


def readme_block(language: str) -> str:
    """The one ``language`` code block in README.md."""
    blocks = re.findall(rf"^```{language}\n(.*?)^```$", (ROOT / "README.md").read_text(), re.M | re.S)
    assert len(blocks) == 1, f"README.md should have exactly one ```{language} block"
    return blocks[0]


def test_the_readme_node_client_sends_a_code_and_reads_its_status(
    smsq_env: dict[str, str], start_gateway: StartGateway, redis_client: redis.Redis, tmp_path: Path
) -> None:
    node = shutil.which("node")
    assert node is not None, "node is not installed (Debian's nodejs package)"
    script = tmp_path / "send.mjs"
    script.write_text(readme_block("js"))
    gateway = start_gateway(token="node-client-token")
    env = {"PATH": "/usr/bin:/bin", "GATEWAY_URL": gateway.base, "SMSQ_GATEWAY_TOKEN": "node-client-token"}
    phone = fresh_number()

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [node, str(script), phone], capture_output=True, text=True, env=env, timeout=30, check=False
        )

    first = run()
    assert first.returncode == 0, first.stdout + first.stderr
    ticket, state = first.stdout.split()
    assert state in {"queued", "sending", "sent"}
    assert gateway.call("GET", f"/v1/codes/{ticket}").json["masked_phone"] == f"{phone[:3]}****{phone[-4:]}"
    assert redis_client.exists(limit_log_key("ip", "203.0.113.7"))

    again = run()  # the same number within a minute: the example's refusal branch
    assert again.returncode == 1
    status, reason, retry_after = again.stdout.split()
    assert (status, reason) == ("429", "rate_limited")
    assert 1 <= int(retry_after) <= 60


def test_the_readme_go_client_talks_to_the_same_routes() -> None:
    """Go is not on the test machines; the block must at least call the routes the Node one does."""
    go = readme_block("go")
    assert '"/v1/codes"' in go and "Bearer " in go and "Retry-After" in go
    assert "GATEWAY_URL" in go and "SMSQ_GATEWAY_TOKEN" in go


def test_what_the_receipt_route_answers_matches_the_document(
    smsq_env: dict[str, str], start_gateway: StartGateway
) -> None:
    secret = "c" * 40
    gateway = start_gateway(SMSQ_RECEIPT_PATH_SECRET=secret)
    path, template = f"/receipts/{secret}", "/receipts/{secret}"
    stored = gateway.call(
        "POST", path, [{"out_id": uuid.uuid4().hex, "success": True, "err_code": "DELIVERED"}]
    )
    assert stored.json == {"code": 0, "msg": "ok"}
    assert_conforms(stored, template, "post")
    assert_conforms(gateway.call("POST", path, raw=b"not json"), template, "post")  # 400
    assert_conforms(gateway.call("POST", path, [{"success": True}] * 1001), template, "post")  # 413
    assert_conforms(gateway.call("POST", f"/receipts/{'d' * 40}", []), template, "post")  # 404
    wrong_method = gateway.call("PUT", path, [])
    assert wrong_method.status == 405
    response_object, _ = response(openapi_document(), template, "post", 405)
    assert wrong_method.headers["Allow"] == "POST" and "Allow" in response_object["headers"]
    assert secret not in gateway.log()
    dead_redis = f"redis://127.0.0.1:{free_port()}/0"
    cut_off = start_gateway(
        SMSQ_RECEIPT_PATH_SECRET=secret, SMSQ_REDIS_URL=dead_redis, SMSQ_BROKER_URL=dead_redis
    )
    unavailable = cut_off.call("POST", path, [])
    assert unavailable.json == {"code": 503, "msg": "not stored; retry later"}
    assert_conforms(unavailable, template, "post")
