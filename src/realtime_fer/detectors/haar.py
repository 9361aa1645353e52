"""Face detection with OpenCV's Haar frontal-face cascade, the paper's detector.

Detection runs on a downscaled copy of the frame (most of the cost of a cascade is the number of
pixels it scans) and the boxes are mapped back to full-frame coordinates.
"""

import math
import os
import queue
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np

from realtime_fer.detectors.boxes import to_pixels
from realtime_fer.detectors.frames import DetectorError, check_frame, to_gray

DEFAULT_CASCADE = "haarcascade_frontalface_default.xml"


class HaarDetector:
    """Face boxes ``[x, y, w, h]`` in a grey, BGR or BGRA frame.

    ``scale_factor`` and ``min_neighbors`` are the paper's (1.3, 5). ``min_size`` is the smallest
    face side in full-frame pixels. ``max_width`` caps the width the cascade scans (``None``: full
    size); faces narrower than about ``24 * frame width / max_width`` pixels are then missed: 60 px
    in a 640x480 frame at the default 256.

    Safe to share between threads: ``cv2.CascadeClassifier`` is not, so each concurrent call borrows
    its own cascade from a small pool (a thread-per-request server would otherwise reload one per
    request).
    """

    framing = (1.0, 0.0)  # FER-2013's faces were cut about where a Haar cascade boxes them

    def __init__(
        self,
        scale_factor: float = 1.3,
        min_neighbors: int = 5,
        min_size: int = 40,
        max_width: int | None = 256,
        cascade: str | os.PathLike | None = None,
        name: str = "haar",
    ):
        if scale_factor <= 1.0:
            raise ValueError(f"scale_factor must be > 1, got {scale_factor}")
        if max_width is not None and max_width < 32:
            raise ValueError(f"max_width must be at least 32 pixels, got {max_width}")
        self.name = name
        self.scale_factor = scale_factor
        self.min_neighbors = min_neighbors
        self.min_size = min_size
        self.max_width = max_width
        default = Path(cv2.data.haarcascades) / DEFAULT_CASCADE  # type: ignore[attr-defined]
        self.cascade_path = Path(cascade or default)
        self._pool: queue.SimpleQueue[cv2.CascadeClassifier] = queue.SimpleQueue()
        self._pool.put(self._load())  # fail now, not on the first frame

    def release_memory(self) -> None:
        """Nothing to free: the cascades keep no buffers between calls."""

    def detect(self, frame: np.ndarray) -> np.ndarray:
        """int32 (N, 4) boxes ``[x, y, w, h]`` inside the frame, sorted left to right."""
        check_frame(frame)
        gray = to_gray(frame)
        height, width = gray.shape
        scale = min(1.0, self.max_width / width) if self.max_width else 1.0
        # max(1, ...): a very wide, short image must not shrink to zero rows
        small = gray if scale == 1.0 else cv2.resize(
            gray, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=cv2.INTER_AREA
        )
        side = max(1, math.ceil(self.min_size * scale))
        with self._cascade() as cascade:
            found = cascade.detectMultiScale(
                small, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors,
                minSize=(side, side),
            )
        if len(found) == 0:
            return np.zeros((0, 4), np.int32)
        return to_pixels(np.asarray(found, np.float64) / scale, width, height)

    @contextmanager
    def _cascade(self) -> Iterator[cv2.CascadeClassifier]:
        try:
            cascade = self._pool.get_nowait()
        except queue.Empty:
            cascade = self._load()
        try:
            yield cascade
        finally:
            self._pool.put(cascade)

    def _load(self) -> cv2.CascadeClassifier:
        if not self.cascade_path.is_file():
            raise DetectorError(f"{self.cascade_path}: cascade file not found")
        try:
            cascade = cv2.CascadeClassifier(str(self.cascade_path))
        except (cv2.error, SystemError):  # malformed XML raises (wrapped) instead of loading empty
            cascade = None
        if cascade is None or cascade.empty():
            raise DetectorError(f"{self.cascade_path}: not a valid OpenCV cascade file")
        return cascade
