"""The Django app: hands ``settings.SMSQ`` to :func:`producers.configure` when Django starts."""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping

from django.apps import AppConfig
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from producers.keyring import get_keyring
from producers.settings import configure, get_settings, shown_setting


class SmsqConfig(AppConfig):
    """``producers.integrations.django`` in ``INSTALLED_APPS``."""

    name = "producers.integrations.django"
    label = "smsq"
    verbose_name = "smsq"

    def ready(self) -> None:
        """Configure smsq from ``SMSQ`` over the ``SMSQ_*`` environment; without it, check the
        environment now, so that a bad variable (or missing data keys) stops Django here rather
        than at the first send."""
        values = getattr(settings, "SMSQ", None)
        if values is None:
            get_settings()
        elif not isinstance(values, Mapping):
            raise ImproperlyConfigured("SMSQ must be a dict of smsq settings, e.g. {'REDIS_URL': '…'}")
        else:
            configure(values)
            _hide_secrets(values)
        get_keyring()


def _hide_secrets(values: Mapping[str, object]) -> None:
    """Once smsq holds them, leave in ``settings.SMSQ`` only what may be shown: Django's debug page
    and its error mails to ``ADMINS`` print settings in clear unless their name looks secret, and
    ``REDIS_URL`` (a password in its URL) does not."""
    if isinstance(values, MutableMapping):
        for key in list(values):
            values[key] = shown_setting(key, values[key])
