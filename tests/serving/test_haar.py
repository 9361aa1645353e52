"""What is particular to the Haar cascade: the width it scans, its minimum size, its cascade file."""

import numpy as np
import pytest

from realtime_fer.detector import DetectorError
from realtime_fer.detectors.haar import HaarDetector
from tests.serving.conftest import best_iou, placements


@pytest.mark.parametrize("max_width", [256, 320, None])
def test_finds_every_demo_face_where_it_was_put(max_width):
    detector = HaarDetector(max_width=max_width)
    for frame, boxes in placements():
        found = detector.detect(frame)
        assert found.dtype == np.int32 and found.shape[1] == 4
        for box in boxes:
            assert best_iou(box, found.tolist()) > 0.5, (box, found)
        assert len(found) == len(boxes)


def test_min_size_is_in_full_frame_pixels(three_faces):
    frame, _ = three_faces  # faces of 150-170 px
    assert len(HaarDetector(min_size=140).detect(frame)) == 3
    assert len(HaarDetector(min_size=240).detect(frame)) == 0


def test_a_missing_cascade_is_a_clear_error(tmp_path):
    with pytest.raises(DetectorError, match="nowhere.xml: cascade file not found"):
        HaarDetector(cascade=tmp_path / "nowhere.xml")


def test_a_broken_cascade_is_a_clear_error(tmp_path):
    broken = tmp_path / "broken.xml"
    broken.write_text("<opencv_storage><nonsense/></opencv_storage>")
    with pytest.raises(DetectorError, match="broken.xml: not a valid OpenCV cascade"):
        HaarDetector(cascade=broken)
