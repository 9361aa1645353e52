"""Fixtures for the serving tests: the shipped model, a detector and frames with known faces.

Everything is built from the bundled demo faces, so these tests need neither a camera nor FER-2013.
"""

import numpy as np
import pytest

from realtime_fer.demo import compose_frame, demo_faces
from realtime_fer.detector import FaceDetector, create_detector
from realtime_fer.recognizer import EmotionRecognizer

# three faces side by side in a 640x480 frame, clear of each other
BOXES = [(30, 150, 160, 160), (240, 90, 170, 170), (450, 200, 150, 150)]


def iou(a, b) -> float:
    """Intersection over union of two ``(x, y, w, h)`` boxes."""
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    inter = max(w, 0) * max(h, 0)
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def best_iou(box, boxes) -> float:
    return max((iou(box, other) for other in boxes), default=0.0)


@pytest.fixture(scope="session")
def recognizer() -> EmotionRecognizer:
    """The shipped default model (loaded once: sessions are shareable between tests)."""
    return EmotionRecognizer()


@pytest.fixture(scope="session")
def detector() -> FaceDetector:
    """The default detector, set up for video (one pass a frame)."""
    return create_detector(video=True)


def placements():
    """Every bundled face, three to a frame, at two sizes: ``(frame, boxes)``."""
    faces = [face for _, face in demo_faces()]
    for side, top in ((150, 50), (190, 200)):
        for start in range(0, len(faces), 3):
            group = faces[start : start + 3]
            boxes = [(20 + i * 210, top + 25 * i, side, side) for i in range(len(group))]
            yield compose_frame(group, boxes), boxes


@pytest.fixture(scope="session")
def three_faces() -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """A BGR frame with three demo faces (a happy, a sad and a surprised one) and their boxes."""
    by_emotion = dict(demo_faces())  # the last face of each class
    faces = [by_emotion["happy"], by_emotion["sad"], by_emotion["surprise"]]
    return compose_frame(faces, BOXES), BOXES
