"""What the routes share, built once per app: the analysis pipeline and the server-side stream."""

from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import cv2
from flask import current_app

from realtime_fer import draw
from realtime_fer.detector import FaceDetector, create_detector
from realtime_fer.face import Face
from realtime_fer.pipeline import FaceEmotionPipeline
from realtime_fer.recognizer import EmotionRecognizer
from realtime_fer.sources import SourceError, open_source, redact
from realtime_fer.tta import video_tta
from realtime_fer.view_budget import ViewBudget
from realtime_fer.web.broadcast import Broadcast
from realtime_fer.web.gate import Gate
from realtime_fer.web.heap import trim_malloc

JPEG_QUALITY = 80


@dataclass(frozen=True)
class Services:
    pipeline: FaceEmotionPipeline  # for uploads; stateless (no tracking): shared by all request threads
    video_pipeline: FaceEmotionPipeline  # for camera frames (one fast detector pass); stateless too
    broadcast: Broadcast  # the server-side source, read once for every viewer
    source_name: str  # the source as visitors may see it
    gate: Gate  # bounds the uploads decoded and analysed at once


@dataclass(frozen=True)
class StreamFrame:
    """One frame of the server-side stream: the annotated JPEG and the faces numbered on it, in order."""

    jpeg: bytes
    faces: list[Face]


def build(config: dict) -> Services:
    """Load the model and the detector now, so a broken model fails at start-up, not on a visit.

    The stream's source is opened only when someone watches, so a missing camera never stops the
    app: the stream page reports it instead.
    """
    provider = config["PROVIDER"]
    recognizer = EmotionRecognizer(
        config["MODEL"], tta=config["TTA"], uncertain_below=config["UNCERTAIN_BELOW"], provider=provider
    )
    # live video gets a cheaper view set than the model's own, unless one was asked for, and fewer
    # views still in frames with more faces than it can afford (a ViewBudget)
    budgeted = not config["TTA"]
    live = recognizer.with_tta(video_tta(recognizer.tta)) if budgeted else recognizer
    budget = ViewBudget.seeded(None, recognizer.serving_choice) if budgeted else None  # the webcam page
    tuning = config["MIN_FACE"], config["THRESHOLD"]  # None: the detector's defaults
    detector = create_detector(config["DETECTOR"], True, *tuning, provider=provider)
    video = FaceEmotionPipeline(live, detector, budget=budget)
    source = str(config["SOURCE"])
    broadcast = Broadcast(
        partial(annotated_frames, source, live, video.detector, public_name(source), budgeted,
                config["DETECT_EVERY"]),
        idle_timeout=config["STREAM_IDLE_SECONDS"],
        max_viewers=config["STREAM_MAX_VIEWERS"],
        expected=(SourceError,),
    )
    # stills: faces down to 20 px unless MIN_FACE says otherwise
    stills = FaceEmotionPipeline(
        recognizer, create_detector(config["DETECTOR"], False, *tuning, provider=provider)
    )
    gate = Gate(
        config["ANALYSIS_WORKERS"], config["ANALYSIS_QUEUE"], config["ANALYSIS_WAIT_SECONDS"],
        on_idle=partial(release_memory, stills.detector), idle_seconds=config["RELEASE_AFTER_IDLE_SECONDS"],
    )
    return Services(stills, video, broadcast, public_name(source), gate)


def release_memory(detector: FaceDetector) -> None:
    """After a burst of uploads: the stills detector's buffers, then malloc's free memory, go back to
    the system (500 bad uploads, some 4-megapixel: RSS +7.8 MB instead of +942; benchmarks/load.py
    --phase bad, results/load_bad.json)."""
    detector.release_memory()
    trim_malloc()


def annotated_frames(
    spec: str, recognizer: EmotionRecognizer, detector: FaceDetector, public_name: str, budgeted: bool,
    detect_every: int = 1,
) -> Iterator[StreamFrame]:
    """Annotated, numbered frames of one pass over the source, with tracking so labels hold steady,
    (``budgeted``) the views each frame can afford at the source's frame rate, and faces detected in
    every ``detect_every``-th frame."""
    try:
        source = open_source(spec, realtime=True)  # files and the demo play at their own pace
    except SourceError as error:
        raise SourceError(str(error).replace(redact(spec), public_name)) from None
    budget = ViewBudget.seeded(source.fps, recognizer.serving_choice) if budgeted else None
    pipeline = FaceEmotionPipeline(
        recognizer, detector, tracking=True, budget=budget, detect_every=detect_every
    )
    with source:
        for frame, faces in pipeline.stream(source):  # the next frames are detected meanwhile
            annotated = draw.annotate(frame, faces, numbered=True)
            ok, jpeg = cv2.imencode(".jpg", annotated, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
            if not ok:
                raise RuntimeError(f"JPEG encoding failed for a {annotated.shape} frame")
            yield StreamFrame(jpeg.tobytes(), faces)


def public_name(source: str) -> str:
    """The source as visitors may see it: a URL without its ``user:password@``, a file by its name
    alone (not where it lies on the server), a camera by its index."""
    if "://" in source or source.isdigit() or source == "demo":
        return redact(source)
    return Path(source).name


def services() -> Services:
    return current_app.extensions["realtime_fer"]
