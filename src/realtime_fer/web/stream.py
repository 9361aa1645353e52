"""The paper's MJPEG stream: a server-side source, annotated, as multipart/x-mixed-replace."""

from collections.abc import Iterator

from flask import Blueprint, Response, current_app

from realtime_fer.web.broadcast import ENDED, Busy, Viewer
from realtime_fer.web.errors import json_error
from realtime_fer.web.services import services

bp = Blueprint("stream", __name__)

BOUNDARY = "frame"


@bp.get("/video_feed")
def video_feed():
    """The stream for an <img>; 503 JSON when the source cannot deliver a first frame."""
    shared = services()
    timeout = current_app.config["STREAM_TIMEOUT_SECONDS"]
    try:
        viewer = shared.broadcast.join()
    except Busy as error:
        return json_error(503, str(error))
    first = viewer.next(timeout)
    if first is None:
        viewer.close()
        status = shared.broadcast.status()
        reason = status["error"] or (
            f"{shared.source_name} has ended" if status["state"] == ENDED
            else f"no frame from {shared.source_name} within {timeout:g} s"
        )
        return json_error(503, f"the stream is not available: {reason}")
    response = Response(
        _parts(first, viewer, timeout),
        mimetype=f"multipart/x-mixed-replace; boundary={BOUNDARY}",
        headers={"Cache-Control": "no-store"},
    )
    # the server closes the response when the viewer goes away, even before it starts iterating
    response.call_on_close(viewer.close)
    return response


def _parts(first: bytes, viewer: Viewer, timeout: float) -> Iterator[bytes]:
    """One multipart part per JPEG until the run ends (or stalls for ``timeout`` s), then the
    closing boundary, so a client can tell a finished stream from a dropped connection."""
    jpeg: bytes | None = first
    while jpeg is not None:
        yield (
            f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n".encode()
            + jpeg
            + b"\r\n"
        )
        jpeg = viewer.next(timeout)
    yield f"--{BOUNDARY}--\r\n".encode()
