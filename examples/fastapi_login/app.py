"""A login flow with FastAPI and smsq: text a code to a phone, check it, log the user in.

Against `make dev` (first run `eval "$(.venv/bin/smsq env)"` in this shell):

    .venv/bin/uvicorn --app-dir examples/fastapi_login app:app --port 8001

    POST /smsq/codes     {"phone": "13511112222"}                  → 202, the code is on its way
    POST /login/verify   {"phone": "13511112222", "code": "482193"}  → {"passed": true, …}, logged in
    GET  /me                                                      → {"logged_in": true}

Behind a reverse proxy, give uvicorn its address (``--forwarded-allow-ips``): smsq's per-IP limits
then count the user's IP, not the proxy's.
"""

import os

from fastapi import FastAPI, Request
from pydantic import BaseModel
from starlette.middleware.sessions import SessionMiddleware

from producers import check_code
from producers.integrations.fastapi import ClientIP, init_app

app = FastAPI()
app.add_middleware(SessionMiddleware, secret_key=os.environ.get("SECRET_KEY", "dev only: set SECRET_KEY"))
init_app(app)  # smsq errors as JSON (400 + reason, 429 + Retry-After…); send / check / status under /smsq


class Verify(BaseModel):
    phone: str
    code: str


# A plain `def`: check_code waits for the provider, so FastAPI runs it in its thread pool and the
# event loop stays free (until smsq has an async API).
@app.post("/login/verify")
def verify(body: Verify, request: Request, ip: ClientIP) -> dict[str, object]:
    """Log the user in when the code is right; the 6th wrong code answers 429 ``check_locked``."""
    result = check_code(body.phone, body.code, client_ip=ip)
    if result.passed:
        request.session["phone"] = body.phone
    return {"passed": result.passed, "attempts_left": result.attempts_left}


@app.get("/me")
def me(request: Request) -> dict[str, object]:
    """Whether this browser is logged in."""
    return {"logged_in": "phone" in request.session}
