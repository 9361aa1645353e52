"""A video (or camera, stream, demo) through a pipeline, frame by frame, into its outputs: an
annotated copy, a per-face CSV and a report folder (:mod:`realtime_fer.report`).

The annotated copy is H.264 in MP4 when PyAV is installed (``pip install 'realtime-fer[video]'``),
which browsers play; without it, MPEG-4 Part 2 (``mp4v``), which they do not, and the summary says so.
``.avi`` is Motion JPEG.
"""

import os
import time
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, closing
from dataclasses import dataclass, field
from fractions import Fraction
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import numpy as np

from realtime_fer.lookahead import DEFAULT_AHEAD
from realtime_fer.report import FaceTable, Report, temporary_name
from realtime_fer.sources import SourceError, open_source, redact

VIDEO_SUFFIXES = (".mp4", ".avi")
NO_PYAV = ("PyAV is not installed (pip install 'realtime-fer[video]'): written as MPEG-4 Part 2, which "
           "browsers do not play")


def check_output(path: str | os.PathLike) -> None:
    """``SourceError`` unless ``path`` is a video this module can write into an existing folder."""
    path = Path(path)
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        raise SourceError(f"cannot write video {str(path)!r}: use .mp4 or .avi")
    if not path.resolve().parent.is_dir():
        raise SourceError(f"cannot write {path}: its folder does not exist")


class VideoOut:
    """The annotated copy: frames written as they come, renamed into place by :meth:`close`.

    ``codec`` is what was written (``h264``, ``mpeg4`` or ``mjpeg``); ``note`` says why, where it is
    not H.264 in an MP4."""

    def __init__(self, path: str | os.PathLike, fps: float):
        check_output(path)
        self.path = Path(path)
        self.fps = fps
        self._tmp = temporary_name(self.path)
        self._writer: Any = None  # an OpenCV VideoWriter or an _H264Writer, opened at the first frame
        mp4 = self.path.suffix.lower() == ".mp4"
        self.codec = "h264" if mp4 and find_spec("av") else "mpeg4" if mp4 else "mjpeg"
        self.note = NO_PYAV if self.codec == "mpeg4" else None

    def add(self, index: int, time_s: float, frame: np.ndarray, faces: list, annotated: np.ndarray) -> None:
        if self._writer is None:
            self._writer = self._open(annotated.shape[1], annotated.shape[0])
        self._writer.write(annotated)

    def _open(self, width: int, height: int):
        if self.codec == "h264":
            return _H264Writer(self._tmp, self.fps, width, height)
        import cv2

        code = "mp4v" if self.codec == "mpeg4" else "MJPG"
        fourcc = cv2.VideoWriter_fourcc(*code)  # type: ignore[attr-defined]  # not in OpenCV's stubs
        writer = cv2.VideoWriter(str(self._tmp), fourcc, self.fps, (width, height))
        if not writer.isOpened():
            raise SourceError(f"cannot write video {str(self.path)!r}")
        return writer

    def close(self, complete: bool = True) -> None:
        if self._writer is not None:
            self._writer.release()
        if complete and self._writer is not None:
            os.replace(self._tmp, self.path)
        else:
            self._tmp.unlink(missing_ok=True)

    def describe(self) -> dict[str, Any]:
        """For ``summary.json``: the file, its codec and, where it will not play in a browser, why."""
        return {"file": str(self.path), "codec": self.codec, **({"note": self.note} if self.note else {})}


class _H264Writer:
    """H.264 (yuv420p, so even sides: an odd last row or column is repeated) in MP4 through PyAV."""

    def __init__(self, path: Path, fps: float, width: int, height: int):
        import av

        self._container = av.open(str(path), "w", format="mp4", options={"movflags": "faststart"})
        self._stream = self._container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        self._stream.width, self._stream.height = width + width % 2, height + height % 2
        self._stream.pix_fmt = "yuv420p"
        self._stream.options = {"preset": "veryfast", "crf": "23"}

    def write(self, frame: np.ndarray) -> None:
        import av

        pad = ((0, self._stream.height - frame.shape[0]), (0, self._stream.width - frame.shape[1]), (0, 0))
        image = av.VideoFrame.from_ndarray(np.pad(frame, pad, mode="edge"), format="bgr24")
        self._container.mux(self._stream.encode(image))

    def release(self) -> None:
        self._container.mux(self._stream.encode(None))
        self._container.close()


@dataclass
class VideoResult:
    """What :func:`analyse` did: frames and faces seen, seconds it took, and the report's summary."""

    frames: int
    faces: int
    elapsed_s: float
    interrupted: bool
    summary: dict[str, Any] = field(default_factory=dict)


def analyse(
    spec: str,
    pipeline,
    *,
    report: str | os.PathLike | None = None,
    out: str | os.PathLike | None = None,
    csv: str | os.PathLike | None = None,
    max_frames: int | None = None,
    progress: bool = True,
    ahead: int = DEFAULT_AHEAD,
) -> VideoResult:
    """Run the source ``spec`` (a file, camera index, URL or ``demo``) through ``pipeline`` into the
    outputs asked for; Ctrl-C ends a camera or stream and keeps what was written. A report needs a
    tracking pipeline. Raises :class:`SourceError` for a source that cannot be read. ``ahead``: frames
    detected ahead on threads of their own (:meth:`~realtime_fer.pipeline.FaceEmotionPipeline.stream`;
    0: one frame at a time)."""
    from tqdm import tqdm

    for path in (out, csv):
        if path and not Path(path).resolve().parent.is_dir():
            raise SourceError(f"cannot write {path}: its folder does not exist")
    if out:
        check_output(out)
    if report is not None and pipeline.tracker is None:
        raise SourceError("a report needs tracking (leave out --no-tracking)")
    pipeline.reset()
    classes = pipeline.recognizer.classes
    frames = detections = 0
    interrupted = False
    start = time.monotonic()
    with ExitStack() as stack:
        source = stack.enter_context(open_source(spec))
        fps = source.fps or 25.0
        sinks: list = []
        video = VideoOut(out, fps) if out else None
        for sink in (FaceTable(csv, classes) if csv else None, Report(report, classes) if report else None):
            if sink is not None:
                sinks.append(sink)
        total = min(filter(None, (max_frames, source.frame_count)), default=None)
        bar = stack.enter_context(tqdm(total=total, unit="frame", desc=source.name, disable=not progress))
        complete = False
        try:
            try:
                stamps: deque[float | None] = deque()  # each frame's time, read as it is read

                def stamped(frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
                    for frame in frames:
                        stamps.append(source.timestamp())
                        yield frame

                analysed = stack.enter_context(closing(pipeline.stream(stamped(source), ahead)))
                for frame, faces in analysed:
                    stamp = stamps.popleft()
                    # a camera or stream has no timestamps and no reliable frame rate: the wall clock
                    seconds = stamp if stamp is not None else (
                        frames / source.fps if source.fps else time.monotonic() - start)
                    for sink in sinks:
                        sink.add(frames, seconds, frame, faces, pipeline.last_tta,
                                 pipeline.last_timings["detected"])
                    if video is not None:
                        video.add(frames, seconds, frame, faces, pipeline.annotate(frame, faces))
                    frames += 1
                    detections += len(faces)
                    bar.update()
                    if frames == max_frames:
                        break
            except KeyboardInterrupt:  # how a camera or stream is stopped: keep what was written
                interrupted = True
            complete = frames > 0
        finally:
            elapsed = time.monotonic() - start
            summary = _summary(spec, pipeline, source, frames, elapsed, interrupted, video)
            for sink in sinks:
                if isinstance(sink, Report):
                    summary = sink.close(summary, complete)
                else:
                    sink.close(complete)
            if video is not None:
                video.close(complete)
    if frames == 0:
        raise SourceError(f"{redact(spec)}: no frames could be read")
    return VideoResult(frames, detections, elapsed, interrupted, summary)


def _summary(spec: str, pipeline, source, frames: int, elapsed: float, interrupted: bool,
             video: VideoOut | None) -> dict[str, Any]:
    return {
        "input": redact(spec),
        "frames": frames,
        "fps": source.fps,
        "model": pipeline.recognizer.name,
        "detector": pipeline.detector.name,
        "elapsed_s": round(elapsed, 3),
        "frames_per_s": round(frames / elapsed, 2) if elapsed > 0 else None,
        "interrupted": interrupted,
        **({"video": video.describe()} if video is not None else {}),
    }


def analyse_video(
    path: str | os.PathLike,
    out_dir: str | os.PathLike,
    model=None,
    detector: str | None = None,
    *,
    pipeline=None,
    annotated: str | os.PathLike | None = None,
    max_frames: int | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Analyse the video file ``path`` into the report folder ``out_dir``; returns its summary.

    ``model`` and ``detector`` are as for :class:`~realtime_fer.FaceEmotionPipeline` (defaults: the
    shipped model, CenterFace for video); or pass a tracking ``pipeline`` to reuse (it is reset first).
    ``annotated``: also write the annotated video there (``.mp4`` or ``.avi``).
    """
    from realtime_fer.detector import DEFAULT_DETECTOR
    from realtime_fer.model_folder import DEFAULT_MODEL
    from realtime_fer.pipeline import FaceEmotionPipeline

    if pipeline is None:
        pipeline = FaceEmotionPipeline(model or DEFAULT_MODEL, detector or DEFAULT_DETECTOR, tracking=True)
    elif pipeline.tracker is None:
        raise ValueError("a report needs a pipeline with tracking=True")
    return analyse(str(path), pipeline, report=out_dir, out=annotated, max_frames=max_frames,
                   progress=progress).summary
