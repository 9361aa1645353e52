"""End-to-end frames/s at 640x480, ours against the paper's own real-time loop, on the same frames.

Ours, for every shipped model as the stream serves it (its default precision, at most flip TTA:
``tta.video_tta``), the same under the live-video budget the stream and the webcam page run with
(``view_budget.ViewBudget`` at a 30 frames/s source: as many of those views as keep the frame rate,
never fewer than one; the ``tta`` column gives the views served most), and, where that differs,
with the model's own TTA: ``FaceEmotionPipeline.stream``
(the default detector set up for video, as the stream runs it; one batched ONNX Runtime call for
all faces) + ``annotate`` + JPEG encoding at the web app's quality. Each once with the live paths'
lookahead (``ahead``: the next frames' detection on threads of their own, ``lookahead.DEFAULT_AHEAD``)
and once one frame at a time (``ahead`` 0, as before the lookahead).

The paper's loop, as in its ``camera.py``: Haar cascade on the full grey frame (scaleFactor 1.3,
minNeighbors 5); for each face crop, resize to 48x48, ``model.predict`` on a batch of one in tf.keras,
``cv2.putText`` + ``cv2.rectangle``; ``cv2.imencode('.jpg', frame)`` at OpenCV's default quality. Its
network is the paper's CNN built in tf.keras (``paper_keras.py``) holding our trained ``paper``
weights, converted (random weights when torch is missing; the speed is the same). These rows run in a
process of their own, on the same frames, and need TensorFlow
(``pip install -r benchmarks/requirements-baselines.txt``): they are skipped without it.

Frames are built from the bundled demo faces (1, 3 or 6 faces per frame), so this runs anywhere:

    python benchmarks/end_to_end.py [--model paper --model fast] [--frames 300] [--paper-frames 100]
                                    [--detect-every 2]  (writes end_to_end_detect_every_2.json)
                                    [--detector blazeface]  (writes end_to_end_blazeface.json)
                                    [--results NAME]  (writes NAME.json: one per machine)
"""

import argparse
import itertools
import time

import cv2
import numpy as np
from common import describe_machine, table, write_results
from paper_keras import PAPER_EMOTIONS, import_tensorflow, in_own_process, keras_parity, paper_model

from realtime_fer.demo import compose_frame, demo_faces
from realtime_fer.detector import DEFAULT_DETECTOR, DETECTORS, create_detector
from realtime_fer.lookahead import DEFAULT_AHEAD
from realtime_fer.model_folder import available_models, resolve_model_dir
from realtime_fer.pipeline import FaceEmotionPipeline
from realtime_fer.recognizer import EmotionRecognizer
from realtime_fer.tta import video_tta
from realtime_fer.view_budget import ViewBudget
from realtime_fer.web.services import JPEG_QUALITY

LAYOUTS = {  # (x, y, side) of each face in a 640x480 frame
    1: [(240, 140, 180)],
    3: [(30, 150, 170), (235, 150, 170), (440, 150, 170)],
    6: [(40, 40, 150), (245, 40, 150), (450, 40, 150), (40, 270, 150), (245, 270, 150), (450, 270, 150)],
}
WARMUP_FRAMES = 10
STAGES = ("detect_ms", "classify_ms", "draw_ms", "jpeg_ms", "frame_ms")


def frames_with(n_faces: int, variants: int = 8) -> list[np.ndarray]:
    """``variants`` different frames with ``n_faces`` faces each (different faces, same layout)."""
    faces = [face for _, face in demo_faces()]
    frames = []
    for v in range(variants):
        chosen = [faces[(v + i) % len(faces)] for i in range(n_faces)]
        boxes = [(x, y, side, side) for x, y, side in LAYOUTS[n_faces]]
        frames.append(compose_frame(chosen, boxes))
    return frames


def summarise(stages: dict[str, list[float]], found: list[int]) -> dict:
    """Median stage times (ms) and frames/s from the mean frame time (what a stream sustains)."""
    row = {name: round(float(np.median(values)), 3) for name, values in stages.items()}
    row["fps"] = round(1000 / float(np.mean(stages["frame_ms"])), 1)
    row["faces_found"] = round(float(np.mean(found)), 2)
    return row


def measure(pipeline: FaceEmotionPipeline, frames: list[np.ndarray], count: int, ahead: int) -> dict:
    """Our pipeline as a live path runs it (``FaceEmotionPipeline.stream``, the next frames detected
    ``ahead`` while one is drawn and encoded): per-frame stage times and frames/s over ``count``
    frames. ``frame_ms`` is the time from one frame's JPEG to the next one's."""
    stages: dict[str, list[float]] = {name: [] for name in STAGES}
    found, served = [], []
    sequence = (frames[i % len(frames)] for i in range(count + WARMUP_FRAMES))
    last = time.perf_counter()
    for i, (frame, faces) in enumerate(pipeline.stream(sequence, ahead)):
        processed = time.perf_counter()
        annotated = pipeline.annotate(frame, faces)
        drawn = time.perf_counter()
        cv2.imencode(".jpg", annotated, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        end = time.perf_counter()
        frame_ms, last = (end - last) * 1000, end
        if i < WARMUP_FRAMES:
            continue
        found.append(len(faces))
        served.append(pipeline.last_tta)
        stages["detect_ms"].append(pipeline.last_timings["detect_ms"])
        stages["classify_ms"].append(pipeline.last_timings["classify_ms"])
        stages["draw_ms"].append((drawn - processed) * 1000)
        stages["jpeg_ms"].append((end - drawn) * 1000)
        stages["frame_ms"].append(frame_ms)
    return {"tta": max(set(served), key=served.count), **summarise(stages, found)}


def measure_paper(model, cascade: cv2.CascadeClassifier, frames: list[np.ndarray], count: int) -> dict:
    """The paper's loop (its ``VideoCamera.get_frame``), timed stage by stage like ours."""
    font = cv2.FONT_HERSHEY_SIMPLEX
    stages: dict[str, list[float]] = {name: [] for name in STAGES}
    found = []
    for i in range(count + WARMUP_FRAMES):
        frame = frames[i % len(frames)]
        start = time.perf_counter()
        gray_fr = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        faces = cascade.detectMultiScale(gray_fr, 1.3, 5)
        detected = time.perf_counter()
        fr = frame.copy()  # the paper draws on the captured frame itself; ours on a copy, as here
        classify = 0.0
        for x, y, w, h in faces:
            before = time.perf_counter()
            fc = gray_fr[y : y + h, x : x + w]
            roi = cv2.resize(fc, (48, 48))
            # /255: the converted weights expect [0, 1] (the paper trained and fed raw 0-255); verbose=0
            # is Keras 2's default, which the paper ran (Keras 3 would print a progress bar per call)
            preds = model.predict(roi[np.newaxis, :, :, np.newaxis] / 255.0, verbose=0)
            pred = PAPER_EMOTIONS[int(np.argmax(preds))]
            classified = time.perf_counter()
            cv2.putText(fr, pred, (x, y), font, 1, (255, 255, 0), 2)
            cv2.rectangle(fr, (x, y), (x + w, y + h), (255, 0, 0), 2)
            classify += classified - before
        encoding = time.perf_counter()
        cv2.imencode(".jpg", fr)
        end = time.perf_counter()
        if i < WARMUP_FRAMES:
            continue
        found.append(len(faces))
        stages["detect_ms"].append((detected - start) * 1000)
        stages["classify_ms"].append(classify * 1000)
        stages["draw_ms"].append((encoding - detected - classify) * 1000)
        stages["jpeg_ms"].append((end - encoding) * 1000)
        stages["frame_ms"].append((end - start) * 1000)
    return summarise(stages, found)


def paper_stack_rows(frames: dict[int, list[np.ndarray]], frame_count: int) -> tuple[list[dict], dict]:
    """The paper loop's rows per layout and a description of its stack ({} without TensorFlow)."""
    tf = import_tensorflow()
    if tf is None:
        return [], {}
    model, weights = paper_model(tf, resolve_model_dir("paper") / "weights.pt")
    faces = np.stack([face for _, face in demo_faces()])
    fp32 = EmotionRecognizer("paper", tta="none", precision="fp32")
    parity = keras_parity(model, faces, fp32.predict_proba(faces))
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    rows = []
    for n_faces in LAYOUTS:
        row = {"pipeline": "paper stack (tf.keras, paper)", "faces": n_faces}
        rows.append(row | measure_paper(model, cascade, frames[n_faces], frame_count))
    stack = {
        "tensorflow": tf.__version__,
        "keras": tf.keras.__version__,
        "weights": weights,
        "max_probability_difference_vs_onnx": parity,
        "jpeg_quality": 95,  # OpenCV's default
        "frames": frame_count,
    }
    return rows, stack


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", action="append", help="shipped model or folder (default: all shipped)")
    parser.add_argument("--frames", type=int, default=300, help="timed frames per layout, ours")
    parser.add_argument("--paper-frames", type=int, default=100, help="timed frames per layout, paper stack")
    parser.add_argument("--detect-every", type=int, default=1, help="our rows detect every n-th frame, "
                        "tracking in between (1, the default: every frame, without tracking)")
    parser.add_argument("--detector", default=DEFAULT_DETECTOR, choices=DETECTORS,
                        help="our rows' detector, set up for video (default: the default)")
    parser.add_argument("--results", help="name of the JSON in benchmarks/results/ (default: from the "
                        "options)")
    args = parser.parse_args()
    models = args.model or available_models()
    frames = {n_faces: frames_with(n_faces) for n_faces in LAYOUTS}
    paper_rows, stack = in_own_process(paper_stack_rows, frames, args.paper_frames)
    if stack:
        print(f"paper stack: TensorFlow {stack['tensorflow']}, weights {stack['weights']} "
              f"(max |p - ONNX p| {stack['max_probability_difference_vs_onnx']:.1e})")
    paper_fps = {row["faces"]: row["fps"] for row in paper_rows}
    rows = list(paper_rows)
    detector = create_detector(args.detector, video=True)
    for model in models:
        recognizer = EmotionRecognizer(model)
        # the view set the stream serves first, then the model's own where that has more views
        live = recognizer.with_tta(video_tta(recognizer.tta))
        variants = [(live, False), (live, True)]
        if recognizer.tta != live.tta:
            variants.append((recognizer, False))
        for (served, budgeted), ahead in itertools.product(variants, sorted({0, DEFAULT_AHEAD})):
            name = f"realtime-fer ({served.name}, {served.serving}, {detector.name})"
            for n_faces in LAYOUTS:  # a fresh budget a layout: it learns the costs of these frames
                budget = ViewBudget.seeded(None, served.serving_choice) if budgeted else None
                every = args.detect_every
                pipeline = FaceEmotionPipeline(served, detector, budget=budget, tracking=every > 1,
                                               detect_every=every)
                row = {"pipeline": name, "faces": n_faces, "stream": served is live, "budget": budgeted,
                       "ahead": ahead, "detect_every": args.detect_every}
                row |= measure(pipeline, frames[n_faces], args.frames, ahead)
                if n_faces in paper_fps:
                    row["vs_paper"] = round(row["fps"] / paper_fps[n_faces], 1)
                rows.append(row)
    rows.sort(key=lambda r: r["faces"])  # stable: the paper row leads each layout
    columns = ["pipeline", "faces", "stream", "budget", "ahead", "detect_every", "tta", "faces_found",
               *STAGES, "fps", "vs_paper"]
    print(describe_machine())
    print(table(rows, columns))
    name = "end_to_end" + (f"_detect_every_{args.detect_every}" if args.detect_every > 1 else "")
    name = args.results or name + (f"_{args.detector}" if args.detector != DEFAULT_DETECTOR else "")
    path = write_results(
        name, rows, detector=args.detector, frames=args.frames, size=[640, 480], jpeg_quality=JPEG_QUALITY,
        paper_stack=stack,
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
