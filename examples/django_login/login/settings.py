"""A login flow with Django and smsq: the whole project's settings.

Against `make dev` (first run `eval "$(.venv/bin/smsq env)"` in this shell):

    .venv/bin/python examples/django_login/manage.py runserver 8002
"""

import os

SECRET_KEY = os.environ.get("SECRET_KEY", "dev only: set SECRET_KEY")
DEBUG = os.environ.get("DEBUG", "") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "login.urls"
USE_TZ = True

INSTALLED_APPS = [
    "producers.integrations.django",  # reads SMSQ below when Django starts
]
# A JSON API without CSRF tokens: smsq's own views accept only application/json, which no
# cross-site form can send; sessions live in a signed cookie, so no database is needed.
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "producers.integrations.django.SmsqErrorMiddleware",  # smsq errors as JSON: 400, 429 + Retry-After…
]
SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"

# smsq's settings by name; a value here wins over the same SMSQ_* environment variable, and what
# is left out (the Redis URL, the provider) comes from the environment.
SMSQ = {"CHECK_MAX_FAILURES": 5}
