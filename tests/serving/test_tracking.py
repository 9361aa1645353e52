"""Track ids across frames and smoothing of the probabilities."""

import numpy as np
import pytest

from realtime_fer.demo import background, demo_scene
from realtime_fer.detectors.boxes import iou_matrix
from realtime_fer.emotions import EMOTIONS
from realtime_fer.pipeline import FaceEmotionPipeline
from realtime_fer.tracking import Tracker
from tests.serving.conftest import iou

HAPPY = np.array([[0.05, 0.0, 0.05, 0.55, 0.05, 0.25, 0.05]], np.float32)
SAD = np.array([[0.05, 0.0, 0.05, 0.25, 0.05, 0.55, 0.05]], np.float32)
BOX = np.array([[100, 100, 80, 80]])


def noisy_happy(frames: int, seed: int = 0, contempt: bool = False) -> np.ndarray:
    """(frames, 7) probabilities of a classifier unsure between happy (mostly) and sad; (frames, 8)
    with a small share for contempt."""
    rng = np.random.default_rng(seed)
    base = np.array([0.05, 0.02, 0.08, 0.38, 0.07, 0.30, 0.10] + [0.02] * contempt)
    out = np.repeat(base[None], frames, 0)
    out[:, [3, 5]] += rng.uniform(-0.12, 0.12, (frames, 2))
    return (out / out.sum(axis=1, keepdims=True)).astype(np.float32)


def changes(sequence: list) -> int:
    return sum(a != b for a, b in zip(sequence, sequence[1:], strict=False))


def labels(probabilities: np.ndarray) -> list[str]:
    return [EMOTIONS[i] for i in np.argmax(probabilities, axis=1)]


def test_iou_matrix():
    a = [(0, 0, 10, 10), (20, 20, 10, 10)]
    b = [(0, 0, 10, 10), (5, 0, 10, 10), (100, 100, 5, 5)]
    np.testing.assert_allclose(iou_matrix(a, b), [[1, 1 / 3, 0], [0, 0, 0]])
    assert iou_matrix(np.zeros((0, 4)), b).shape == (0, 3)


def test_ids_follow_moving_faces(recognizer, detector):
    pipeline = FaceEmotionPipeline(recognizer, detector, tracking=True)
    lane_ids: dict[int, set[int]] = {0: set(), 1: set(), 2: set()}
    for index in range(12):  # the demo faces drift but are not swapped in the first second
        frame, boxes, _ = demo_scene(index)
        for face in pipeline.process(frame):
            lane = max(range(3), key=lambda n: iou(face.box, boxes[n]))
            lane_ids[lane].add(face.track_id)
    assert [len(ids) for ids in lane_ids.values()] == [1, 1, 1]
    assert set.union(*lane_ids.values()) == {1, 2, 3}


def test_faces_keep_their_ids_across_frames_where_they_were_not_found(recognizer, detector):
    pipeline = FaceEmotionPipeline(recognizer, detector, tracking=True)
    ids = []
    for index in range(14):
        frame, _, _ = demo_scene(index)
        if 4 <= index < 10:  # six frames without faces: a detector missing them all
            frame = background()
        ids.append(sorted(face.track_id for face in pipeline.process(frame)))
    assert ids[:4] == [[1, 2, 3]] * 4 and ids[4:10] == [[]] * 6 and ids[10:] == [[1, 2, 3]] * 4


def test_a_briefly_missed_face_keeps_its_id_and_a_long_gone_one_does_not():
    tracker = Tracker(max_missed=3)
    assert tracker.update(BOX, HAPPY)[0] == [1]
    for _ in range(3):
        tracker.update(np.zeros((0, 4)), np.zeros((0, 7)))
    assert tracker.update(BOX + 4, HAPPY)[0] == [1]
    for _ in range(4):
        tracker.update(np.zeros((0, 4)), np.zeros((0, 7)))
    assert tracker.update(BOX, HAPPY)[0] == [2]


NONE = (np.zeros((0, 4)), np.zeros((0, 7)))


def test_a_face_that_moved_while_missed_keeps_its_id_and_its_smoothing():
    tracker = Tracker(smoothing=0.7)
    for step in range(6):  # a face walking right at 6 px a frame, labelled happy
        assert tracker.update(BOX + [6 * step, 0, 0, 0], HAPPY)[0] == [1]
    for _ in range(8):  # missed for 8 frames while it walks on
        tracker.update(*NONE)
    back = BOX + [6 * 14, 0, 0, 0]  # 54 px from where it was last seen: IoU 0.2
    assert iou_matrix(BOX + [30, 0, 0, 0], back)[0, 0] < 0.3
    ids, smoothed = tracker.update(back, SAD)
    assert ids == [1]
    assert labels(smoothed) == ["happy"]  # one sad frame after the gap does not flip it: smoothed


def test_ids_do_not_multiply_when_the_detector_misses_often():
    tracker = Tracker()
    rng = np.random.default_rng(0)
    seen = set()
    for frame in range(45):  # two faces drifting towards each other, each found in one frame of three
        lanes = [BOX[0] + [2 * frame, 0, 0, 0], BOX[0] + [250 - 2 * frame, 60, 10, 10]]
        found = [lane for lane in range(2) if frame == 0 or rng.random() < 1 / 3]
        ids, _ = tracker.update(np.array([lanes[lane] for lane in found]).reshape(-1, 4),
                                np.repeat(HAPPY, len(found), axis=0))
        seen.update(zip(found, ids, strict=True))
    assert seen == {(0, 1), (1, 2)}


def test_a_face_far_from_a_missed_one_gets_a_new_id():
    tracker = Tracker()
    tracker.update(BOX, HAPPY)
    tracker.update(*NONE)
    assert tracker.update(BOX + [200, 0, 0, 0], HAPPY)[0] == [2]  # 2.5 face sides away
    assert tracker.update(BOX + [200, 0, 120, 120], HAPPY)[0] == [3]  # near, but 2.5x larger


def test_two_faces_never_share_a_track():
    tracker = Tracker()
    tracker.update(BOX, HAPPY)
    ids, _ = tracker.update(np.vstack([BOX, BOX + 10]), np.vstack([HAPPY, SAD]))
    assert sorted(ids) == [1, 2]


def test_smoothing_stops_flicker_but_follows_a_real_change():
    noisy = noisy_happy(40)
    raw, smooth = Tracker(smoothing=0.0), Tracker(smoothing=0.7)
    raw_labels = [labels(raw.update(BOX, p[None])[1])[0] for p in noisy]
    smooth_labels = [labels(smooth.update(BOX, p[None])[1])[0] for p in noisy]
    assert changes(raw_labels) >= 10  # the classifier alone flickers
    assert smooth_labels == ["happy"] * 40


def test_smoothing_follows_a_lasting_change_within_a_few_frames():
    tracker = Tracker(smoothing=0.7)
    for _ in range(5):
        tracker.update(BOX, HAPPY)
    after = [labels(tracker.update(BOX, SAD)[1])[0] for _ in range(4)]
    assert after == ["happy", "sad", "sad", "sad"]  # one odd frame alone does not flip the label


def test_smoothed_probabilities_still_sum_to_one():
    tracker = Tracker(smoothing=0.7)
    for p in (HAPPY, SAD, SAD):
        _, smoothed = tracker.update(BOX, p)
        assert smoothed.sum() == pytest.approx(1.0, abs=1e-5)


def test_pipeline_tracking_steadies_a_flickering_classifier(
    recognizer, detector, three_faces, monkeypatch
):
    """The real pipeline on a still frame, with a classifier that is unsure from frame to frame."""
    frame, _ = three_faces
    shown = {}
    for tracking in (False, True):
        noisy = iter(noisy_happy(20, contempt=len(recognizer.classes) == 8))

        def unsure(crops, noisy=noisy):
            return np.repeat(next(noisy)[None], len(crops), 0)

        monkeypatch.setattr(recognizer, "predict_proba", unsure)
        pipeline = FaceEmotionPipeline(recognizer, detector, tracking=tracking)
        shown[tracking] = [[f.emotion for f in pipeline.process(frame)] for _ in range(20)]
    assert all(len(faces) == 3 for faces in shown[True])
    assert changes(shown[False]) >= 5
    assert changes(shown[True]) == 0


def test_reset_starts_the_ids_again(recognizer, detector, three_faces):
    pipeline = FaceEmotionPipeline(recognizer, detector, tracking=True)
    pipeline.process(three_faces[0])
    pipeline.reset()
    assert [f.track_id for f in pipeline.process(three_faces[0])] == [1, 2, 3]


def test_smoothing_must_be_below_one():
    with pytest.raises(ValueError, match="smoothing"):
        Tracker(smoothing=1.0)
