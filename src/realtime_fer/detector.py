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

import cv2
import numpy as np

DETECTORS = ("blazeface", "haar", "haar-paper")
DEFAULT_DETECTOR = "blazeface"
PHOTO_MIN_FACE = 20  # smallest face side (pixels) a still image is searched for


class DetectorError(RuntimeError):
    """A detector whose files are missing or cannot be loaded; the message names the file."""


class FaceDetector(Protocol):
    """What the pipeline needs from a detector. Implementations are safe to share between threads."""

    name: str
    # (scale, shift) that turns a box into the square FER-2013 frames its faces with: see
    # realtime_fer.pipeline.fer_framing
    framing: tuple[float, float]

    def detect(self, frame: np.ndarray) -> np.ndarray:
        """int32 (N, 4) boxes ``[x, y, w, h]`` inside a grey, BGR or BGRA uint8 ``frame``, left to right."""
        ...


def create_detector(
    name: str = DEFAULT_DETECTOR, video: bool = False, provider: str = "auto"
) -> FaceDetector:
    """The detector called ``name`` (one of :data:`DETECTORS`), set up for stills or for ``video``;
    BlazeFace runs on ``provider`` (:mod:`realtime_fer.onnx_session`; the Haar cascades on the CPU)."""
    if name == "blazeface":
        from realtime_fer.detectors.blazeface import BlazeFaceDetector

        return BlazeFaceDetector(min_face=None if video else PHOTO_MIN_FACE, provider=provider)
    if name in ("haar", "haar-paper"):
        from realtime_fer.detectors.haar import HaarDetector

        if name == "haar-paper":
            return HaarDetector(1.3, 5, min_size=0, max_width=None, name=name)
        return HaarDetector(1.3, 5, min_size=40, max_width=256 if video else 1280)
    raise ValueError(f"unknown detector {name!r}: choose one of {', '.join(DETECTORS)}")


def check_frame(frame: np.ndarray) -> None:
    """``ValueError`` unless ``frame`` is a non-empty uint8 grey (H, W) or (H, W, 1|3|4) image."""
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image array, got {getattr(frame, 'dtype', type(frame).__name__)}")
    if not (frame.ndim == 2 or (frame.ndim == 3 and frame.shape[2] in (1, 3, 4))) or 0 in frame.shape:
        raise ValueError(f"expected a grey (H, W) or BGR / BGRA (H, W, 3|4) image, got shape {frame.shape}")


def to_gray(frame: np.ndarray) -> np.ndarray:
    """The 2-D grey version of a grey, BGR or BGRA frame (the frame itself when already grey)."""
    check_frame(frame)
    if frame.ndim == 2:
        return frame
    if frame.shape[2] == 1:
        return frame[:, :, 0]
    return cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY if frame.shape[2] == 3 else cv2.COLOR_BGRA2GRAY)


def to_rgb(frame: np.ndarray) -> np.ndarray:
    """The 3-channel RGB version of a grey, BGR or BGRA frame."""
    check_frame(frame)
    if frame.ndim == 2 or frame.shape[2] == 1:
        return cv2.cvtColor(frame.reshape(frame.shape[:2]), cv2.COLOR_GRAY2RGB)
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB if frame.shape[2] == 3 else cv2.COLOR_BGRA2RGB)
