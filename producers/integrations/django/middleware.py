"""``SmsqErrorMiddleware``: a view's :class:`~producers.errors.SmsqError` becomes smsq's JSON answer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse

from producers.errors import SmsqError
from producers.http_answers import HttpAnswer, error_answer


def json_response(answer: HttpAnswer) -> JsonResponse:
    """``answer`` as a Django response."""
    return JsonResponse(answer.body, status=answer.status, headers=answer.headers)


class SmsqErrorMiddleware:
    """Answers any smsq error a view raises: 400 bad input, 429 with ``Retry-After``, 503…"""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> Any:
        """The JSON answer for an smsq error; None (Django's own handling) for anything else."""
        if isinstance(exception, SmsqError):
            return json_response(error_answer(exception))
        return None
