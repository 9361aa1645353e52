"""Frame -> faces: detection, one batched classification per frame, JSON and timings."""

import json
import threading

import numpy as np
import pytest

from realtime_fer.demo import background
from realtime_fer.emotions import EMOTIONS
from realtime_fer.pipeline import Face, FaceEmotionPipeline
from tests.serving.conftest import iou


@pytest.fixture
def pipeline(recognizer, detector) -> FaceEmotionPipeline:
    return FaceEmotionPipeline(recognizer, detector)


@pytest.fixture
def classify_calls(pipeline, monkeypatch) -> list[list[np.ndarray]]:
    """Every call to the recognizer, with the crops it was given (a spy: calls go through)."""
    calls = []
    real = pipeline.recognizer.predict_proba

    def spy(faces):
        calls.append(list(faces))
        return real(faces)

    monkeypatch.setattr(pipeline.recognizer, "predict_proba", spy)
    return calls


def test_finds_the_faces_and_scores_all_seven_classes(pipeline, three_faces):
    frame, boxes = three_faces
    faces = pipeline.process(frame)
    assert len(faces) == 3
    for face, box in zip(faces, boxes, strict=True):  # both left to right
        assert iou(face.box, box) > 0.5
        assert all(isinstance(v, int) for v in face.box)
        assert tuple(face.scores) == pipeline.recognizer.classes
        assert sum(face.scores.values()) == pytest.approx(1.0, abs=1e-4)
        assert face.emotion == max(face.scores, key=face.scores.get)
        assert face.confidence == face.scores[face.emotion]
        assert face.track_id is None


def test_all_faces_of_a_frame_go_to_the_recognizer_in_one_call(pipeline, three_faces, classify_calls):
    frame, _ = three_faces
    faces = pipeline.process(frame)
    assert len(classify_calls) == 1
    crops = classify_calls[0]
    assert len(crops) == 3
    # the crop is the detected box itself (FER-2013 faces are tight crops)
    assert [crop.shape for crop in crops] == [(f.box[3], f.box[2]) for f in faces]
    assert all(crop.ndim == 2 for crop in crops)  # grey


def test_a_frame_without_faces_is_one_empty_call(pipeline, classify_calls):
    assert pipeline.process(background()) == []
    assert [len(crops) for crops in classify_calls] == [0]


def test_grey_frames_work_too(pipeline, three_faces):
    frame, _ = three_faces
    assert [f.box for f in pipeline.process(frame[..., 0])] == [f.box for f in pipeline.process(frame)]


def test_same_scores_as_classifying_the_crops_directly(pipeline, recognizer, three_faces):
    frame, _ = three_faces
    faces = pipeline.process(frame)
    gray = frame[..., 0]
    crops = [gray[y : y + h, x : x + w] for x, y, w, h in (f.box for f in faces)]
    for face, emotion in zip(faces, recognizer.classify(crops), strict=True):
        assert face.emotion == emotion.label
        assert face.scores == pytest.approx(emotion.scores)


def test_to_dict_is_json_ready():
    scores = {name: 1 / 7 for name in EMOTIONS}
    face = Face((1, 2, 30, 40), "happy", 0.123456, scores)
    data = json.loads(json.dumps(face.to_dict()))
    assert data == {
        "box": [1, 2, 30, 40], "emotion": "happy", "confidence": 0.1235, "uncertain": False,
        "scores": {name: 0.1429 for name in EMOTIONS},
    }
    assert Face((1, 2, 30, 40), "happy", 0.5, scores, track_id=7).to_dict()["track_id"] == 7


def test_timings_of_the_last_call(pipeline, three_faces):
    assert pipeline.last_timings == {}
    pipeline.process(three_faces[0])
    timings = pipeline.last_timings
    assert set(timings) == {"detect_ms", "detected", "classify_ms", "total_ms"}
    assert timings["detect_ms"] > 0 and timings["classify_ms"] > 0
    assert timings["total_ms"] >= timings["detect_ms"] + timings["classify_ms"]


def test_timings_belong_to_the_calling_thread(pipeline, three_faces):
    pipeline.process(three_faces[0])
    mine = pipeline.last_timings
    other = threading.Thread(target=pipeline.process, args=(background(),))
    other.start()
    other.join()
    assert pipeline.last_timings == mine


def test_a_model_name_or_folder_is_loaded(recognizer, detector):
    pipeline = FaceEmotionPipeline(recognizer.path, detector)
    assert pipeline.recognizer.path == recognizer.path and pipeline.tracker is None
