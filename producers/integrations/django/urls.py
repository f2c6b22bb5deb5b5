"""The ready-made routes: ``path("smsq/", include("producers.integrations.django.urls"))``."""

from __future__ import annotations

from django.urls import re_path

from producers.integrations import common
from producers.integrations.django import views

app_name = "smsq"

urlpatterns = [
    re_path(r"^codes$", views.send, name="send"),
    re_path(r"^checks$", views.check, name="check"),
    re_path(rf"^codes/(?P<ticket>{common.TICKET_PATTERN})$", views.status, name="status"),
]
