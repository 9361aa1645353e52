"""Frame in, labelled faces out: detect, crop, classify all faces in one batch, optionally track."""

import os
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from realtime_fer import draw
from realtime_fer.detector import DEFAULT_DETECTOR, FaceDetector, check_frame, create_detector, to_gray
from realtime_fer.detectors.boxes import clip_boxes
from realtime_fer.face import Face  # also realtime_fer.pipeline.Face, as before
from realtime_fer.lookahead import DEFAULT_AHEAD, Lookahead
from realtime_fer.model_folder import DEFAULT_MODEL
from realtime_fer.onnx_session import DEFAULT_PROVIDER
from realtime_fer.recognizer import EmotionRecognizer
from realtime_fer.tracking import Tracker
from realtime_fer.view_budget import ViewBudget


class FaceEmotionPipeline:
    """Detect faces in BGR, BGRA or grey frames and label each with one of the model's expressions.

    With ``tracking=True`` faces keep ids across frames and their probabilities are smoothed
    (``smoothing`` is the weight kept from earlier frames), so use one pipeline per stream. Without
    tracking a pipeline is stateless and may be shared between threads.

    ``detector`` is a :class:`~realtime_fer.detector.FaceDetector` or a name from
    :data:`~realtime_fer.detector.DETECTORS`. A name builds the detector for what the pipeline is for:
    with tracking, video (one cheap pass per frame); without, still images (searched for faces down
    to 20 px).

    ``uncertain_below`` overrides the model's threshold for :attr:`Face.uncertain` (see
    :class:`~realtime_fer.recognizer.EmotionRecognizer`; 0: never uncertain; None: the model's own).
    ``provider`` runs what the pipeline builds from names (see :mod:`realtime_fer.onnx_session`:
    ``auto``, ``cpu``, ``cuda``, ...).

    ``budget`` (live video): a :class:`~realtime_fer.view_budget.ViewBudget` that chooses, frame by
    frame, how many of the recognizer's views the faces found can afford at the source's frame rate;
    :attr:`last_tta` says what each frame got. Without one every face gets all the views.

    ``detect_every`` (tracking only): run the detector on every n-th frame of a stream; on the frames
    between, the faces are classified where the last detection left them (their tracks' boxes), so a
    face that moves lags by up to n-1 frames and a face that appears waits for the next detection.
    For where detection is most of a frame's cost (one or two faces on a slow CPU).
    :attr:`last_timings` ``detected`` says whether the last frame was detected.
    """

    def __init__(
        self,
        model: str | os.PathLike | EmotionRecognizer = DEFAULT_MODEL,
        detector: FaceDetector | str = DEFAULT_DETECTOR,
        tracking: bool = False,
        smoothing: float = 0.7,
        uncertain_below: float | None = None,
        provider: str = DEFAULT_PROVIDER,
        budget: ViewBudget | None = None,
        detect_every: int = 1,
    ):
        if detect_every < 1:
            raise ValueError(f"detect_every must be at least 1, got {detect_every}")
        if detect_every > 1 and not tracking:
            raise ValueError("detect_every above 1 needs tracking: between detections faces are followed")
        if not isinstance(model, EmotionRecognizer):
            model = EmotionRecognizer(model, provider=provider)
        if uncertain_below is not None:
            model = model.with_uncertain_below(uncertain_below)
        self.recognizer = model
        if isinstance(detector, str):
            detector = create_detector(detector, video=tracking, provider=provider)
        self.detector = detector
        self.budget = budget
        self._views = {model.tta: model}  # the recognizer with each view set a budget chose
        self.tracker = Tracker(smoothing) if tracking else None
        self.detect_every = detect_every
        self._processed = 0  # frames given to process(): which of them detect_every detects
        self._tracker_lock = threading.Lock()
        self._local = threading.local()

    @property
    def last_timings(self) -> dict[str, float]:
        """``detect_ms``, ``classify_ms`` and ``total_ms`` of this thread's last :meth:`process` (or
        frame of :meth:`stream`), and ``detected``: whether the detector ran on it (``detect_every``)."""
        return getattr(self._local, "timings", {})

    @property
    def last_tta(self) -> str:
        """The view set this thread's last :meth:`process` classified its faces with."""
        return getattr(self._local, "tta", self.recognizer.tta)

    def process(self, frame: np.ndarray) -> list[Face]:
        """The faces in ``frame`` (sorted left to right), all classified in one batched call."""
        start = time.perf_counter()
        with self._tracker_lock:
            index, self._processed = self._processed, self._processed + 1
        return self._label(self._detect(frame, index), start)

    def stream(
        self, frames: Iterable[np.ndarray], ahead: int = DEFAULT_AHEAD
    ) -> Iterator[tuple[np.ndarray, list[Face]]]:
        """Each frame of ``frames`` with its faces, in order, as :meth:`process` gives them, while the
        detection of the next frames runs on ``ahead`` threads of its own (see
        :mod:`realtime_fer.lookahead`): what the caller does with a frame before asking for the next
        (drawing, encoding, writing) overlaps it too. ``ahead=0``: one frame at a time, on this thread.
        :attr:`last_timings` ``detect_ms`` is then the detection's own time, ``total_ms`` this
        thread's time on the frame (waiting for its detection included)."""
        if ahead < 1:
            for frame in frames:
                yield frame, self.process(frame)
            return
        with Lookahead(frames, self._detect, ahead) as pending:
            for frame, detection in pending:
                start = time.perf_counter()
                yield frame, self._label(detection.result(), start)

    def _detect(self, frame: np.ndarray, index: int) -> "_Detection":
        """The detector's boxes for the stream's ``index``-th frame, or None where detect_every skips it."""
        start = time.perf_counter()
        if index % self.detect_every == 0:
            boxes = self.detector.detect(frame)  # checks the frame
        else:
            check_frame(frame)  # as the detector would have
            boxes = None
        gray = to_gray(frame)
        return _Detection(boxes, gray, (time.perf_counter() - start) * 1000)

    def _label(self, detection: "_Detection", start: float) -> list[Face]:
        """Classify (and track) the faces ``detection`` found; ``start``: when this frame's work began."""
        detected = time.perf_counter()
        gray = detection.gray
        if detection.boxes is None:  # not detected: where the faces were last seen, framed already
            assert self.tracker is not None  # detect_every needs tracking
            with self._tracker_lock:
                squares = self.tracker.boxes().astype(np.float64)
            squares = squares[np.argsort(squares[:, 0], kind="stable")]  # left to right, as detected
        else:
            squares = fer_framing(detection.boxes, self.detector.framing)
        crops = [crop(gray, square) for square in squares]
        boxes = clip_boxes(squares, gray.shape[1], gray.shape[0])  # what was classified
        tta = self.recognizer.tta
        if self.budget is not None:
            tta = self.budget.choose(len(crops), tta)
        before = time.perf_counter()
        probabilities = self._with_views(tta).predict_proba(crops)
        classified = time.perf_counter()
        ids: list[int | None] = [None] * len(boxes)
        if self.tracker is not None:
            with self._tracker_lock:
                tracked, probabilities = self.tracker.update(boxes, probabilities)
            ids = list(tracked)
        faces = [self._face(box, p, i) for box, p, i in zip(boxes, probabilities, ids, strict=True)]
        end = time.perf_counter()
        self._local.timings = {
            "detect_ms": detection.ms,
            "detected": detection.boxes is not None,
            "classify_ms": (classified - detected) * 1000,
            "total_ms": (end - start) * 1000,
        }
        self._local.tta = tta
        if self.budget is not None:
            classify_ms = (classified - before) * 1000
            self.budget.record(len(crops), tta, classify_ms, (end - start) * 1000 - classify_ms)
        return faces

    def _with_views(self, tta: str) -> EmotionRecognizer:
        if tta not in self._views:  # a race only builds a twin twice
            self._views[tta] = self.recognizer.with_tta(tta)
        return self._views[tta]

    def annotate(self, frame: np.ndarray, faces: list[Face], bars: bool = False) -> np.ndarray:
        """A copy of ``frame`` with boxes and labels (see :func:`realtime_fer.draw.annotate`)."""
        return draw.annotate(frame, faces, bars)

    def reset(self) -> None:
        """Forget tracked faces, e.g. before reusing the pipeline for another stream."""
        with self._tracker_lock:
            self._processed = 0
            if self.tracker is not None:
                self.tracker.reset()

    def _face(self, box: np.ndarray, probabilities: np.ndarray, track_id: int | None) -> Face:
        emotion = self.recognizer.to_emotion(probabilities)
        x, y, w, h = (int(v) for v in box)
        return Face(
            (x, y, w, h), emotion.label, emotion.confidence, emotion.scores, track_id, emotion.uncertain
        )


@dataclass(frozen=True)
class _Detection:
    """One frame's detector boxes (None: not detected), its grey copy and the ms they took."""

    boxes: np.ndarray | None
    gray: np.ndarray
    ms: float


def fer_framing(boxes: np.ndarray, framing: tuple[float, float]) -> np.ndarray:
    """Float squares ``[x, y, side, side]`` framing each detector box as FER-2013 frames its faces.

    ``framing`` is ``(scale, shift)``: the square's side is ``scale`` times the box's larger side,
    and its centre moves down by ``shift`` times that side (a negative shift moves it up).
    """
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    scale, shift = framing
    side = boxes[:, 2:4].max(axis=1) * scale
    cx = boxes[:, 0] + boxes[:, 2] / 2
    cy = boxes[:, 1] + boxes[:, 3] / 2 + shift * side
    return np.stack([cx - side / 2, cy - side / 2, side, side], axis=1)


def crop(gray: np.ndarray, square: np.ndarray) -> np.ndarray:
    """The ``[x, y, w, h]`` region of ``gray``; parts outside the frame repeat its edge pixels."""
    height, width = gray.shape
    x0, y0 = round(square[0]), round(square[1])
    x1, y1 = max(x0 + 1, round(square[0] + square[2])), max(y0 + 1, round(square[1] + square[3]))
    inside = gray[max(y0, 0) : max(min(y1, height), 0), max(x0, 0) : max(min(x1, width), 0)]
    if inside.size == 0:
        return np.zeros((y1 - y0, x1 - x0), np.uint8)
    return cv2.copyMakeBorder(
        inside, max(-y0, 0), max(y1 - height, 0), max(-x0, 0), max(x1 - width, 0), cv2.BORDER_REPLICATE
    )
