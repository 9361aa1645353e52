"""The paper's MJPEG stream: a server-side source, annotated, as multipart/x-mixed-replace.

A viewer costs a request thread and a little memory, and nothing more: frames are handed to the
server only while the viewer reads them. Under waitress the stream watches its connection: frames
are skipped while more than ``STREAM_MAX_BACKLOG`` bytes wait to be sent (so nothing piles up in
memory, or in the temporary files waitress spills large outputs to), a viewer that has read nothing
for ``STREAM_SEND_TIMEOUT_SECONDS`` is dropped, and one that hangs up frees its slot within
:data:`POLL_SECONDS`.
"""

import logging
import time
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, current_app, request

from realtime_fer.web.broadcast import ENDED, Busy, Viewer
from realtime_fer.web.errors import json_error
from realtime_fer.web.services import StreamFrame, services

bp = Blueprint("stream", __name__)
log = logging.getLogger(__name__)

BOUNDARY = "frame"
POLL_SECONDS = 0.25  # how often a waiting viewer checks that its client is still there


@bp.get("/video_feed")
def video_feed():
    """The stream for an <img>; 503 JSON when the source cannot deliver a first frame."""
    shared = services()
    config = current_app.config
    timeout = config["STREAM_TIMEOUT_SECONDS"]
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
    link = Link(request.environ, config["STREAM_MAX_BACKLOG"], config["STREAM_SEND_TIMEOUT_SECONDS"])
    response = Response(
        _parts(first, viewer, timeout, link),
        mimetype=f"multipart/x-mixed-replace; boundary={BOUNDARY}",
        headers={"Cache-Control": "no-store"},
    )
    # the server closes the response when the viewer goes away, even before it starts iterating
    response.call_on_close(viewer.close)
    return response


class Link:
    """The viewer's connection as waitress holds it: bytes not yet sent, and whether it is gone.

    Waitress offers no public handle on a connection, but the ``waitress.client_disconnected``
    callable it puts in the environ is a method of its channel. Elsewhere (Flask's test client)
    there is no backlog and the client never goes.
    """

    def __init__(self, environ: dict[str, Any], max_backlog: int, send_timeout: float):
        self._channel = getattr(environ.get("waitress.client_disconnected"), "__self__", None)
        self.max_backlog = max_backlog
        self.send_timeout = send_timeout
        self._stalled_since: float | None = None

    def gone(self) -> bool:
        return self._channel is not None and not self._channel.connected

    def ready(self) -> bool:
        """Whether a frame may be sent now (the backlog is small); ``TimeoutError`` when nothing has
        been read for ``send_timeout`` s."""
        backlog = self._channel.total_outbufs_len if self._channel is not None else 0
        if backlog <= self.max_backlog:
            self._stalled_since = None
            return True
        now = time.monotonic()
        self._stalled_since = self._stalled_since or now
        if now - self._stalled_since > self.send_timeout:
            raise TimeoutError(f"read nothing for {self.send_timeout:g} s ({backlog:,} bytes waiting)")
        return False

    def drop(self) -> None:
        """Close the connection without sending what is left (from a request thread, as waitress's
        own idle-channel cleanup does: its loop closes the socket at its next turn)."""
        if self._channel is None:  # not served by waitress: nothing to close here
            return
        self._channel.will_close = True
        self._channel.server.pull_trigger()


def _parts(first: StreamFrame, viewer: Viewer, timeout: float, link: Link) -> Iterator[bytes]:
    """One multipart part per frame's JPEG until the run ends (or stalls for ``timeout`` s), then the
    closing boundary, so a client can tell a finished stream from a dropped connection."""
    frame: StreamFrame | None = first
    while frame is not None:
        try:
            ready = link.ready()
        except TimeoutError as error:
            log.info("stream viewer dropped: %s", error)
            link.drop()
            return
        if ready:  # else skip this frame, as a slow viewer skips the frames it was too slow for
            jpeg = frame.jpeg
            yield (
                f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n".encode()
                + jpeg
                + b"\r\n"
            )
        frame = _next(viewer, timeout, link)
    if not link.gone():
        yield f"--{BOUNDARY}--\r\n".encode()


def _next(viewer: Viewer, timeout: float, link: Link) -> StreamFrame | None:
    """The next frame, or ``None`` when the run is over, the client has gone, or after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not link.gone():
        frame = viewer.next(min(POLL_SECONDS, max(0.0, deadline - time.monotonic())))
        if frame is not None or viewer.over or time.monotonic() >= deadline:
            return frame
    return None
