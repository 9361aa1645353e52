"""Which crop of a BlazeFace detection does the classifier like best? Framing and eye-level rotation.

A random sample of PublicTest faces, each upscaled to a random 120-260 px at a random place of a
640x480 frame (with ``--tilt D``: also turned by a random angle within +-D degrees), is detected by
BlazeFace (set up for video) and classified from four crops of the same detection:

- ``exact``: the square where the face was put (the ceiling: perfect framing, no rotation);
- ``box``: the detector's box itself;
- ``framed``: the square the pipeline cuts (``pipeline.fer_framing`` with the detector's framing);
- ``framed+level``: that square turned about its centre so the two eye keypoints are level.

    python benchmarks/crop_framing.py [--faces 1500] [--tilt 0] [--model accurate]
"""

import argparse

import cv2
import numpy as np
from common import SHARED_DATA, table, write_results

from realtime_fer import data
from realtime_fer.demo import background
from realtime_fer.detector import create_detector
from realtime_fer.detectors.boxes import iou_matrix
from realtime_fer.pipeline import crop, fer_framing
from realtime_fer.recognizer import DEFAULT_MODEL, EmotionRecognizer

CROPS = ("exact", "box", "framed", "framed+level")


def tilted_frame(face: np.ndarray, box: tuple[int, int, int, int], angle: float) -> np.ndarray:
    """A 640x480 BGR frame with ``face`` resized into ``box`` and turned by ``angle`` degrees."""
    x, y, side, _ = box
    big = cv2.resize(face, (side, side), interpolation=cv2.INTER_CUBIC)
    if angle:
        turn = cv2.getRotationMatrix2D((side / 2, side / 2), angle, 1.0)
        big = cv2.warpAffine(big, turn, (side, side), borderMode=cv2.BORDER_REPLICATE)
    frame = background()
    frame[y : y + side, x : x + side] = big[..., None]
    return frame


def level_crop(gray: np.ndarray, square: np.ndarray, eyes: np.ndarray) -> np.ndarray:
    """The ``square`` of ``gray`` turned about its centre so that ``eyes`` (right, left) are level."""
    (rx, ry), (lx, ly) = eyes
    cx, cy, side = square[0] + square[2] / 2, square[1] + square[3] / 2, square[2]
    turn = cv2.getRotationMatrix2D((cx, cy), float(np.degrees(np.arctan2(ly - ry, lx - rx))), 1.0)
    turn[:, 2] += [side / 2 - cx, side / 2 - cy]
    size = max(1, round(side))
    return cv2.warpAffine(gray, turn, (size, size), borderMode=cv2.BORDER_REPLICATE)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--data", default=str(SHARED_DATA))
    parser.add_argument("--faces", type=int, default=1500, help="random PublicTest faces")
    parser.add_argument("--tilt", type=float, default=0.0, help="turn each face by up to +-this, degrees")
    args = parser.parse_args()

    faces = data.load(args.data, "public_test")
    recognizer = EmotionRecognizer(args.model)
    detector = create_detector("blazeface", video=True)
    rng = np.random.default_rng(0)
    right = dict.fromkeys(CROPS, 0)
    found = 0
    for index in rng.choice(len(faces), min(args.faces, len(faces)), replace=False):
        side = int(rng.integers(120, 261))
        box = (int(rng.integers(0, 640 - side)), int(rng.integers(0, 480 - side)), side, side)
        frame = tilted_frame(faces.images[index], box, float(rng.uniform(-args.tilt, args.tilt)))
        boxes, _, points = detector.detect_scored(frame)
        overlaps = iou_matrix([box], boxes)[0]
        if not len(boxes) or overlaps.max() < 0.3:
            continue
        best = int(overlaps.argmax())
        square = fer_framing(boxes[best : best + 1], detector.framing)[0]
        gray = frame[..., 0]
        crops = [crop(gray, np.array(box, float)), crop(gray, boxes[best]), crop(gray, square),
                 level_crop(gray, square, points[best, :2])]
        labels = recognizer.predict_proba(crops).argmax(axis=1)
        found += 1
        for name, label in zip(CROPS, labels, strict=True):
            right[name] += int(label == faces.labels[index])
    rows = [{"crop": name, "faces": found, "accuracy": round(right[name] / max(found, 1), 4)}
            for name in CROPS]
    print(table(rows, ["crop", "faces", "accuracy"]))
    tilt = f"{args.tilt:g}"
    path = write_results(f"crop_framing_tilt{tilt}", rows, model=recognizer.name, sample=args.faces,
                         tilt=args.tilt)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
