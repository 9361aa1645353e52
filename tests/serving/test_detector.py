"""Haar face detection on frames whose faces are at known places."""

import threading

import cv2
import numpy as np
import pytest

from realtime_fer.demo import background, compose_frame, demo_faces
from realtime_fer.detector import DetectorError, FaceDetector
from tests.serving.conftest import best_iou


def _placements():
    """Every bundled face, three to a frame, at two sizes."""
    faces = [face for _, face in demo_faces()]
    for side, top in ((150, 50), (190, 200)):
        for start in range(0, len(faces), 3):
            group = faces[start : start + 3]
            boxes = [(20 + i * 210, top + 25 * i, side, side) for i in range(len(group))]
            yield compose_frame(group, boxes), boxes


@pytest.mark.parametrize("max_width", [256, 320, None])
def test_finds_every_demo_face_where_it_was_put(detector, max_width):
    detector = FaceDetector(max_width=max_width)
    for frame, boxes in _placements():
        found = detector.detect(frame)
        assert found.dtype == np.int32 and found.shape[1] == 4
        for box in boxes:
            assert best_iou(box, found.tolist()) > 0.5, (box, found)
        assert len(found) == len(boxes)


def test_boxes_lie_inside_the_frame_and_are_sorted_left_to_right(detector, three_faces):
    frame, _ = three_faces
    found = detector.detect(frame)
    assert (found[:, :2] >= 0).all()
    assert (found[:, 0] + found[:, 2] <= frame.shape[1]).all()
    assert (found[:, 1] + found[:, 3] <= frame.shape[0]).all()
    assert list(found[:, 0]) == sorted(found[:, 0])


def test_grey_and_bgr_frames_give_the_same_boxes(detector, three_faces):
    frame, _ = three_faces
    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    np.testing.assert_array_equal(detector.detect(frame), detector.detect(gray))


def test_an_empty_scene_has_no_faces(detector):
    assert detector.detect(background()).shape == (0, 4)


def test_min_size_is_in_full_frame_pixels(three_faces):
    frame, _ = three_faces  # faces of 150-170 px
    assert len(FaceDetector(min_size=140).detect(frame)) == 3
    assert len(FaceDetector(min_size=240).detect(frame)) == 0


def test_concurrent_calls_from_threads_agree_with_serial_ones(detector):
    frames = [frame for frame, _ in _placements()]
    expected = [detector.detect(frame) for frame in frames]
    results: dict[int, list[np.ndarray]] = {}

    def work(worker: int) -> None:
        results[worker] = [detector.detect(frame) for frame in frames]

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for boxes in results.values():
        for got, want in zip(boxes, expected, strict=True):
            np.testing.assert_array_equal(got, want)


def test_a_missing_cascade_is_a_clear_error(tmp_path):
    with pytest.raises(DetectorError, match="nowhere.xml: cascade file not found"):
        FaceDetector(cascade=tmp_path / "nowhere.xml")


def test_a_broken_cascade_is_a_clear_error(tmp_path):
    broken = tmp_path / "broken.xml"
    broken.write_text("<opencv_storage><nonsense/></opencv_storage>")
    with pytest.raises(DetectorError, match="broken.xml: not a valid OpenCV cascade"):
        FaceDetector(cascade=broken)


def test_a_very_wide_short_frame_finds_nothing_instead_of_crashing():
    assert FaceDetector().detect(np.zeros((4, 3000), np.uint8)).shape == (0, 4)
