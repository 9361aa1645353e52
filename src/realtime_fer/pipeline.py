"""Frame in, labelled faces out: detect, crop, classify all faces in one batch, optionally track."""

import os
import threading
import time

import cv2
import numpy as np

from realtime_fer import draw
from realtime_fer.detector import DEFAULT_DETECTOR, FaceDetector, create_detector, to_gray
from realtime_fer.detectors.boxes import clip_boxes
from realtime_fer.face import Face  # also realtime_fer.pipeline.Face, as before
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
    ):
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
        self._tracker_lock = threading.Lock()
        self._local = threading.local()

    @property
    def last_timings(self) -> dict[str, float]:
        """``detect_ms``, ``classify_ms`` and ``total_ms`` of this thread's last :meth:`process`."""
        return getattr(self._local, "timings", {})

    @property
    def last_tta(self) -> str:
        """The view set this thread's last :meth:`process` classified its faces with."""
        return getattr(self._local, "tta", self.recognizer.tta)

    def process(self, frame: np.ndarray) -> list[Face]:
        """The faces in ``frame`` (sorted left to right), all classified in one batched call."""
        start = time.perf_counter()
        boxes = self.detector.detect(frame)  # checks the frame
        gray = to_gray(frame)
        detected = time.perf_counter()
        squares = fer_framing(boxes, self.detector.framing)
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
            "detect_ms": (detected - start) * 1000,
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
        if self.tracker is not None:
            with self._tracker_lock:
                self.tracker.reset()

    def _face(self, box: np.ndarray, probabilities: np.ndarray, track_id: int | None) -> Face:
        emotion = self.recognizer.to_emotion(probabilities)
        x, y, w, h = (int(v) for v in box)
        return Face(
            (x, y, w, h), emotion.label, emotion.confidence, emotion.scores, track_id, emotion.uncertain
        )


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
