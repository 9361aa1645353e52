"""The JSON API: /api/predict (an image in, faces out), /api/stream_status (the stream's state and
faces) and /healthz."""

import time

from flask import Blueprint, current_app, jsonify, request

from realtime_fer.web import images, multipart
from realtime_fer.web.errors import client_gone, json_error
from realtime_fer.web.gate import Overloaded
from realtime_fer.web.services import services

bp = Blueprint("api", __name__)

# A raw body must say it is an image; octet-stream is allowed for clients that cannot say which.
RAW_TYPES = ("image/jpeg", "image/png", "image/webp", "application/octet-stream")


@bp.post("/api/predict")
def predict():
    """Faces with their emotions in a posted JPEG, PNG or WebP (4xx JSON for any bad input; 503
    with Retry-After while the server is busy).

    ``?video=1`` marks a camera frame: one fast detector pass instead of a still's search for small
    faces (the page's webcam loop sends it)."""
    start = time.perf_counter()
    shared = services()
    video = request.args.get("video") == "1"
    pipeline = shared.video_pipeline if video else shared.pipeline
    max_pixels = current_app.config["MAX_IMAGE_PIXELS"]
    try:
        # a raw image is refused from its header at once; a form is parsed holding a slot (parsing
        # is work, bounded but not free), so a flood of forms waits its turn with the good uploads
        data = _raw_upload()
        header = None if data is None else images.check(data, max_pixels)
        with shared.gate.slot(large=not video):
            if client_gone():  # it gave up while waiting: do not decode for nobody
                return json_error(503, "the client went away")
            waited = time.perf_counter()
            if data is None:
                data = _form_upload()
            header = header or images.check(data, max_pixels)
            frame = images.decode_checked(data, header)
            decoded = time.perf_counter()
            faces = pipeline.process(frame)
            timings = pipeline.last_timings
    except (images.ImageError, multipart.FormError) as error:
        return json_error(error.status, str(error))
    except Overloaded as error:
        return json_error(503, f"{error}; try again shortly")  # with Retry-After (errors.register)
    return jsonify(
        faces=[face.to_dict() for face in faces],
        model=pipeline.recognizer.name,
        timings_ms={
            "queue": round((waited - start) * 1000, 2),
            "decode": round((decoded - waited) * 1000, 2),
            "detect": round(timings["detect_ms"], 2),
            "classify": round(timings["classify_ms"], 2),
            "total": round((time.perf_counter() - start) * 1000, 2),
        },
        image={"width": frame.shape[1], "height": frame.shape[0]},
    )


def _raw_upload() -> bytes | None:
    """The body of a raw image upload, or ``None`` for a multipart form (read by :func:`_form_upload`)."""
    mimetype = request.mimetype
    if mimetype == "multipart/form-data":
        return None
    if mimetype in RAW_TYPES:
        return request.get_data(cache=False)
    raise images.ImageError(
        f"unsupported content type {mimetype or '(none)'!r}: send multipart/form-data with an "
        "'image' file, or the image itself as image/jpeg, image/png or image/webp",
        415,
    )


def _form_upload() -> bytes:
    """The image bytes of a multipart form's ``image`` field."""
    boundary = request.mimetype_params.get("boundary", "")
    upload = multipart.file_part(request.get_data(cache=False), boundary, "image") if boundary else None
    if upload is None:
        raise images.ImageError("the form has no 'image' file field")
    return upload


@bp.get("/api/stream_status")
def stream_status():
    """The server-side stream: ``state`` (starting, running, idle, ended, failed), ``error``, ``fps``
    and the latest frame's ``faces`` (in the order they are numbered on it; empty unless running)."""
    shared = services()
    frame = shared.broadcast.latest()
    faces = [face.to_dict() for face in frame.faces] if frame else []
    return jsonify(source=shared.source_name, **shared.broadcast.status(), faces=faces)


@bp.get("/healthz")
def healthz():
    """Liveness: the app is up and its model is loaded (its classes, in the order of its scores; how it
    classifies uploads and live video: precision, TTA; below which top probability a face is uncertain,
    null for never; and which face detector it runs)."""
    shared = services()
    recognizer = shared.pipeline.recognizer
    return jsonify(
        status="ok",
        model=recognizer.name,
        classes=list(recognizer.classes),
        serving=recognizer.serving,
        serving_choice=recognizer.serving_choice,  # precision and provider chosen here, and why
        video_serving=shared.video_pipeline.recognizer.serving,  # the stream and the webcam page
        video_budget=shared.video_pipeline.budget and shared.video_pipeline.budget.state(),  # webcam page
        uncertain_below=recognizer.uncertain_below or None,
        detector=shared.pipeline.detector.name,
        stream_detect_every=current_app.config["DETECT_EVERY"],  # the stream detects every n-th frame
    )
