"""Who may use the app once it listens beyond this machine: a bearer token, and CORS by invitation.

With ``TOKEN`` set, every route but /healthz and the static files needs it: API clients send
``Authorization: Bearer TOKEN``; a browser opens a page once as ``/?token=TOKEN`` (or
``/stream?token=TOKEN``) and gets it back as a same-site, HttpOnly cookie, which its own requests
(uploads, the stream's <img>) then carry. ``ALLOW_ORIGIN`` names the one other origin whose pages
may call the API (CORS); by default none may.
"""

import hmac

from flask import Flask, Response, current_app, g, request

from realtime_fer.web.errors import json_error

COOKIE = "realtime_fer_token"
OPEN_ENDPOINTS = ("api.healthz", "static")


def register(app: Flask) -> None:
    app.before_request(_require_token)
    app.after_request(_cors)


def _matches(presented: str | None, token: str) -> bool:
    return presented is not None and hmac.compare_digest(presented.encode(), token.encode())


def _require_token() -> Response | None:
    token = current_app.config["TOKEN"]
    if not token or request.endpoint in OPEN_ENDPOINTS or request.method == "OPTIONS":
        return None
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and _matches(credentials.strip(), token):
        return None
    if _matches(request.cookies.get(COOKIE), token):
        return None
    if _matches(request.args.get("token"), token):
        g.remember_token = True  # a page opened with ?token=: its own requests will carry a cookie
        return None
    response = json_error(401, "unauthorized: send 'Authorization: Bearer TOKEN' (pages: ?token=TOKEN)")
    response.headers["WWW-Authenticate"] = 'Bearer realm="realtime-fer"'
    return response


def _cors(response: Response) -> Response:
    """The token cookie for a page opened with ?token=, and CORS headers for the allowed origin."""
    if g.get("remember_token"):
        token = current_app.config["TOKEN"]
        response.set_cookie(COOKIE, token, httponly=True, samesite="Strict", secure=request.is_secure)
    origin = current_app.config["ALLOW_ORIGIN"]
    if origin and request.headers.get("Origin") == origin:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
        response.headers["Access-Control-Allow-Methods"] = "GET, POST"
        response.headers["Access-Control-Max-Age"] = "600"
    response.vary.add("Origin")
    return response
