"""Every detector behind one interface: faces where they were put, any frame layout, odd sizes, threads."""

import threading

import cv2
import numpy as np
import pytest

from realtime_fer.demo import background, compose_frame, demo_faces
from realtime_fer.detector import DETECTORS, create_detector
from realtime_fer.pipeline import fer_framing
from tests.serving.conftest import best_iou, placements

# haar-paper is the same call for video and stills
SETUPS = [(name, video) for name in DETECTORS for video in (True, False) if name != "haar-paper" or video]


@pytest.fixture(scope="module", params=SETUPS, ids=[f"{n}-{'video' if v else 'still'}" for n, v in SETUPS])
def any_detector(request):
    name, video = request.param
    return create_detector(name, video=video)


def test_finds_every_demo_face_where_it_was_put(any_detector):
    for frame, boxes in placements():
        found = any_detector.detect(frame)
        assert found.dtype == np.int32 and found.shape[1] == 4
        squares = fer_framing(found, any_detector.framing).tolist()
        for box in boxes:
            assert best_iou(box, squares) > 0.5, (box, found)
        assert len(found) == len(boxes)


def test_boxes_lie_inside_the_frame_and_are_sorted_left_to_right(any_detector, three_faces):
    frame, _ = three_faces
    found = any_detector.detect(frame)
    assert (found[:, :2] >= 0).all() and (found[:, 2:] > 0).all()
    assert (found[:, 0] + found[:, 2] <= frame.shape[1]).all()
    assert (found[:, 1] + found[:, 3] <= frame.shape[0]).all()
    assert list(found[:, 0]) == sorted(found[:, 0])


def test_grey_bgr_and_bgra_frames_give_the_same_boxes(any_detector, three_faces):
    frame, _ = three_faces  # grey faces on a grey canvas, so colour changes nothing
    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    expected = any_detector.detect(frame)
    assert len(expected) == 3
    for layout in (gray, gray[:, :, None], cv2.cvtColor(frame, cv2.COLOR_BGR2BGRA)):
        np.testing.assert_array_equal(any_detector.detect(layout), expected)


def test_an_empty_scene_has_no_faces(any_detector):
    assert any_detector.detect(background()).shape == (0, 4)


@pytest.mark.parametrize("shape", [(1, 1), (1, 1, 3), (4, 3000), (3000, 4, 3), (17, 23, 4)])
def test_tiny_and_extreme_frames_find_nothing_instead_of_crashing(any_detector, shape):
    assert any_detector.detect(np.full(shape, 128, np.uint8)).shape == (0, 4)


def test_a_still_finds_a_face_in_a_very_wide_frame():
    _, face = demo_faces()[6]
    box = (2500, 40, 160, 160)  # in video a 4000-px-wide frame is scanned 256 px wide: 10-px faces
    detector = create_detector()
    found = detector.detect(compose_frame([face], [box], size=(4000, 240)))
    assert len(found) == 1 and best_iou(box, fer_framing(found, detector.framing).tolist()) > 0.5


@pytest.mark.parametrize("frame", [np.zeros((10, 10), np.float32), np.zeros((0, 5), np.uint8),
                                   np.zeros((5, 5, 2), np.uint8), np.zeros((2, 5, 5, 3), np.uint8)])
def test_frames_that_are_not_images_are_refused(any_detector, frame):
    with pytest.raises(ValueError, match="expected a"):
        any_detector.detect(frame)


def test_an_unknown_detector_name_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown detector 'yolo': choose one of blazeface, haar"):
        create_detector("yolo")


def test_concurrent_calls_from_threads_agree_with_serial_ones(any_detector):
    frames = [frame for frame, _ in placements()][:4]
    expected = [any_detector.detect(frame) for frame in frames]
    results: dict[int, list[np.ndarray]] = {}

    def work(worker: int) -> None:
        results[worker] = [any_detector.detect(frame) for frame in frames]

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 4
    for boxes in results.values():
        for got, want in zip(boxes, expected, strict=True):
            np.testing.assert_array_equal(got, want)


def test_a_frame_is_checked_once_per_detection(monkeypatch, three_faces):
    from realtime_fer.detectors import blazeface, centerface, frames, haar

    calls = []

    def counting(frame):
        calls.append(frame.shape)
        frames.check_frame(frame)

    frame, _ = three_faces
    for module in (blazeface, centerface, haar):
        monkeypatch.setattr(module, "check_frame", counting)
    for name, video in SETUPS:
        calls.clear()
        create_detector(name, video=video).detect(frame)
        assert calls == [frame.shape], (name, video)
