"""The app under waitress, the production WSGI server (never Flask's development server)."""

from typing import Any

import waitress
from flask import Flask

MULTIPART_SLACK = 64 * 2**10  # room for the multipart headers around an upload at the cap


def waitress_options(app: Flask) -> dict[str, Any]:
    """Settings that keep visitors' frames in memory.

    Waitress spools request bodies over 512 KB to a temporary file; raising that threshold to just
    above the upload cap keeps every body in memory, and anything larger is refused by waitress
    itself (a plain 413) before it is read. Bodies up to the slack still get the app's JSON 413.
    """
    limit = app.config["MAX_CONTENT_LENGTH"] + MULTIPART_SLACK
    return {"max_request_body_size": limit, "inbuf_overflow": limit, "ident": "realtime-fer"}


def create_server(app: Flask, host: str, port: int, threads: int):
    """A bound waitress server (``OSError`` if the port is taken); ``.run()`` serves until closed."""
    return waitress.create_server(app, host=host, port=port, threads=threads, **waitress_options(app))
