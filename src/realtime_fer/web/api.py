"""The JSON API: /api/predict (an image in, faces out), /api/stream_status and /healthz."""

import time

from flask import Blueprint, current_app, jsonify, request

from realtime_fer.web import images
from realtime_fer.web.errors import json_error
from realtime_fer.web.services import services

bp = Blueprint("api", __name__)

# A raw body must say it is an image; octet-stream is allowed for clients that cannot say which.
RAW_TYPES = ("image/jpeg", "image/png", "image/webp", "application/octet-stream")


@bp.post("/api/predict")
def predict():
    """Faces with their emotions in a posted JPEG, PNG or WebP (4xx JSON for any bad input).

    ``?video=1`` marks a camera frame: one fast detector pass instead of a still's search for small
    faces (the page's webcam loop sends it)."""
    start = time.perf_counter()
    try:
        frame = images.decode(_upload(), current_app.config["MAX_IMAGE_PIXELS"])
    except images.ImageError as error:
        return json_error(error.status, str(error))
    decoded = time.perf_counter()
    shared = services()
    pipeline = shared.video_pipeline if request.args.get("video") == "1" else shared.pipeline
    faces = pipeline.process(frame)
    timings = pipeline.last_timings
    return jsonify(
        faces=[face.to_dict() for face in faces],
        model=pipeline.recognizer.name,
        timings_ms={
            "decode": round((decoded - start) * 1000, 2),
            "detect": round(timings["detect_ms"], 2),
            "classify": round(timings["classify_ms"], 2),
            "total": round((time.perf_counter() - start) * 1000, 2),
        },
        image={"width": frame.shape[1], "height": frame.shape[0]},
    )


def _upload() -> bytes:
    """The image bytes of a multipart ``image`` field or of a raw image body."""
    mimetype = request.mimetype
    if mimetype == "multipart/form-data":
        upload = request.files.get("image")  # Werkzeug skips malformed parts
        if upload is None:
            raise images.ImageError("the form has no 'image' file field")
        return upload.read()
    if mimetype in RAW_TYPES:
        return request.get_data(cache=False)
    raise images.ImageError(
        f"unsupported content type {mimetype or '(none)'!r}: send multipart/form-data with an "
        "'image' file, or the image itself as image/jpeg, image/png or image/webp",
        415,
    )


@bp.get("/api/stream_status")
def stream_status():
    """The server-side stream: ``state`` (starting, running, idle, ended, failed) and ``error``."""
    shared = services()
    return jsonify(source=shared.source_name, **shared.broadcast.status())


@bp.get("/healthz")
def healthz():
    """Liveness: the app is up and its model is loaded (how it classifies: precision, TTA; and
    which face detector it runs)."""
    pipeline = services().pipeline
    recognizer = pipeline.recognizer
    return jsonify(status="ok", model=recognizer.name, serving=recognizer.serving,
                   detector=pipeline.detector.name)
