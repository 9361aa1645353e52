"""Who may use the app once it listens beyond this machine: a bearer token, and CORS by invitation.

With ``TOKEN`` set, every route but /healthz and the static files needs it: API clients send
``Authorization: Bearer TOKEN``; a browser opens a page once as ``/?token=TOKEN`` (or
``/stream?token=TOKEN``; API routes never take it from the URL, where it would land in logs) and
gets back a same-site, HttpOnly cookie for :data:`COOKIE_MAX_AGE_SECONDS`, ``Secure`` when the page
came over https. The cookie holds a value derived from the token (an HMAC), never the token itself.
``ALLOW_ORIGIN`` names the one other origin whose pages may call the API (CORS); by default none
may, and a POST a browser sends from any other origin is refused before it is analysed (CORS only
hides the answer from the page; the work would be done).
"""

import hashlib
import hmac

from flask import Flask, Response, current_app, g, request

from realtime_fer.web.errors import json_error

COOKIE = "realtime_fer_token"
COOKIE_MAX_AGE_SECONDS = 12 * 3600
OPEN_ENDPOINTS = ("api.healthz", "static")
PAGE_ENDPOINTS = ("pages.webcam", "pages.stream")  # the only routes that take ?token=


def register(app: Flask) -> None:
    app.before_request(_refuse_foreign_posts)
    app.before_request(_require_token)
    app.after_request(_cors)


def session_value(token: str) -> str:
    """The cookie's value: derived from the token, so the cookie never holds the token itself."""
    return hmac.new(token.encode(), b"realtime-fer session cookie", hashlib.sha256).hexdigest()


def _matches(presented: str | None, expected: str) -> bool:
    return presented is not None and hmac.compare_digest(presented.encode(), expected.encode())


def _refuse_foreign_posts() -> Response | None:
    """403 for a POST whose ``Origin`` is neither this server nor ``ALLOW_ORIGIN``."""
    origin = request.headers.get("Origin")
    if request.method != "POST" or origin is None:
        return None  # not a browser's cross-origin request (scripts and same-site forms may omit it)
    own = request.host_url.rstrip("/")
    if origin in (own, current_app.config["ALLOW_ORIGIN"]):
        return None
    return json_error(403, f"forbidden: requests from {origin} are not allowed")


def _require_token() -> Response | None:
    token = current_app.config["TOKEN"]
    if not token or request.endpoint in OPEN_ENDPOINTS or request.method == "OPTIONS":
        return None
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and _matches(credentials.strip(), token):
        return None
    if _matches(request.cookies.get(COOKIE), session_value(token)):
        return None
    if request.endpoint in PAGE_ENDPOINTS and _matches(request.args.get("token"), token):
        g.remember_token = True  # a page opened with ?token=: its own requests will carry a cookie
        return None
    response = json_error(401, "unauthorized: send 'Authorization: Bearer TOKEN' (pages: ?token=TOKEN)")
    response.headers["WWW-Authenticate"] = 'Bearer realm="realtime-fer"'
    return response


def _cors(response: Response) -> Response:
    """The token cookie for a page opened with ?token=, and CORS headers for the allowed origin."""
    if g.get("remember_token"):
        response.set_cookie(
            COOKIE, session_value(current_app.config["TOKEN"]), max_age=COOKIE_MAX_AGE_SECONDS,
            httponly=True, samesite="Strict", secure=request.is_secure,
        )
    origin = current_app.config["ALLOW_ORIGIN"]
    if origin and request.headers.get("Origin") == origin:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
        response.headers["Access-Control-Allow-Methods"] = "GET, POST"
        response.headers["Access-Control-Max-Age"] = "600"
    response.vary.add("Origin")
    return response
