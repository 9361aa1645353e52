"""Synthetic frames built from a handful of bundled FER-2013 faces.

``assets/`` holds two 48x48 training faces per class, named ``<emotion>_<FER-2013 name>.png``. They
were picked because OpenCV's Haar cascade finds them once upscaled on a plain canvas, so the
``demo`` source, tests and benchmarks work without a camera or the data set. They are a demo, not
an evaluation.
"""

import math
import os
from collections.abc import Iterator, Sequence
from functools import cache
from importlib.resources import files
from pathlib import Path

import cv2
import numpy as np

from realtime_fer.emotions import EMOTION_INDEX

Box = tuple[int, int, int, int]
FRAME_SIZE = (640, 480)


@cache
def demo_faces() -> tuple[tuple[str, np.ndarray], ...]:
    """``(emotion, uint8 48x48 grey face)`` for every bundled face, in class order (read-only)."""
    faces = []
    for item in (files("realtime_fer") / "assets").iterdir():
        emotion = item.name.split("_", 1)[0]
        if not item.name.endswith(".png") or emotion not in EMOTION_INDEX:
            continue
        face = cv2.imdecode(np.frombuffer(item.read_bytes(), np.uint8), cv2.IMREAD_GRAYSCALE)
        if face is None:
            raise RuntimeError(f"the package's asset {item.name} is not an image (a broken install?)")
        face.flags.writeable = False
        faces.append((item.name, emotion, face))
    faces.sort(key=lambda f: (EMOTION_INDEX[f[1]], f[0]))
    return tuple((emotion, face) for _, emotion, face in faces)


def background(size: tuple[int, int] = FRAME_SIZE) -> np.ndarray:
    """A plain, softly shaded grey BGR canvas of ``size`` (width, height)."""
    width, height = size
    shade = np.linspace(150, 110, height, dtype=np.float32)[:, None]
    return np.repeat(np.broadcast_to(shade, (height, width)).astype(np.uint8)[..., None], 3, axis=2)


def compose_frame(
    faces: Sequence[np.ndarray], boxes: Sequence[Box], size: tuple[int, int] = FRAME_SIZE
) -> np.ndarray:
    """A BGR frame of ``size`` with each grey face resized into its ``(x, y, w, h)`` box.

    The boxes are the ground truth: the Haar box of a bundled face is about the whole face image.
    """
    frame = background(size)
    for face, (x, y, w, h) in zip(faces, boxes, strict=True):
        x0, y0 = max(x, 0), max(y, 0)
        x1, y1 = min(x + w, size[0]), min(y + h, size[1])
        if x1 <= x0 or y1 <= y0:
            continue
        big = cv2.resize(face, (w, h), interpolation=cv2.INTER_CUBIC)
        frame[y0:y1, x0:x1] = big[y0 - y : y1 - y, x0 - x : x1 - x, None]
    return frame


def demo_scene(
    index: int, fps: float = 15.0, size: tuple[int, int] = FRAME_SIZE
) -> tuple[np.ndarray, list[Box], list[str]]:
    """Frame ``index`` of the demo: ``(frame, boxes, emotions)`` with three faces drifting slowly.

    Each face sits in its own third of the frame and is swapped for another every four seconds
    (staggered), which shows off tracking and smoothing.
    """
    faces = demo_faces()
    width, height = size
    lanes = 3
    t = index / fps
    hold = 4.0
    boxes, emotions, images = [], [], []
    for lane in range(lanes):
        base = min(width / lanes * 0.7, height * 0.45)
        side = round(base * (1 + 0.05 * math.sin(0.7 * t + lane)))
        cx = width * (lane + 0.5) / lanes + 0.08 * width / lanes * math.sin(0.5 * t + 2 * lane)
        cy = height / 2 + 0.12 * height * math.sin(0.35 * t + 1.3 * lane)
        swap = int((t + lane * hold / lanes) // hold)
        emotion, face = faces[(lanes * swap + lane) % len(faces)]
        boxes.append((round(cx - side / 2), round(cy - side / 2), side, side))
        emotions.append(emotion)
        images.append(face)
    return compose_frame(images, boxes, size), boxes, emotions


def demo_frames(fps: float = 15.0, size: tuple[int, int] = FRAME_SIZE) -> Iterator[np.ndarray]:
    """Demo frames without end, as fast as asked for (``open_source("demo")`` paces them)."""
    index = 0
    while True:
        yield demo_scene(index, fps, size)[0]
        index += 1


def write_demo_clip(path: str | os.PathLike, frames: int, fps: float = 15.0, start: int = 0) -> Path:
    """Frames ``start`` to ``start + frames - 1`` of the demo scene as an MJPG ``.avi`` at ``path``."""
    mjpeg = cv2.VideoWriter_fourcc(*"MJPG")  # type: ignore[attr-defined]  # not in OpenCV's stubs
    writer = cv2.VideoWriter(str(path), mjpeg, fps, FRAME_SIZE)
    for index in range(start, start + frames):
        writer.write(demo_scene(index, fps=fps)[0])
    writer.release()
    return Path(path)


def demo_image(size: tuple[int, int] = FRAME_SIZE) -> np.ndarray:
    """A still BGR frame of six bundled faces in two rows of three (one face of each of the first six
    classes): the image ``predict demo`` and the README's examples run on."""
    width, height = size
    faces = demo_faces()[::2][:6]  # the first face of each class
    side = round(min(width / 3, height / 2) * 0.7)
    boxes = [
        (round(width * (col + 0.5) / 3 - side / 2), round(height * (row + 0.5) / 2 - side / 2), side, side)
        for row in range(2)
        for col in range(3)
    ]
    return compose_frame([face for _, face in faces], boxes, size)
