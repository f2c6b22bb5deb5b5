"""The login flow's own views."""

import json

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET, require_POST

from producers import check_code
from producers.integrations.django import client_ip


@require_POST
def verify(request: HttpRequest) -> JsonResponse:
    """Log the user in when the code is right; the 6th wrong code answers 429 ``check_locked``."""
    data = json.loads(request.body)
    result = check_code(data["phone"], data["code"], client_ip=client_ip(request))
    if result.passed:
        request.session["phone"] = data["phone"]
    return JsonResponse({"passed": result.passed, "attempts_left": result.attempts_left})


@require_GET
def me(request: HttpRequest) -> JsonResponse:
    """Whether this browser is logged in."""
    return JsonResponse({"logged_in": "phone" in request.session})
