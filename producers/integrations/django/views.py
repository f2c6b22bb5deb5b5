"""The ready-made routes as Django views (mounted by ``producers.integrations.django.urls``)."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from producers.integrations import common
from producers.integrations.django import client_ip
from producers.integrations.django.middleware import json_response


def _body(request: HttpRequest) -> bytes:
    """The body, read no further than one byte past the limit."""
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if declared.isdigit() and int(declared) > common.MAX_BODY_BYTES:
        raise common.too_large()
    return request.read(common.MAX_BODY_BYTES + 1)


# csrf_exempt: the views accept only application/json, which no cross-site form can send.
@csrf_exempt
@require_POST
def send(request: HttpRequest) -> JsonResponse:
    """Queue a code to the body's phone; 202 with the ticket."""
    answer = common.send_answer(_body(request), request.content_type, client_ip(request))
    response = json_response(answer)
    response["Location"] = reverse("smsq:status", kwargs={"ticket": answer.body["ticket"]})
    return response


@csrf_exempt
@require_POST
def check(request: HttpRequest) -> JsonResponse:
    """Check the body's code for its phone; 200 whether or not it passed."""
    return json_response(common.check_answer(_body(request), request.content_type, client_ip(request)))


@require_GET
def status(request: HttpRequest, ticket: str) -> JsonResponse:
    """Where the send is, phone masked."""
    return json_response(common.status_answer(ticket))
