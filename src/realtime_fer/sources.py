"""Frame sources shared by every viewer: a camera, a video file, a stream URL or the demo.

    with open_source("0") as source:       # or "clip.mp4", "rtsp://...", "demo"
        for frame in source:               # BGR uint8 frames until the source ends
            ...

A source that cannot be opened raises :class:`SourceError`; a camera that disappears or a file that
ends simply ends the iteration.
"""

import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np

from realtime_fer.demo import demo_frames

DEMO = "demo"
DEMO_FPS = 15.0
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
_USERINFO = re.compile(r"(?<=://)[^/@]*@")


def redact(spec: str) -> str:
    """A source as it may be printed or logged: without the ``user:password@`` of a URL."""
    return _USERINFO.sub("", str(spec))


class SourceError(RuntimeError):
    """A camera, file or URL that cannot be opened; the message says which and why."""


class FrameSource:
    """An iterable of BGR frames with ``name``, ``fps`` (``None`` if unknown) and ``frame_count``;
    :meth:`timestamp` is the container's time of the frame last yielded (files only).

    ``realtime=True`` paces a file or the demo to its frame rate (cameras and streams pace
    themselves), which is what a live viewer wants; otherwise frames come as fast as they are read.
    """

    def __init__(
        self,
        name: str,
        frames: Iterator[np.ndarray],
        fps: float | None = None,
        frame_count: int | None = None,
        realtime: bool = False,
        release: Callable[[], None] | None = None,
        clock: Callable[[], float] | None = None,
    ):
        self.name = name
        self.fps = fps
        self.frame_count = frame_count
        self._frames = frames
        self._interval = 1.0 / fps if realtime and fps else 0.0
        self._release = release
        self._clock = clock
        self.closed = False

    def __iter__(self) -> Iterator[np.ndarray]:
        due = time.monotonic()
        for frame in self._frames:
            if self.closed:
                return
            if self._interval:
                time.sleep(max(0.0, due - time.monotonic()))
                # a slow consumer gets the next frame late rather than a burst of catch-up frames
                due = max(due, time.monotonic()) + self._interval
            yield frame

    def timestamp(self) -> float | None:
        """Seconds into the file of the frame last yielded, from its container's timestamps; ``None``
        for a camera, a stream or the demo, whose frames carry no such time."""
        return self._clock() if self._clock is not None and not self.closed else None

    def close(self) -> None:
        """Release the device or file; iteration stops. Safe to call twice."""
        if not self.closed:
            self.closed = True
            if self._release is not None:
                self._release()

    def __enter__(self) -> "FrameSource":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"FrameSource({self.name!r}, fps={self.fps})"


def source_kind(spec: str | int) -> str:
    """What ``spec`` names: ``"demo"``, ``"camera"`` (an index), ``"stream"`` (a URL) or ``"file"``."""
    spec = str(spec).strip()
    if spec == DEMO:
        return "demo"
    if spec.isdigit():
        return "camera"
    return "stream" if _URL.match(spec) else "file"


def open_source(spec: str | int, realtime: bool = False) -> FrameSource:
    """A :class:`FrameSource` for a camera index (``"0"``), a file path, a URL or ``"demo"``; a file
    is opened only if its first frame decodes."""
    spec = str(spec).strip()
    kind = source_kind(spec)
    if kind == "demo":
        return FrameSource("demo", demo_frames(DEMO_FPS), DEMO_FPS, realtime=realtime)
    # FFmpeg's own messages ("moov atom not found", ...) would precede our one-line error; a user who
    # wants them sets OPENCV_FFMPEG_LOGLEVEL (it is read when the first capture opens)
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    first = None
    if kind == "camera":
        capture = cv2.VideoCapture(int(spec))
        what, hint = f"camera {spec}", "is it connected and not used by another program?"
    elif kind == "stream":
        capture = cv2.VideoCapture(spec)
        what, hint = f"stream {redact(spec)}", "is the URL right and the server reachable?"
    else:
        if Path(spec).is_dir():
            raise SourceError(f"{spec}: is a folder, not a video file")
        if not Path(spec).is_file():
            raise SourceError(f"video file {spec!r} not found")
        capture = cv2.VideoCapture(spec)
        what, hint = f"video file {spec!r}", "is it a video in a format OpenCV can decode?"
        if capture.isOpened():  # a file that opens may still hold no frame (a text file named .jpg)
            ok, first = capture.read()
            if not ok or first is None:
                capture.release()
    if not capture.isOpened():
        capture.release()
        raise SourceError(f"cannot open {what}: {hint}")
    fps = capture.get(cv2.CAP_PROP_FPS)
    count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    # close() may come from another thread (a viewer stopping a stream) while a read is under way,
    # and releasing a capture in the middle of a read can crash OpenCV: the lock serialises them
    lock = threading.Lock()

    def release() -> None:
        with lock:
            capture.release()

    def clock() -> float:
        with lock:  # after a read: the time of the frame it returned
            return capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0

    return FrameSource(
        redact(spec),
        _read(capture, lock, first),
        fps if 0 < fps < 1000 else None,  # some backends report 0 or nonsense when unknown
        count if count > 0 else None,
        realtime=realtime,
        release=release,
        clock=clock if kind == "file" else None,
    )


def _read(
    capture: cv2.VideoCapture, lock: threading.Lock, first: np.ndarray | None = None
) -> Iterator[np.ndarray]:
    """The capture's frames, after ``first`` (one read already) if given."""
    if first is not None:
        yield first
    while True:
        with lock:
            try:
                ok, frame = capture.read()  # False once released, at the end, or on a lost device
            except cv2.error:  # some backends raise instead when a device is unplugged
                return
        if not ok or frame is None:
            return
        yield frame
