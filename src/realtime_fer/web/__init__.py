"""The web app: the visitor's camera (/), the server's MJPEG stream (/stream) and a JSON API.

    from realtime_fer.web import create_app
    app = create_app({"SOURCE": "0"})      # then serve it with waitress (``realtime-fer serve``)

Uploads and webcam frames are analysed in memory and never written anywhere.
"""

import logging
import os
from typing import Any

from flask import Flask

from realtime_fer import serving_defaults
from realtime_fer.detector import DEFAULT_DETECTOR
from realtime_fer.model_folder import DEFAULT_MODEL
from realtime_fer.onnx_session import DEFAULT_PROVIDER
from realtime_fer.web import access, api, errors, pages, services, stream

log = logging.getLogger(__name__)

DEFAULTS: dict[str, Any] = {
    "MODEL": DEFAULT_MODEL,  # a shipped model's name or a model folder
    "DETECTOR": DEFAULT_DETECTOR,  # one of realtime_fer.detector.DETECTORS
    "PROVIDER": DEFAULT_PROVIDER,  # ONNX Runtime's execution provider (realtime_fer.onnx_session.PROVIDERS)
    "MIN_FACE": None,  # smallest face side searched for (pixels); None: the detector's default
    "THRESHOLD": None,  # score a face box needs; None: the detector's default
    "TTA": None,  # test-time augmentation, one of tta.TTA_MODES; None: the model's own setting
    # a face whose top probability is below this is labelled uncertain; None: the model's own (0: never)
    "UNCERTAIN_BELOW": None,
    "SOURCE": serving_defaults.SOURCE,  # the server-side stream: camera index, video file, URL or "demo"
    "DETECT_EVERY": 1,  # the stream detects faces in every n-th frame, following them in between
    "MAX_CONTENT_LENGTH": 8 * 2**20,  # bytes per request (larger: 413)
    "MAX_IMAGE_PIXELS": 25_000_000,  # width x height an upload may claim (larger: 413)
    # uploads decoded and analysed at once (a core each, one core left for the stream), how many
    # more may wait, and for how long (beyond either: 503 with Retry-After)
    "ANALYSIS_WORKERS": min(4, max(1, (os.cpu_count() or 1) - 1)),
    "ANALYSIS_QUEUE": serving_defaults.ANALYSIS_QUEUE,
    "ANALYSIS_WAIT_SECONDS": 10.0,
    "RELEASE_AFTER_IDLE_SECONDS": 2.0,  # memory a burst of uploads took goes back after this quiet
    "TOKEN": None,  # when set, every route but /healthz and /static needs it (see access.py)
    "ALLOW_ORIGIN": None,  # the one other origin allowed to call the API from a browser (CORS)
    "STREAM_IDLE_SECONDS": 5.0,  # the source is released this long after the last viewer left
    "STREAM_MAX_VIEWERS": serving_defaults.STREAM_MAX_VIEWERS,  # each holds a server thread while it watches
    "STREAM_TIMEOUT_SECONDS": 10.0,  # wait for a first frame (or the next) before giving up
    "STREAM_MAX_BACKLOG": 512 * 2**10,  # bytes waiting for a viewer beyond which frames are skipped
    "STREAM_SEND_TIMEOUT_SECONDS": 10.0,  # a viewer that reads nothing for this long is dropped
}


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """A configured app; ``config`` overrides :data:`DEFAULTS` (and any Flask setting).

    The model is loaded here, so a missing or corrupt model raises ``ModelError`` before a server
    binds its port.
    """
    app = Flask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]  # (the default provider's) a face's scores keep the model's class order, as in `predict --json`
    app.config.update(DEFAULTS)
    if app.config["DEBUG"]:  # Flask took it from FLASK_DEBUG in the environment
        log.warning("FLASK_DEBUG is ignored: realtime-fer never serves in debug mode")
        app.config["DEBUG"] = False
    app.config.update(config or {})
    if app.config["DEBUG"]:
        # the debugger runs arbitrary code for whoever can reach the page
        raise ValueError("DEBUG is never allowed: realtime-fer serves with waitress only")
    app.extensions["realtime_fer"] = services.build(app.config)
    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(stream.bp)
    errors.register(app)
    access.register(app)
    app.after_request(_security_headers)
    return app


def _security_headers(response):
    """Everything is served from this origin (no CDN), and the policy says so to the browser."""
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob: mediastream:; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    )
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    return response
