"""Live video's view budget: the most views that fit the frame's time, from measured (here: set) costs,
never fewer than one; recorded files keep every view."""

import csv

import cv2
import numpy as np
import pytest

from realtime_fer.cli import main
from realtime_fer.demo import compose_frame, demo_faces, write_demo_clip
from realtime_fer.pipeline import FaceEmotionPipeline
from realtime_fer.view_budget import HEADROOM, ViewBudget


def fixed(budget: ViewBudget) -> ViewBudget:
    """``budget`` with its costs held where the test set them (frames record nothing)."""
    budget.record = lambda *args: None
    return budget


def test_the_most_views_that_fit_the_frame():
    budget = ViewBudget(fps=30, ms_per_view=2.0)  # 26.7 ms of a 33.3 ms frame for faces
    assert budget.frame_ms * HEADROOM == pytest.approx(26.67, abs=0.01)
    assert budget.choose(1, "flip") == "flip"  # 1 x 2 x 2 = 4 ms
    assert budget.choose(6, "flip") == "flip"  # 6 x 2 x 2 = 24 ms
    assert budget.choose(6, "ten") == "flip"  # ten views: 120 ms
    assert budget.choose(1, "ten") == "ten"  # 20 ms
    assert budget.choose(7, "flip") == "none" and budget.last_tta == "none"  # 28 ms > 26.7
    assert ViewBudget(fps=30, ms_per_view=100.0).choose(1, "flip") == "none"  # never below one view
    assert ViewBudget(fps=5, ms_per_view=2.0).choose(7, "ten") == "ten"  # a slow source affords more
    assert ViewBudget(fps=30).choose(6, "ten") == "ten"  # costs unknown: what was asked, then timed


def test_the_rest_of_the_frame_leaves_less_for_the_faces():
    budget = ViewBudget(fps=30, ms_per_view=2.0)
    budget.record(0, "flip", 0.0, 10.0)  # no face: only the rest of the frame is learned
    assert budget.ms_per_view == 2.0 and budget.other_ms == 10.0
    assert budget.choose(6, "flip") == "none"  # 10 + 24 > 26.7
    assert budget.choose(4, "flip") == "flip"  # 10 + 16


def test_costs_are_learned_from_frames_and_smoothed():
    budget = ViewBudget(fps=30)
    budget.record(2, "flip", 8.0, 5.0)
    assert budget.ms_per_view == pytest.approx(2.0) and budget.other_ms == pytest.approx(5.0)
    budget.record(2, "flip", 48.0, 5.0)  # a slow frame moves the estimate, not all the way
    assert 2.0 < budget.ms_per_view < 12.0
    assert budget.state() == {"fps": 30, "ms_per_view": round(budget.ms_per_view, 3), "other_ms": 5.0,
                              "last_tta": None}


def test_seeded_from_the_recognizers_measurement(recognizer):
    choice = {"precision": "int8", "ms_per_face": {"int8": 3.0, "fp32": 5.0}, "views": 2}
    assert ViewBudget.seeded(25.0, choice).ms_per_view == 1.5
    assert ViewBudget.seeded(None, {**choice, "ms_per_face": None}).ms_per_view is None
    assert ViewBudget.seeded(None, recognizer.serving_choice).fps == 30.0


def test_the_pipeline_serves_each_frame_what_its_faces_afford(recognizer, detector, three_faces):
    frame, _ = three_faces
    one = compose_frame([demo_faces()[6][1]], [(220, 140, 200, 200)])
    flip = recognizer.with_tta("flip")
    # 3 faces x 2 views x 4 ms = 24 ms fits 26.7; 3 x 2 x 5 = 30 does not, 3 x 1 x 5 = 15 does
    pipeline = FaceEmotionPipeline(flip, detector, budget=fixed(ViewBudget(fps=30, ms_per_view=5.0)))
    faces = pipeline.process(frame)
    assert len(faces) == 3 and pipeline.last_tta == "none"
    one_view = FaceEmotionPipeline(recognizer.with_tta("none"), detector).process(frame)
    np.testing.assert_allclose([list(f.scores.values()) for f in faces],
                               [list(f.scores.values()) for f in one_view], atol=1e-6)
    assert len(pipeline.process(one)) == 1 and pipeline.last_tta == "flip"  # 1 x 2 x 5 = 10 ms
    plain = FaceEmotionPipeline(flip, detector)
    plain.process(frame)
    assert plain.last_tta == "flip"  # no budget: every view


def test_a_budgeted_pipeline_learns_real_costs(recognizer, detector, three_faces):
    budget = ViewBudget(fps=30)
    pipeline = FaceEmotionPipeline(recognizer.with_tta("flip"), detector, budget=budget)
    pipeline.process(three_faces[0])
    assert budget.ms_per_view > 0 and budget.other_ms > 0 and budget.last_tta == "flip"


def test_a_recorded_file_keeps_every_view(tmp_path):
    clip = write_demo_clip(tmp_path / "clip.avi", 3)
    table = tmp_path / "faces.csv"
    assert main(["video", str(clip), "--csv", str(table), "--model", "accurate"]) == 0
    rows = list(csv.DictReader(table.open()))
    assert rows and {row["tta"] for row in rows} == {"ten"}  # accurate's own ten views, every frame


def test_healthz_shows_the_webcam_pages_budget():
    from realtime_fer.web import create_app

    frame = compose_frame([demo_faces()[6][1]], [(220, 140, 200, 200)])
    ok, jpeg = cv2.imencode(".jpg", frame)
    client = create_app({"TESTING": True}).test_client()
    response = client.post("/api/predict?video=1", data=jpeg.tobytes(), content_type="image/jpeg")
    assert response.status_code == 200 and len(response.json["faces"]) == 1
    budget = client.get("/healthz").json["video_budget"]
    assert budget["fps"] == 30.0 and budget["ms_per_view"] > 0 and budget["last_tta"] in ("none", "flip")
    asked = create_app({"TESTING": True, "TTA": "ten"}).test_client().get("/healthz").json
    assert asked["video_budget"] is None  # an explicit --tta holds on every frame

