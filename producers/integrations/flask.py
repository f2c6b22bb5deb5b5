"""smsq for Flask: ``init_app(app)`` (``pip install smsq[flask]``).

::

    from producers.integrations.flask import init_app
    init_app(app)   # smsq errors answered as JSON; send / check / status under /smsq

The client IP is ``request.remote_addr``: behind reverse proxies, wrap the app in Werkzeug's
``ProxyFix`` (``app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1)``) and it is the forwarded client.
"""

from __future__ import annotations

from flask import Blueprint, Flask, Response, jsonify, request, url_for

from producers.errors import SmsqError
from producers.http_answers import HttpAnswer, error_answer
from producers.integrations import common

__all__ = ["blueprint", "client_ip", "handle_error", "init_app"]

#: The ready-made routes; ``init_app`` registers it, or register it yourself.
blueprint = Blueprint("smsq", __name__)


def init_app(app: Flask, *, url_prefix: str = "/smsq", routes: bool = True) -> None:
    """Answer smsq errors from every view as JSON and, with ``routes``, mount the blueprint."""
    app.register_error_handler(SmsqError, handle_error)
    if routes:
        app.register_blueprint(blueprint, url_prefix=url_prefix)


def handle_error(exc: SmsqError) -> Response:
    """The JSON answer for an smsq error."""
    return _response(error_answer(exc))


def client_ip() -> str | None:
    """The current request's end-user IP as Werkzeug sees it (``ProxyFix`` included), or None."""
    return common.valid_ip(request.remote_addr)


def _response(answer: HttpAnswer) -> Response:
    response = jsonify(answer.body)
    response.status_code = answer.status
    response.headers.update(answer.headers)
    return response


def _body() -> bytes:
    """The body, read no further than one byte past the limit."""
    if (request.content_length or 0) > common.MAX_BODY_BYTES:
        raise common.too_large()
    return request.stream.read(common.MAX_BODY_BYTES + 1)


@blueprint.post("/codes")
def send() -> Response:
    """Queue a code to the body's phone; 202 with the ticket."""
    answer = common.send_answer(_body(), request.content_type, client_ip())
    response = _response(answer)
    response.headers["Location"] = url_for(".status", ticket=answer.body["ticket"])
    return response


@blueprint.post("/checks")
def check() -> Response:
    """Check the body's code for its phone; 200 whether or not it passed."""
    return _response(common.check_answer(_body(), request.content_type, client_ip()))


@blueprint.get("/codes/<ticket>")
def status(ticket: str) -> Response:
    """Where the send is, phone masked."""
    return _response(common.status_answer(ticket))
