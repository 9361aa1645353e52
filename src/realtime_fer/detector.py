"""Face detectors behind one small interface, built by name.

    detector = create_detector()                 # BlazeFace (ONNX Runtime), searched for stills
    detector = create_detector("haar-paper", video=True)
    boxes = detector.detect(frame)               # int32 (N, 4) [x, y, w, h], left to right

``blazeface`` (the default) is MediaPipe's BlazeFace back-camera model, shipped inside the package.
``haar`` is OpenCV's Haar cascade as this project ran it before BlazeFace (1.3 / 5 on a copy at
most 256 px wide, faces from 40 px; 1280 px wide for stills); ``haar-paper`` is the paper's call,
``detectMultiScale(gray, 1.3, 5)`` on the full frame.

``video=True`` asks for a detector cheap enough for every frame of a stream; the default searches a
single image harder (BlazeFace: faces down to 20 px, at several scales).
"""

from typing import Protocol

import numpy as np

from realtime_fer.detectors.frames import DetectorError, check_frame, to_gray, to_rgb

__all__ = ["DETECTORS", "DEFAULT_DETECTOR", "DetectorError", "FaceDetector", "check_frame", "create_detector",
           "to_gray", "to_rgb"]  # the frame helpers live in detectors.frames; re-exported here

DETECTORS = ("blazeface", "haar", "haar-paper")
DEFAULT_DETECTOR = "blazeface"
PHOTO_MIN_FACE = 20  # smallest face side (pixels) a still image is searched for


class FaceDetector(Protocol):
    """What the pipeline needs from a detector. Implementations are safe to share between threads."""

    name: str
    # (scale, shift) that turns a box into the square FER-2013 frames its faces with: see
    # realtime_fer.pipeline.fer_framing
    framing: tuple[float, float]

    def detect(self, frame: np.ndarray) -> np.ndarray:
        """int32 (N, 4) boxes ``[x, y, w, h]`` inside a grey, BGR or BGRA uint8 ``frame``, left to right."""
        ...


def create_detector(name: str = DEFAULT_DETECTOR, video: bool = False) -> FaceDetector:
    """The detector called ``name`` (one of :data:`DETECTORS`), set up for stills or for ``video``."""
    if name == "blazeface":
        from realtime_fer.detectors.blazeface import BlazeFaceDetector

        return BlazeFaceDetector(min_face=None if video else PHOTO_MIN_FACE)
    if name in ("haar", "haar-paper"):
        from realtime_fer.detectors.haar import HaarDetector

        if name == "haar-paper":
            return HaarDetector(1.3, 5, min_size=0, max_width=None, name=name)
        return HaarDetector(1.3, 5, min_size=40, max_width=256 if video else 1280)
    raise ValueError(f"unknown detector {name!r}: choose one of {', '.join(DETECTORS)}")
