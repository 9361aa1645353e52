"""The paper's "analyse its accuracy in real time": the whole pipeline over frames of test faces.

Each PublicTest face is upscaled into a 640x480 frame at a known place, then detected by the Haar
cascade and classified from the detected box, as live video would be. Reports detection recall
(a box with IoU >= 0.5), label accuracy of the detected faces, and the model's accuracy on the
same faces given as clean 48x48 crops (its ceiling).

    python benchmarks/realtime_accuracy.py [--model paper] [--data ../shared/fer2013] [--side 180]
"""

import argparse
import time

import numpy as np
from common import SHARED_DATA, table, write_results

from realtime_fer import data
from realtime_fer.demo import compose_frame
from realtime_fer.detectors.boxes import iou_matrix
from realtime_fer.pipeline import FaceEmotionPipeline
from realtime_fer.recognizer import DEFAULT_MODEL


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--data", default=str(SHARED_DATA))
    parser.add_argument("--split", default="public_test")
    parser.add_argument("--side", type=int, default=180, help="face size in the frame, pixels")
    args = parser.parse_args()

    faces = data.load(args.data, args.split)
    pipeline = FaceEmotionPipeline(args.model)
    rng = np.random.default_rng(0)
    detected = correct = 0
    start = time.perf_counter()
    for face, label in zip(faces.images, faces.labels, strict=True):
        x, y = int(rng.integers(0, 640 - args.side)), int(rng.integers(0, 480 - args.side))
        truth = np.array([[x, y, args.side, args.side]])
        found = pipeline.process(compose_frame([face], [(x, y, args.side, args.side)]))
        if not found:
            continue
        overlaps = iou_matrix(truth, np.array([f.box for f in found]))[0]
        if overlaps.max() >= 0.5:
            detected += 1
            correct += found[int(overlaps.argmax())].emotion == pipeline.recognizer.classes[label]
    seconds = time.perf_counter() - start
    crop_accuracy = float((pipeline.recognizer.predict_proba(faces.images).argmax(1) == faces.labels).mean())
    n = len(faces)
    row = {
        "model": pipeline.recognizer.name,
        "faces": n,
        "detection_recall": round(detected / n, 4),
        "accuracy_of_detected": round(correct / max(detected, 1), 4),
        "accuracy_end_to_end": round(correct / n, 4),
        "accuracy_on_crops": round(crop_accuracy, 4),
        "frames_per_s": round(n / seconds, 1),
    }
    print(table([row], list(row)))
    path = write_results(f"realtime_accuracy_{row['model']}", [row], data=faces.source, side=args.side)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
