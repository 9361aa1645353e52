"""Track ids across frames and smoothing of the probabilities."""

import numpy as np
import pytest

from realtime_fer.demo import demo_scene
from realtime_fer.emotions import EMOTIONS
from realtime_fer.pipeline import FaceEmotionPipeline
from realtime_fer.tracking import Tracker, iou_matrix
from tests.serving.conftest import iou

HAPPY = np.array([[0.05, 0.0, 0.05, 0.55, 0.05, 0.25, 0.05]], np.float32)
SAD = np.array([[0.05, 0.0, 0.05, 0.25, 0.05, 0.55, 0.05]], np.float32)
BOX = np.array([[100, 100, 80, 80]])


def noisy_happy(frames: int, seed: int = 0) -> np.ndarray:
    """(frames, 7) probabilities of a classifier unsure between happy (mostly) and sad."""
    rng = np.random.default_rng(seed)
    base = np.array([0.05, 0.02, 0.08, 0.38, 0.07, 0.30, 0.10])
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


def test_a_briefly_missed_face_keeps_its_id_and_a_long_gone_one_does_not():
    tracker = Tracker(max_missed=3)
    assert tracker.update(BOX, HAPPY)[0] == [1]
    for _ in range(3):
        tracker.update(np.zeros((0, 4)), np.zeros((0, 7)))
    assert tracker.update(BOX + 4, HAPPY)[0] == [1]
    for _ in range(4):
        tracker.update(np.zeros((0, 4)), np.zeros((0, 7)))
    assert tracker.update(BOX, HAPPY)[0] == [2]


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
        noisy = iter(noisy_happy(20))

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
