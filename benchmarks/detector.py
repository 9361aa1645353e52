"""Face detectors side by side: real photos, FER-2013 faces in frames, and time per 640x480 frame.

For each detector (CenterFace, the default, set up for stills (float32) and for video (int8 at half
size), its int8 graph on stills, to show why stills keep float32, and stills searched within 2.2
megapixels as before rather than 1024x768's; BlazeFace for video and for
stills; the Haar cascade as the project ran it before, 256 px wide for video and 1280 px for stills;
the paper's Haar call):

- ``../shared/faces-wider``: the 36 WIDER FACE val photos; a face is found when a detected box
  overlaps it with IoU >= 0.4. Recall of the faces whose larger side is at least 20, 40 and 80 px
  (``wider_20`` ...), of the "clear" faces of at least 40 px (occlusion < 2, pose typical, blur < 2
  in ``wider_attributes.json``: ``wider_clear_40``), and ``wider_unmatched``: boxes overlapping no
  face (of any size) with IoU >= 0.4.
- ``../shared/no-faces``: ``nofaces_boxes``, every box in the 37 images without a face;
  ``nofaces_depicted``, boxes in the two with a depicted face (a statue, the coins' relief heads).
- ``../shared/faces-dlib``: hand-boxed faces found (IoU >= 0.4 with a detected box) in the nine
  photos of ``training.xml`` and ``testing.xml``, and false positives (boxes matching no face) in
  those and ``dogs.jpg`` (no human face).
- FER-2013 faces in frames: each face upscaled to ``--side`` px at a random place of a 640x480 frame,
  as ``realtime_accuracy.py`` does; found when the detector's box, framed as FER-2013 frames its faces
  (``pipeline.fer_framing``), overlaps it with IoU >= 0.5. ``framing_scale`` / ``framing_shift`` are
  the medians of the face's side over the box's and of the centre offset over the side: the framing a
  detector's boxes need (``--split train`` measures it on training faces).
- ms per frame: every faces-dlib photo resized to 640x480 and to 1280x720, detectors taking turns
  frame by frame, median over ``--rounds`` passes; and ms per 2048x1536 photo: ``bald_guys.jpg`` (24
  faces, unscored) resized to that size, a selfie-sized upload, the same way. One thread each.

    python benchmarks/detector.py [--fer-faces 1000] [--split public_test] [--rounds 5] [--only blazeface]
"""

import argparse
import json
import re
import time
from pathlib import Path

import cv2
import numpy as np
from common import SHARED_DATA, machine, table, write_results

from realtime_fer import data
from realtime_fer.demo import compose_frame
from realtime_fer.detector import create_detector
from realtime_fer.detectors.boxes import iou_matrix
from realtime_fer.detectors.centerface import INT8_WEIGHTS, CenterFaceDetector
from realtime_fer.pipeline import fer_framing

FACES_DLIB = SHARED_DATA.parent / "faces-dlib"
FACES_WIDER = SHARED_DATA.parent / "faces-wider"
NO_FACES = SHARED_DATA.parent / "no-faces"
WIDER_SIZES = (20, 40, 80)  # recall of the faces whose larger side is at least this many pixels
SETUPS = {  # row name: how its detector is made
    "centerface (still, auto)": lambda: create_detector("centerface"),
    "centerface (video, auto)": lambda: create_detector("centerface", video=True),
    "centerface int8 (still)": lambda: CenterFaceDetector(weights=INT8_WEIGHTS),
    "centerface (still, 2.2 MP as before)": lambda: CenterFaceDetector(max_pixels=2_200_000),
    "blazeface (video)": lambda: create_detector("blazeface", video=True),
    "blazeface (still)": lambda: create_detector("blazeface"),
    "haar (video, as before)": lambda: create_detector("haar", video=True),
    "haar (still, as before)": lambda: create_detector("haar"),
    "haar-paper": lambda: create_detector("haar-paper"),
}


def dlib_boxes(folder: Path) -> dict[str, np.ndarray]:
    """The hand-drawn (x, y, w, h) boxes of every scored photo; ``dogs.jpg`` has none."""
    boxes = {"dogs.jpg": np.zeros((0, 4))}
    for xml in ("training.xml", "testing.xml"):
        text = (folder / xml).read_text()
        for name, body in re.findall(r"<image file='([^']+)'[^>]*>(.*?)</image>", text, re.S):
            found = re.findall(r"top='(-?\d+)' left='(-?\d+)' width='(\d+)' height='(\d+)'", body)
            boxes[name] = np.array([(int(x), int(y), int(w), int(h)) for y, x, w, h in found]).reshape(-1, 4)
    return boxes


def score_photos(detector, photos: dict[str, np.ndarray], truth: dict[str, np.ndarray]) -> dict:
    found = false = 0
    for name, image in photos.items():
        overlap = iou_matrix(truth[name], detector.detect(image)) >= 0.4
        found += int(overlap.any(axis=1).sum())
        false += int((~overlap.any(axis=0)).sum())
    return {"dlib_found": found, "dlib_faces": sum(len(t) for t in truth.values()), "dlib_false": false}


def wider_truth(folder: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each photo's valid faces (x, y, w, h) and which of them are clear: occlusion < 2, typical
    pose, blur < 2 (the faces WIDER marks invalid or leaves without size are dropped)."""
    truth = {}
    for name, photo in json.loads((folder / "wider_attributes.json").read_text()).items():
        faces = [f for f in photo["faces"] if not f["invalid"] and f["w"] > 0 and f["h"] > 0]
        boxes = np.array([(f["x"], f["y"], f["w"], f["h"]) for f in faces], float).reshape(-1, 4)
        clear = np.array([f["occlusion"] < 2 and f["pose"] == 0 and f["blur"] < 2 for f in faces], bool)
        truth[name] = boxes, clear
    return truth


def score_wider(detector, photos: dict[str, np.ndarray], truth: dict) -> dict:
    """Recall by face size, of the clear faces >= 40 px, and boxes matching no face, IoU >= 0.4."""
    found, sides, clear, unmatched = [], [], [], 0
    for name, image in photos.items():
        faces, is_clear = truth[name]
        overlap = iou_matrix(faces, detector.detect(image)) >= 0.4
        found.append(overlap.any(axis=1))
        sides.append(faces[:, 2:4].max(axis=1))
        clear.append(is_clear)
        unmatched += int((~overlap.any(axis=0)).sum())
    found, sides, clear = np.concatenate(found), np.concatenate(sides), np.concatenate(clear)
    scores = {f"wider_{size}": round(float(found[sides >= size].mean()), 3) for size in WIDER_SIZES}
    scores["wider_clear_40"] = round(float(found[(sides >= 40) & clear].mean()), 3)
    scores["wider_unmatched"] = unmatched
    return scores


def no_faces_images(folder: Path) -> tuple[dict[str, np.ndarray], set[str]]:
    """The images of ``no-faces`` and the names of those with a depicted face (a box there is arguable)."""
    metadata = json.loads((folder / "metadata.json").read_text())
    images = {name: cv2.imread(str(folder / "images" / name)) for name in sorted(metadata)}
    return images, {name for name, facts in metadata.items() if facts["contains_depicted_face"]}


def score_no_faces(detector, images: dict[str, np.ndarray], depicted: set[str]) -> dict:
    """Boxes in the images without a face, and (apart) in those with a depicted face."""
    counts = {name: len(detector.detect(image)) for name, image in images.items()}
    return {"nofaces_boxes": sum(n for name, n in counts.items() if name not in depicted),
            "nofaces_depicted": sum(n for name, n in counts.items() if name in depicted)}


def score_fer_frames(detector, faces: np.ndarray, side: int) -> dict:
    rng = np.random.default_rng(0)
    found, framing = 0, []
    for face in faces:
        x, y = int(rng.integers(0, 640 - side)), int(rng.integers(0, 480 - side))
        boxes = detector.detect(compose_frame([face], [(x, y, side, side)]))
        if not len(boxes):
            continue
        overlaps = iou_matrix([(x, y, side, side)], fer_framing(boxes, detector.framing))[0]
        found += overlaps.max() >= 0.5
        box = boxes[int(overlaps.argmax())]
        if overlaps.max() > 0:
            framing.append((side / box[2:].max(), (y + side / 2 - box[1] - box[3] / 2) / side))
    scale, shift = np.median(framing, axis=0) if framing else (float("nan"), float("nan"))
    return {"fer_recall": round(found / len(faces), 4), "framing_scale": round(float(scale), 3),
            "framing_shift": round(float(shift), 3)}


def time_frames(detectors: dict, frames: list[np.ndarray], rounds: int) -> dict[str, float]:
    """Median ms per frame for each detector; they take turns frame by frame, so load hits all alike."""
    times: dict[str, list[float]] = {name: [] for name in detectors}
    for detector in detectors.values():  # warm-up
        detector.detect(frames[0])
    for _ in range(rounds):
        for frame in frames:
            for name, detector in detectors.items():
                start = time.perf_counter()
                detector.detect(frame)
                times[name].append((time.perf_counter() - start) * 1000)
    return {name: round(float(np.median(values)), 2) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default=str(SHARED_DATA))
    parser.add_argument("--split", default="public_test")
    parser.add_argument("--fer-faces", type=int, default=1000, help="first N faces of the split (0: all)")
    parser.add_argument("--side", type=int, default=180, help="FER face size in the frame, pixels")
    parser.add_argument("--rounds", type=int, default=5, help="timing passes over the photos")
    parser.add_argument("--only", help="just the rows whose name contains this (for development)")
    parser.add_argument("--results", default="detector",
                        help="name of the JSON in benchmarks/results/ (e.g. one per machine)")
    args = parser.parse_args()

    truth = dlib_boxes(FACES_DLIB)
    photos = {name: cv2.imread(str(FACES_DLIB / name)) for name in truth}
    frames = [cv2.resize(image, (640, 480), interpolation=cv2.INTER_AREA) for image in photos.values()]
    fer = data.load(args.data, args.split).images
    fer = fer[: args.fer_faces] if args.fer_faces else fer
    wider = wider_truth(FACES_WIDER)
    wider_photos = {name: cv2.imread(str(FACES_WIDER / "images" / name)) for name in wider}
    no_faces, depicted = no_faces_images(NO_FACES)
    setups = {row: setup for row, setup in SETUPS.items() if not args.only or args.only in row}
    detectors = {row: make() for row, make in setups.items()}

    ms = time_frames(detectors, frames, args.rounds)
    hd = [cv2.resize(image, (1280, 720), interpolation=cv2.INTER_AREA) for image in photos.values()]
    ms_hd = time_frames(detectors, hd, args.rounds)
    group = cv2.imread(str(FACES_DLIB / "bald_guys.jpg"))
    group = cv2.resize(group, (2048, 1536), interpolation=cv2.INTER_AREA)
    ms_group = time_frames(detectors, [group], args.rounds)
    rows = []
    for row, detector in detectors.items():
        rows.append({"detector": row, **score_wider(detector, wider_photos, wider),
                     **score_no_faces(detector, no_faces, depicted), **score_photos(detector, photos, truth),
                     **score_fer_frames(detector, fer, args.side), "ms_per_640x480": ms[row],
                     "ms_per_1280x720": ms_hd[row], "ms_per_2048x1536": ms_group[row],
                     "faces_in_2048x1536": len(detector.detect(group))})
        print(f"{row}: done", flush=True)
    print(f"CPU: {machine()['cpu']}")
    print(table(rows, list(rows[0])))
    path = write_results(args.results, rows, data=[str(FACES_WIDER), str(NO_FACES), str(FACES_DLIB)],
                         wider_faces=int(sum(len(b) for b, _ in wider.values())),
                         nofaces_images=len(no_faces) - len(depicted), fer_split=args.split,
                         fer_faces=len(fer), side=args.side, rounds=args.rounds, timed_frames=len(frames))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
