"""smsq for Django: three lines in a project (``pip install smsq[django]``).

settings.py::

    INSTALLED_APPS = [..., "producers.integrations.django"]
    MIDDLEWARE = [..., "producers.integrations.django.SmsqErrorMiddleware"]
    SMSQ = {"REDIS_URL": "redis://…", "PHONE_LIMITS": "1/minute;5/hour"}   # optional

urls.py (optional: ready-made send / check / status routes, see :mod:`producers.integrations`)::

    path("smsq/", include("producers.integrations.django.urls")),

``SMSQ`` takes the settings of ``producers.settings`` by name (``REDIS_URL``, ``redis_url`` or
``SMSQ_REDIS_URL``). The app passes it to :func:`producers.configure` when Django starts
(``AppConfig.ready()``); a value in the dict wins over the same ``SMSQ_*`` environment variable, and
what the dict leaves out is read from the environment. A bad value stops Django from starting
with a :class:`~producers.errors.ConfigurationError` naming the variable. Once smsq holds them, the
dict keeps URLs without their password and secrets as ``***``: Django's error pages and mails print
settings whose name does not look secret (``REDIS_URL``) in clear.

Django has no proxy handling, so behind reverse proxies of your own set ``TRUSTED_PROXY_HOPS`` (in
``SMSQ`` or as ``SMSQ_TRUSTED_PROXY_HOPS``) to their number: :func:`client_ip` then reads the
client from ``X-Forwarded-For``. It is 0 by default: the header is never trusted.
"""

from __future__ import annotations

from typing import Any

from producers.integrations.common import forwarded_ip
from producers.integrations.django.middleware import SmsqErrorMiddleware
from producers.settings import get_settings

__all__ = ["SmsqErrorMiddleware", "client_ip"]


def client_ip(request: Any) -> str | None:
    """The end user's IP: the peer, or behind ``TRUSTED_PROXY_HOPS`` proxies the forwarded client."""
    meta = request.META
    hops = get_settings().trusted_proxy_hops
    return forwarded_ip(meta.get("REMOTE_ADDR"), meta.get("HTTP_X_FORWARDED_FOR"), hops)
