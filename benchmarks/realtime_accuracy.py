"""The paper's "analyse its accuracy in real time": the whole pipeline over frames of test faces.

Each PublicTest face is upscaled into a 640x480 frame at a known place, then detected (each
``--detector`` set up for video, as live video would run it) and classified from the crop the
pipeline cuts around the detected box. Reports detection recall (the pipeline's face box, framed
as FER-2013 frames its faces, with IoU >= 0.5), label accuracy of the detected faces, and the
model's accuracy on the same faces given as clean 48x48 crops (its ceiling).

    python benchmarks/realtime_accuracy.py [--model paper] [--data ../shared/fer2013] [--side 180]
        [--detector auto --detector blazeface --detector haar]
"""

import argparse
import time

import numpy as np
from common import SHARED_DATA, table, write_results

from realtime_fer import data
from realtime_fer.demo import compose_frame
from realtime_fer.detector import DETECTORS, create_detector
from realtime_fer.detectors.boxes import iou_matrix
from realtime_fer.model_folder import DEFAULT_MODEL
from realtime_fer.pipeline import FaceEmotionPipeline
from realtime_fer.recognizer import EmotionRecognizer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--data", default=str(SHARED_DATA))
    parser.add_argument("--split", default="public_test")
    parser.add_argument("--side", type=int, default=180, help="face size in the frame, pixels")
    parser.add_argument("--detector", action="append", choices=DETECTORS,
                        help="repeat for several (default: auto, blazeface and haar)")
    args = parser.parse_args()

    faces = data.load(args.data, args.split)
    recognizer = EmotionRecognizer(args.model)
    crop_accuracy = float((recognizer.predict_proba(faces.images).argmax(1) == faces.labels).mean())
    rows = []
    for name in args.detector or ["auto", "blazeface", "haar"]:
        pipeline = FaceEmotionPipeline(recognizer, create_detector(name, video=True))
        rows.append({"model": recognizer.name, "detector": name, **score(pipeline, faces, args.side),
                     "accuracy_on_crops": round(crop_accuracy, 4)})
    print(table(rows, list(rows[0])))
    path = write_results(f"realtime_accuracy_{recognizer.name}", rows, data=faces.source, side=args.side)
    print(f"wrote {path}")


def score(pipeline: FaceEmotionPipeline, faces: data.FaceSet, side: int) -> dict:
    """Recall, accuracy of the found faces and end to end, frames/s, over one frame per face."""
    rng = np.random.default_rng(0)
    detected = correct = 0
    start = time.perf_counter()
    for face, label in zip(faces.images, faces.labels, strict=True):
        x, y = int(rng.integers(0, 640 - side)), int(rng.integers(0, 480 - side))
        truth = np.array([[x, y, side, side]])
        found = pipeline.process(compose_frame([face], [(x, y, side, side)]))
        if not found:
            continue
        overlaps = iou_matrix(truth, np.array([f.box for f in found]))[0]
        if overlaps.max() >= 0.5:
            detected += 1
            correct += found[int(overlaps.argmax())].emotion == pipeline.recognizer.classes[label]
    seconds = time.perf_counter() - start
    n = len(faces)
    return {
        "faces": n,
        "detection_recall": round(detected / n, 4),
        "accuracy_of_detected": round(correct / max(detected, 1), 4),
        "accuracy_end_to_end": round(correct / n, 4),
        "frames_per_s": round(n / seconds, 1),
    }


if __name__ == "__main__":
    main()
