"""smsq for FastAPI and Starlette: ``init_app(app)`` (``pip install smsq[fastapi]``).

::

    from producers.integrations.fastapi import init_app
    init_app(app)   # smsq errors answered as JSON; send / check / status under /smsq

Pieces, for wiring by hand: :data:`exception_handlers` (``FastAPI(exception_handlers=…)``, also
Starlette's), :data:`ClientIP` (a dependency: ``def login(ip: ClientIP)``) and :data:`router`.

The client IP is ``request.client.host``: behind reverse proxies, run uvicorn with
``--forwarded-allow-ips`` set to their addresses and it is the forwarded client.

``send_code`` and ``check_code`` block (Redis; the provider, for a check), so the routes here are
plain ``def``: FastAPI runs them in its thread pool and the event loop stays free. Call them from
your own routes the same way, until smsq has an async API.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from producers.errors import SmsqError
from producers.http_answers import HttpAnswer, error_answer
from producers.integrations import common

__all__ = ["ClientIP", "client_ip", "exception_handlers", "handle_error", "init_app", "router"]


def client_ip(request: Request) -> str | None:
    """The end user's IP as the server sees it (proxy headers included), or None when not an IP."""
    return common.valid_ip(request.client.host if request.client else None)


#: A dependency giving the end user's IP: ``def route(ip: ClientIP): send_code(…, client_ip=ip)``.
ClientIP = Annotated[str | None, Depends(client_ip)]


async def handle_error(request: Request, exc: Exception) -> Response:
    """The JSON answer for an smsq error."""
    assert isinstance(exc, SmsqError)  # registered for SmsqError only
    return _response(error_answer(exc))


#: For ``FastAPI(exception_handlers=…)`` or ``Starlette(exception_handlers=…)``.
exception_handlers: dict[Any, Callable[[Request, Exception], Coroutine[Any, Any, Response]]] = {
    SmsqError: handle_error
}


def init_app(app: FastAPI, *, prefix: str = "/smsq", routes: bool = True) -> None:
    """Answer smsq errors from every route as JSON and, with ``routes``, include the router."""
    app.add_exception_handler(SmsqError, handle_error)
    if routes:
        app.include_router(router, prefix=prefix)


def _response(answer: HttpAnswer) -> JSONResponse:
    return JSONResponse(answer.body, status_code=answer.status, headers=answer.headers)


async def _body(request: Request) -> bytes:
    """The body, read no further than the first chunk past the limit (an async dependency, so
    the sync routes below get it without touching the event loop)."""
    declared = request.headers.get("content-length", "0")
    if declared.isdigit() and int(declared) > common.MAX_BODY_BYTES:
        raise common.too_large()
    chunks = bytearray()
    async for chunk in request.stream():
        chunks += chunk
        if len(chunks) > common.MAX_BODY_BYTES:
            raise common.too_large()
    return bytes(chunks)


RawBody = Annotated[bytes, Depends(_body)]

#: The ready-made routes; ``init_app`` includes it, or include it yourself.
router = APIRouter(tags=["smsq"])


# Plain `def` routes: FastAPI runs them in its thread pool, so a blocking call never stalls the loop.
@router.post("/codes", status_code=202)
def send(request: Request, body: RawBody, ip: ClientIP) -> Response:
    """Queue a code to the body's phone; 202 with the ticket."""
    answer = common.send_answer(body, request.headers.get("content-type"), ip)
    response = _response(answer)
    response.headers["Location"] = request.app.url_path_for("smsq_status", ticket=answer.body["ticket"])
    return response


@router.post("/checks")
def check(request: Request, body: RawBody, ip: ClientIP) -> Response:
    """Check the body's code for its phone; 200 whether or not it passed."""
    return _response(common.check_answer(body, request.headers.get("content-type"), ip))


@router.get("/codes/{ticket}", name="smsq_status")
def status(ticket: str) -> Response:
    """Where the send is, phone masked."""
    return _response(common.status_answer(ticket))
