"""Tiny synthetic videos for the report and batch tests: bundled FER-2013 faces moving on a plain
background, with the true box of every face in every frame."""

from pathlib import Path

import cv2

from realtime_fer.demo import compose_frame, demo_faces

Box = tuple[int, int, int, int]
SIZE = (320, 240)
FPS = 10.0


def crossing_boxes(frames: int = 40, side: int = 80, dy: int = 30) -> list[list[Box]]:
    """Two faces that swap sides: A from the left, B from the right, passing each other mid-clip
    (B in front, ``dy`` px lower) at constant speed."""
    width, height = SIZE
    travel = width - side - 20
    boxes = []
    for index in range(frames):
        x = 10 + round(travel * index / (frames - 1))
        top = (height - side - dy) // 2
        boxes.append([(x, top, side, side), (width - side - x, top + dy, side, side)])
    return boxes


def write_clip(path: Path, boxes: list[list[Box]], emotions: tuple[str, ...] = ("happy", "surprise"),
               fps: float = FPS) -> Path:
    """A video of ``boxes`` (per frame, one box per face, drawn in order: the last in front) with
    the last bundled face of each of ``emotions``; MJPG in .avi, mp4v in .mp4."""
    faces = dict(demo_faces())
    images = [faces[e] for e in emotions]
    fourcc = cv2.VideoWriter_fourcc(*("MJPG" if path.suffix == ".avi" else "mp4v"))
    writer = cv2.VideoWriter(str(path), fourcc, fps, SIZE)
    for frame_boxes in boxes:
        writer.write(compose_frame(images[: len(frame_boxes)], frame_boxes, SIZE))
    writer.release()
    return path
