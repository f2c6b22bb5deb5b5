"""How many signed SendSmsVerifyCode requests per second the emulator serves on this machine.

``python -m smsq.bench.emulator [--quick] [--json FILE]``

The client must never be the bottleneck, so every request is signed before the clock starts (ACS3,
with :mod:`emulator.signing`, first checked against the SDK's own ``Utils.get_authorization``) and
fired as prebuilt HTTP/1.1 bytes over keep-alive connections from two client processes. Every request
goes to its own phone number, so each one is a real accepted send (``Code: OK``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import secrets
import sys
import time
import urllib.request
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode

from alibabacloud_tea_openapi.utils import Utils

from smsq.devstack.processes import Stack
from smsq.emulator.signing import ACS3_HMAC_SHA256, EMPTY_SHA256, acs3_signature
from smsq.net import free_port

KEY_ID, KEY_SECRET = "bench-key", "bench-secret"
CLIENT_PROCESSES = (
    1  # one client process keeps up with the server; a second one only competes for the 2 cores
)
CONNECTIONS_PER_PROCESS = 32
_UA = "AlibabaCloud (Linux; x86_64) Python/3.11.7 Core/0.4.3 TeaDSL/2"


def _signed_headers(endpoint: str, query: dict[str, str], date: str, nonce: str) -> dict[str, str]:
    headers = {
        "host": endpoint,
        "x-acs-version": "2017-05-25",
        "x-acs-action": "SendSmsVerifyCode",
        "user-agent": _UA,
        "x-acs-date": date,
        "x-acs-signature-nonce": nonce,
        "accept": "application/json",
        "x-acs-content-sha256": EMPTY_SHA256,
        "x-acs-credentials-provider": "static_ak",
    }
    names = tuple(sorted(headers))
    signature = acs3_signature(
        method="POST",
        path="/",
        params=query.items(),
        headers={k: [v] for k, v in headers.items()},
        signed_headers=names,
        payload_sha256=EMPTY_SHA256,
        secret=KEY_SECRET,
    )
    headers["authorization"] = (
        f"{ACS3_HMAC_SHA256} Credential={KEY_ID},SignedHeaders={';'.join(names)},Signature={signature}"
    )
    return headers


def check_signer_matches_the_sdk() -> None:
    """Refuse to benchmark with a signer that disagrees with the SDK."""
    query = {"PhoneNumber": "13500000000", "SignName": "速通互联验证码", "OutId": "a b+c/~*"}
    headers = _signed_headers("127.0.0.1:1", query, "2026-01-01T00:00:00Z", "0" * 32)
    ours = headers.pop("authorization")
    request = SimpleNamespace(pathname="/", method="POST", query=query, headers=headers)
    theirs = Utils.get_authorization(request, ACS3_HMAC_SHA256, EMPTY_SHA256, KEY_ID, KEY_SECRET)
    if ours != theirs:
        raise RuntimeError("the benchmark's ACS3 signer disagrees with the SDK")


def build_requests(endpoint: str, first_phone: int, count: int) -> list[bytes]:
    """``count`` signed SendSmsVerifyCode requests as raw HTTP/1.1 bytes, one phone number each."""
    date = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    raw = []
    for i in range(count):
        query = {
            "PhoneNumber": f"135{first_phone + i:08d}",
            "SignName": "速通互联验证码",
            "TemplateCode": "100001",
            "TemplateParam": '{"code":"##code##","min":"5"}',
        }
        headers = _signed_headers(endpoint, query, date, secrets.token_hex(16))
        lines = [f"POST /?{urlencode(query)} HTTP/1.1"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        lines += ["content-length: 0", "", ""]
        raw.append("\r\n".join(lines).encode())
    return raw


async def _connection(host: str, port: int, queue: list[bytes], results: list[int]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while queue:
            writer.write(queue.pop())
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            body = await reader.readexactly(length)
            results.append(1 if head.startswith(b"HTTP/1.1 200") and b'"Code": "OK"' in body else 0)
    finally:
        writer.close()


def _client(endpoint: str, first_phone: int, count: int, start_at: float, out: Any) -> None:
    queue = build_requests(endpoint, first_phone, count)
    host, port = endpoint.split(":")
    results: list[int] = []

    async def fire() -> None:
        await asyncio.gather(
            *(_connection(host, int(port), queue, results) for _ in range(CONNECTIONS_PER_PROCESS))
        )

    time.sleep(max(0.0, start_at - time.time()))
    began = time.time()
    asyncio.run(fire())
    out.put({"began": began, "ended": time.time(), "requests": len(results), "ok": sum(results)})


def run(quick: bool) -> dict[str, Any]:
    """Start an emulator, fire the signed sends at it, and return the measured rate."""
    check_signer_matches_the_sdk()
    total = 4_000 if quick else 40_000
    per_client = total // CLIENT_PROCESSES
    port = free_port()
    with Stack() as stack:
        endpoint = stack.emulator(
            port, KEY_ID, KEY_SECRET, ["--rate-limit", "0", "--daily-limit", "0"], name="emulator-bench"
        )
        context = multiprocessing.get_context("spawn")
        out = context.Queue()
        start_at = time.time() + (3.0 if quick else 8.0)  # time for every client to pre-sign its requests
        clients = [
            context.Process(target=_client, args=(endpoint, i * per_client, per_client, start_at, out))
            for i in range(CLIENT_PROCESSES)
        ]
        for process in clients:
            process.start()
        reports = [out.get(timeout=600) for _ in clients]
        for process in clients:
            process.join()
        with urllib.request.urlopen(f"http://{endpoint}/_emulator/stats", timeout=30) as response:
            stamps = json.loads(response.read())["send_timestamps"]
    seconds = max(r["ended"] for r in reports) - min(r["began"] for r in reports)
    requests = sum(r["requests"] for r in reports)
    provider_seconds = stamps[-1] - stamps[0] if len(stamps) > 1 else 0.0
    return {
        "requests": requests,
        "ok": sum(r["ok"] for r in reports),
        "seconds": round(seconds, 3),
        "requests_per_s": round(requests / seconds, 1),
        "provider_seen_per_s": round((len(stamps) - 1) / provider_seconds, 1) if provider_seconds else None,
        "clients": CLIENT_PROCESSES,
        "connections": CLIENT_PROCESSES * CONNECTIONS_PER_PROCESS,
    }


def main(argv: list[str] | None = None) -> None:
    """Command line: print the result, optionally write it as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a short run (4,000 requests)")
    parser.add_argument("--json", dest="json_path", help="write the result to this file")
    args = parser.parse_args(argv)
    result = run(args.quick)
    print(json.dumps(result, indent=2))
    if args.json_path:
        with open(args.json_path, "w", encoding="utf-8") as handle:
            json.dump(result, handle, indent=2)
    if result["ok"] != result["requests"]:
        print("some requests were not accepted", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
