"""Thin web-framework integrations, each an optional extra (``pip install smsq[django]``…).

- ``producers.integrations.django``: an app (``SMSQ = {...}`` in settings.py reaches
  :func:`producers.configure`), ``SmsqErrorMiddleware`` and ready-made URLs.
- ``producers.integrations.flask``: ``init_app(app)``, an error handler and a blueprint.
- ``producers.integrations.fastapi``: ``init_app(app)``, exception handlers, a client-IP dependency
  and a router.

Every one answers errors with :func:`producers.http_answers.error_answer` and passes the end user's
IP to ``send_code`` (``client_ip=``), as the framework's own proxy handling sees it. The ready-made
routes are the gateway's, under a prefix of your choice::

    POST {prefix}/codes           {"phone", "purpose"?}  → 202 ticket (Location: the status URL)
    POST {prefix}/checks          {"phone", "code", "purpose"?} → 200 {"passed", "attempts_left", "ticket"}
    GET  {prefix}/codes/{ticket}  the send's status, phone masked

Unlike the gateway's, they take neither ``client_ip`` nor ``lane`` from the body: the caller is the
end user's browser, not a trusted backend. The framework-neutral part is :mod:`.common`.
"""
