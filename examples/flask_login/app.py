"""A login flow with Flask and smsq: text a code to a phone, check it, log the user in.

Against `make dev` (first run `eval "$(.venv/bin/smsq env)"` in this shell):

    .venv/bin/flask --app examples/flask_login/app run --port 5000

    POST /smsq/codes     {"phone": "13511112222"}                  → 202, the code is on its way
    POST /login/verify   {"phone": "13511112222", "code": "482193"}  → {"passed": true, …}, logged in
    GET  /me                                                      → {"logged_in": true}
"""

import os

from flask import Flask, request, session

from producers import check_code
from producers.integrations.flask import client_ip, init_app

app = Flask(__name__)
app.secret_key = os.environ.get("SECRET_KEY", "dev only: set SECRET_KEY")  # signs the session cookie
init_app(app)  # smsq errors as JSON (400 + reason, 429 + Retry-After…); send / check / status under /smsq


@app.post("/login/verify")
def verify() -> dict[str, object]:
    """Log the user in when the code is right; the 6th wrong code answers 429 ``check_locked``."""
    data = request.get_json()
    result = check_code(data["phone"], data["code"], client_ip=client_ip())
    if result.passed:
        session["phone"] = data["phone"]
    return {"passed": result.passed, "attempts_left": result.attempts_left}


@app.get("/me")
def me() -> dict[str, object]:
    """Whether this browser is logged in."""
    return {"logged_in": "phone" in session}
