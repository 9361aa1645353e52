"""JSON errors for the API: a client of /api/* always gets ``{"error": "..."}``, never an HTML page."""

from flask import Flask, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

RETRY_AFTER_SECONDS = 1  # what every 503 tells a client to wait before it tries again


def json_error(status: int, message: str) -> Response:
    response = jsonify(error=message)
    response.status_code = status
    return response


def client_gone() -> bool:
    """Whether the client of this request has hung up (known under waitress only)."""
    check = request.environ.get("waitress.client_disconnected")
    return bool(check and check())


def wants_json() -> bool:
    return request.path.startswith("/api/")


def register(app: Flask) -> None:
    """JSON bodies for HTTP errors under /api/ (HTML elsewhere, as Flask does), and a Retry-After on
    every 503."""

    @app.after_request
    def retry_after(response: Response) -> Response:
        if response.status_code == 503:
            response.headers.setdefault("Retry-After", str(RETRY_AFTER_SECONDS))
        return response

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(error: RequestEntityTooLarge):
        limit = current_app.config["MAX_CONTENT_LENGTH"]
        message = f"request too large: the limit is {limit / 2**20:g} MB ({limit:,} bytes)"
        return json_error(413, message) if wants_json() else error

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if not wants_json():
            return error
        response = error.get_response()  # keeps headers such as a 405's Allow
        response.set_data(jsonify(error=f"{error.name}: {error.description}").get_data())
        response.content_type = "application/json"
        return response
