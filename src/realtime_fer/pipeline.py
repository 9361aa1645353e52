"""Frame in, labelled faces out: detect, crop, classify all faces in one batch, optionally track."""

import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from realtime_fer import draw
from realtime_fer.detector import FaceDetector
from realtime_fer.model_folder import DEFAULT_MODEL
from realtime_fer.recognizer import EmotionRecognizer
from realtime_fer.tracking import Tracker


@dataclass
class Face:
    """One face in a frame: ``box`` is ``(x, y, w, h)`` in pixels, ``scores`` has all 7 classes."""

    box: tuple[int, int, int, int]
    emotion: str
    confidence: float
    scores: dict[str, float] = field(repr=False)
    track_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: box, emotion, confidence, scores (and track_id when tracking)."""
        out: dict[str, Any] = {
            "box": list(self.box),
            "emotion": self.emotion,
            "confidence": round(self.confidence, 4),
            "scores": {name: round(p, 4) for name, p in self.scores.items()},
        }
        if self.track_id is not None:
            out["track_id"] = self.track_id
        return out


class FaceEmotionPipeline:
    """Detect faces in BGR (or grey) frames and label each with one of the seven expressions.

    With ``tracking=True`` faces keep ids across frames and their probabilities are smoothed
    (``smoothing`` is the weight kept from earlier frames), so use one pipeline per stream. Without
    tracking a pipeline is stateless and may be shared between threads.
    """

    def __init__(
        self,
        model: str | os.PathLike | EmotionRecognizer = DEFAULT_MODEL,
        detector: FaceDetector | None = None,
        tracking: bool = False,
        smoothing: float = 0.7,
    ):
        if not isinstance(model, EmotionRecognizer):
            model = EmotionRecognizer(model)
        self.recognizer = model
        self.detector = detector or FaceDetector()
        self.tracker = Tracker(smoothing) if tracking else None
        self._tracker_lock = threading.Lock()
        self._local = threading.local()

    @property
    def last_timings(self) -> dict[str, float]:
        """``detect_ms``, ``classify_ms`` and ``total_ms`` of this thread's last :meth:`process`."""
        return getattr(self._local, "timings", {})

    def process(self, frame: np.ndarray) -> list[Face]:
        """The faces in ``frame`` (sorted left to right), all classified in one batched call."""
        start = time.perf_counter()
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
        boxes = self.detector.detect(gray)
        detected = time.perf_counter()
        # FER-2013 faces are tight crops, about the Haar box itself, so the crop is the box
        crops = [gray[y : y + h, x : x + w] for x, y, w, h in boxes]
        probabilities = self.recognizer.predict_proba(crops)
        classified = time.perf_counter()
        ids: list[int | None] = [None] * len(boxes)
        if self.tracker is not None:
            with self._tracker_lock:
                ids, probabilities = self.tracker.update(boxes, probabilities)
        faces = [self._face(box, p, i) for box, p, i in zip(boxes, probabilities, ids, strict=True)]
        end = time.perf_counter()
        self._local.timings = {
            "detect_ms": (detected - start) * 1000,
            "classify_ms": (classified - detected) * 1000,
            "total_ms": (end - start) * 1000,
        }
        return faces

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
        return Face((x, y, w, h), emotion.label, emotion.confidence, emotion.scores, track_id)
