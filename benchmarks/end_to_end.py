"""End-to-end frames/s at 640x480: Haar detection + classification + drawing + JPEG encoding.

Frames are built from the bundled demo faces (1, 3 or 6 faces per frame), so this runs anywhere:

    python benchmarks/end_to_end.py [--model paper] [--frames 300]
"""

import argparse
import time

import cv2
import numpy as np
from common import table, write_results

from realtime_fer.demo import compose_frame, demo_faces
from realtime_fer.pipeline import FaceEmotionPipeline
from realtime_fer.recognizer import DEFAULT_MODEL

LAYOUTS = {  # (x, y, side) of each face in a 640x480 frame
    1: [(240, 140, 180)],
    3: [(30, 150, 170), (235, 150, 170), (440, 150, 170)],
    6: [(40, 40, 150), (245, 40, 150), (450, 40, 150), (40, 270, 150), (245, 270, 150), (450, 270, 150)],
}


def frames_with(n_faces: int, variants: int = 8) -> list[np.ndarray]:
    """``variants`` different frames with ``n_faces`` faces each (different faces, same layout)."""
    faces = [face for _, face in demo_faces()]
    frames = []
    for v in range(variants):
        chosen = [faces[(v + i) % len(faces)] for i in range(n_faces)]
        boxes = [(x, y, side, side) for x, y, side in LAYOUTS[n_faces]]
        frames.append(compose_frame(chosen, boxes))
    return frames


def measure(pipeline: FaceEmotionPipeline, frames: list[np.ndarray], count: int) -> dict:
    """Per-frame stage times (ms, medians) and overall frames/s over ``count`` frames."""
    stages = {"detect_ms": [], "classify_ms": [], "draw_ms": [], "jpeg_ms": [], "frame_ms": []}
    found = []
    for i in range(count + 10):
        frame = frames[i % len(frames)]
        start = time.perf_counter()
        faces = pipeline.process(frame)
        processed = time.perf_counter()
        annotated = pipeline.annotate(frame, faces)
        drawn = time.perf_counter()
        cv2.imencode(".jpg", annotated, [cv2.IMWRITE_JPEG_QUALITY, 80])
        end = time.perf_counter()
        if i < 10:  # warm-up
            continue
        found.append(len(faces))
        stages["detect_ms"].append(pipeline.last_timings["detect_ms"])
        stages["classify_ms"].append(pipeline.last_timings["classify_ms"])
        stages["draw_ms"].append((drawn - processed) * 1000)
        stages["jpeg_ms"].append((end - drawn) * 1000)
        stages["frame_ms"].append((end - start) * 1000)
    row = {name: round(float(np.median(values)), 3) for name, values in stages.items()}
    row["fps"] = round(1000 / float(np.mean(stages["frame_ms"])), 1)
    row["faces_found"] = round(float(np.mean(found)), 2)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--frames", type=int, default=300)
    args = parser.parse_args()
    pipeline = FaceEmotionPipeline(args.model)
    rows = []
    for n_faces in LAYOUTS:
        row = {"pipeline": f"realtime-fer ({args.model})", "faces": n_faces}
        rows.append(row | measure(pipeline, frames_with(n_faces), args.frames))
    columns = [
        "pipeline",
        "faces",
        "faces_found",
        "detect_ms",
        "classify_ms",
        "draw_ms",
        "jpeg_ms",
        "frame_ms",
        "fps",
    ]
    print(table(rows, columns))
    print(f"wrote {write_results('end_to_end', rows, frames=args.frames, size=[640, 480])}")


if __name__ == "__main__":
    main()
