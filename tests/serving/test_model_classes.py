"""Serving follows the model's own classes (an eight-class FER+ model here), with its calibration
temperature and an abstention threshold; the shipped seven-class models serve as they always did."""

import csv
import json
import math

import cv2
import numpy as np
import pytest

from realtime_fer.calibration import apply_temperature
from realtime_fer.cli import main, video_csv_fields
from realtime_fer.demo import background, compose_frame, demo_faces, demo_scene
from realtime_fer.draw import EMOTION_COLORS, UNCERTAIN_COLOR, annotate
from realtime_fer.emotions import EMOTIONS, FERPLUS_CLASSES, KNOWN_EMOTIONS
from realtime_fer.model_folder import ModelError, ModelFolder
from realtime_fer.pipeline import Face, FaceEmotionPipeline
from realtime_fer.preprocess import to_model_input
from realtime_fer.recognizer import EmotionRecognizer
from tests.serving.test_draw import changed
from tests.tiny_models import write_model

pytest.importorskip("onnx")  # to write the tiny models' graphs

FACES = [face for _, face in demo_faces()]


@pytest.fixture(scope="module")
def eight(eight_class_model) -> EmotionRecognizer:
    return EmotionRecognizer(eight_class_model)


def test_an_eight_class_model_scores_its_eight_classes(eight):
    assert eight.classes == FERPLUS_CLASSES
    assert eight.predict_proba(FACES).shape == (len(FACES), 8)
    emotions = eight.classify(FACES)
    assert all(tuple(e.scores) == FERPLUS_CLASSES for e in emotions)
    assert {e.label for e in emotions} >= {"contempt", "sad"}  # contempt is a label like any other
    assert not any(e.uncertain for e in emotions)  # no threshold in its model.json


def test_a_graph_with_fewer_outputs_than_classes_is_refused(tmp_path):
    folder = write_model(tmp_path / "model", graph_classes=7)
    with pytest.raises(ModelError, match="not 8 probabilities"):
        EmotionRecognizer(folder)


@pytest.mark.parametrize(
    ("classes", "message"),
    [
        ([*EMOTIONS, "smug"], "unknown classes 'smug'"),
        (["happy"], "at least 2 distinct names"),
        (["happy", "sad", "happy"], "at least 2 distinct names"),
        ("happy,sad", "at least 2 distinct names"),
        (None, "at least 2 distinct names"),
    ],
)
def test_bad_classes_in_model_json_are_one_line_errors(tmp_path, classes, message):
    folder = write_model(tmp_path / "model", classes=[*EMOTIONS, "contempt"])
    spec = json.loads((folder / "model.json").read_text())
    spec["classes"] = classes
    (folder / "model.json").write_text(json.dumps(spec))
    with pytest.raises(ModelError, match=message) as error:
        ModelFolder.open(folder)
    assert str(error.value).startswith(str(folder / "model.json")) and "\n" not in str(error.value)


def test_any_ordered_subset_of_the_known_classes_is_served(tmp_path):
    classes = ("happy", "contempt", "neutral")
    recognizer = EmotionRecognizer(write_model(tmp_path / "model", classes=classes))
    assert recognizer.classes == classes and set(classes) <= KNOWN_EMOTIONS
    assert tuple(recognizer.classify(FACES[:1])[0].scores) == classes


@pytest.mark.parametrize(
    ("serving", "message"),
    [
        ({"temperature": 0}, "serving.temperature must be a number > 0; got 0"),
        ({"temperature": -1.5}, "serving.temperature must be a number > 0"),
        ({"temperature": "2"}, "serving.temperature must be a number > 0; got '2'"),
        ({"temperature": True}, "serving.temperature must be a number > 0"),
        ({"temperature": math.inf}, "serving.temperature must be a number > 0"),
        ({"uncertain_below": 1.0}, r"serving.uncertain_below must be in \[0, 1\) or null; got 1.0"),
        ({"uncertain_below": -0.1}, r"serving.uncertain_below must be in \[0, 1\)"),
        ({"uncertain_below": "0.5"}, r"serving.uncertain_below must be in \[0, 1\)"),
    ],
)
def test_bad_serving_settings_are_one_line_errors_naming_the_file(tmp_path, serving, message):
    folder = write_model(tmp_path / "model", **serving)
    with pytest.raises(ModelError, match=message) as error:
        EmotionRecognizer(folder)
    assert str(error.value).startswith(str(folder / "model.json")) and "\n" not in str(error.value)


def test_a_bad_model_json_stops_predict_with_one_line(tmp_path, capsys):
    folder = write_model(tmp_path / "model", temperature=0)
    assert main(["predict", "--model", str(folder), str(tmp_path / "any.png")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "serving.temperature must be a number > 0" in err


@pytest.mark.parametrize("temperature", [0.5, 2.5])
def test_the_temperature_rescales_probabilities_and_keeps_the_winner(tmp_path, eight, temperature):
    calibrated = EmotionRecognizer(write_model(tmp_path / "model", temperature=temperature))
    assert calibrated.temperature == temperature
    raw, scaled = eight.predict_proba(FACES), calibrated.predict_proba(FACES)
    np.testing.assert_allclose(scaled, apply_temperature(raw, temperature), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(scaled.sum(1), 1, atol=1e-5)
    assert (scaled.argmax(1) == raw.argmax(1)).all()
    softer = scaled.max(1) < raw.max(1)
    assert softer.all() if temperature > 1 else not softer.any()


def test_faces_below_the_model_threshold_are_uncertain(tmp_path):
    recognizer = EmotionRecognizer(write_model(tmp_path / "model", uncertain_below=0.4))
    assert recognizer.uncertain_below == 0.4
    emotions = recognizer.classify(FACES)
    assert [e.uncertain for e in emotions] == [e.confidence < 0.4 for e in emotions]
    assert len({e.uncertain for e in emotions}) == 2  # some of each
    assert all(e.label in FERPLUS_CLASSES for e in emotions)  # the guess is kept


def test_the_threshold_can_be_overridden(tmp_path, eight):
    folder = write_model(tmp_path / "model", uncertain_below=0.4)
    assert not any(e.uncertain for e in EmotionRecognizer(folder, uncertain_below=0).classify(FACES))
    assert all(e.uncertain for e in EmotionRecognizer(folder, uncertain_below=0.99).classify(FACES))
    assert all(e.uncertain for e in eight.with_uncertain_below(0.99).classify(FACES))
    assert eight.uncertain_below == 0.0  # the twin shares the session, not the threshold
    for bad in (1.0, -0.5):
        with pytest.raises(ValueError, match=r"uncertain_below must be in \[0, 1\)"):
            EmotionRecognizer(folder, uncertain_below=bad)


def test_shipped_seven_class_models_serve_the_graph_unchanged():
    plain = EmotionRecognizer("fast", tta="none")
    assert plain.classes == EMOTIONS and plain.temperature == 1.0 and plain.uncertain_below == 0.0
    inputs = to_model_input(FACES, plain.input_size)
    raw = plain.session.run(None, {plain.input_name: inputs})[0]
    assert np.array_equal(plain.predict_proba(FACES), raw)
    assert not any(e.uncertain for e in plain.classify(FACES))


def test_the_pipeline_tracks_and_smooths_eight_scores(eight, detector):
    pipeline = FaceEmotionPipeline(eight, detector, tracking=True, uncertain_below=0.99)
    assert pipeline.recognizer.session is eight.session and pipeline.recognizer.uncertain_below == 0.99
    for index in range(3):
        faces = pipeline.process(demo_scene(index)[0])
    assert [f.track_id for f in faces] == [1, 2, 3]
    for face in faces:
        assert tuple(face.scores) == FERPLUS_CLASSES and face.uncertain
        assert face.to_dict()["uncertain"] is True and list(face.to_dict()["scores"]) == list(FERPLUS_CLASSES)


def eight_face(box, uncertain=False, emotion="contempt") -> Face:
    scores = {name: 0.3 if name == emotion else 0.1 for name in FERPLUS_CLASSES}
    return Face(box, emotion, 0.3, scores, uncertain=uncertain)


def test_an_uncertain_face_is_drawn_grey_and_contempt_in_its_colour():
    frame = background()
    certain = annotate(frame, [eight_face((200, 150, 120, 120))])
    assert tuple(certain[210, 200]) == EMOTION_COLORS["contempt"]
    unsure = annotate(frame, [eight_face((200, 150, 120, 120), uncertain=True)])
    assert tuple(unsure[210, 200]) == UNCERTAIN_COLOR  # the box
    assert (unsure[125:150, 200:300] == UNCERTAIN_COLOR).all(axis=2).mean() > 0.3  # the label's fill
    assert changed(certain, unsure)[125:150, 200:300].any()  # another text than "contempt 30%"


def test_the_bars_panel_has_a_row_per_class():
    frame = background()
    box = (100, 150, 120, 120)
    seven = Face(box, "happy", 0.4, {name: 0.1 for name in EMOTIONS})
    rows = [
        changed(frame, annotate(frame, [face], bars=True))[150:, 230:320].any(1).sum()  # below the label
        for face in (seven, eight_face(box), eight_face(box, uncertain=True))
    ]
    assert rows[1] == rows[2] == rows[0] + 14  # one more 14-px row; kept for an uncertain face


def test_predict_json_and_table_have_the_model_classes_and_uncertain(eight_class_model, tmp_path, capsys):
    photo = tmp_path / "faces.png"
    cv2.imwrite(str(photo), compose_frame(FACES[:2], [(40, 100, 200, 200), (360, 100, 200, 200)]))
    model = ["--model", str(eight_class_model)]
    assert main(["predict", str(photo), "--json", *model]) == 0
    faces = json.loads(capsys.readouterr().out)[0]["faces"]
    assert len(faces) == 2
    assert all(list(f["scores"]) == list(FERPLUS_CLASSES) and f["uncertain"] is False for f in faces)
    assert main(["predict", str(photo), "--json", "--uncertain-below", "0.99", *model]) == 0
    assert all(f["uncertain"] is True for f in json.loads(capsys.readouterr().out)[0]["faces"])
    assert main(["predict", str(photo), "--uncertain-below", "0.99", *model]) == 0
    header, *rows = capsys.readouterr().out.splitlines()[1:3]
    assert header.split()[-2:] == ["contempt", "uncertain"] and rows[0].split()[-1] == "yes"


def test_video_csv_has_a_column_per_class_and_uncertain(eight_class_model, tmp_path):
    table = tmp_path / "faces.csv"
    options = ["--csv", str(table), "--model", str(eight_class_model), "--uncertain-below", "0.4"]
    assert main(["video", "demo", "--max-frames", "3", *options]) == 0
    with open(table, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == video_csv_fields(FERPLUS_CLASSES)
    assert video_csv_fields(FERPLUS_CLASSES)[-4:] == ("contempt", "uncertain", "tta", "detected")
    assert len(rows) == 9
    for row in rows:
        assert sum(float(row[name]) for name in FERPLUS_CLASSES) == pytest.approx(1.0, abs=1e-3)
        assert row["uncertain"] == ("true" if float(row["confidence"]) < 0.4 else "false")


@pytest.mark.parametrize("value", ["1", "-0.2", "half"])
def test_a_bad_uncertain_below_option_is_refused(value, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["predict", "any.png", "--uncertain-below", value])
    assert exit_.value.code == 2 and "--uncertain-below" in capsys.readouterr().err
