"""``realtime-fer predict`` and ``realtime-fer video`` on files generated here."""

import csv
import json

import cv2
import numpy as np
import pytest

from realtime_fer.cli import main, video_csv_fields
from realtime_fer.demo import compose_frame, demo_faces, write_demo_clip
from realtime_fer.emotions import EMOTIONS, FERPLUS_CLASSES
from realtime_fer.recognizer import EmotionRecognizer


@pytest.fixture
def photo(tmp_path, three_faces):
    path = tmp_path / "group.png"
    cv2.imwrite(str(path), three_faces[0])
    return path


@pytest.fixture
def clip(tmp_path):
    """Ten demo frames as an .avi (three faces drifting)."""
    return write_demo_clip(tmp_path / "clip.avi", 10, fps=10)


def test_predict_prints_a_table(photo, capsys):
    assert main(["predict", str(photo)]) == 0
    out = capsys.readouterr().out
    assert f"{photo}: 3 faces" in out
    assert all(name in out for name in EMOTIONS)  # the column headers
    rows = [line for line in out.splitlines() if line.strip().startswith(("1 ", "2 ", "3 "))]
    assert len(rows) == 3


def test_predict_json_and_annotated_copies(photo, tmp_path, capsys):
    out_dir = tmp_path / "annotated"
    assert main(["predict", str(photo), "--json", "--out", str(out_dir), "--tta", "flip"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert [r["image"] for r in results] == [str(photo)]
    faces = results[0]["faces"]
    assert len(faces) == 3
    assert set(faces[0]) == {"box", "emotion", "confidence", "uncertain", "scores"}
    assert faces[0]["uncertain"] is False  # the shipped models set no threshold
    assert sum(faces[0]["scores"].values()) == pytest.approx(1.0, abs=1e-3)
    annotated = cv2.imread(str(out_dir / photo.name))
    assert annotated.shape == cv2.imread(str(photo)).shape
    assert (annotated != cv2.imread(str(photo))).any()


def test_predict_finds_a_small_face_that_the_former_cascade_missed(tmp_path, capsys):
    path = tmp_path / "small.png"  # a 28-px face in a 1280x960 photo
    cv2.imwrite(str(path), compose_frame([demo_faces()[6][1]], [(700, 500, 28, 28)], size=(1280, 960)))
    counts = {}
    for detector in ("blazeface", "haar", "haar-paper"):
        assert main(["predict", str(path), "--json", "--detector", detector]) == 0
        counts[detector] = len(json.loads(capsys.readouterr().out)[0]["faces"])
    assert counts == {"blazeface": 1, "haar": 0, "haar-paper": 1}


def test_a_bad_image_is_named_and_the_others_still_processed(photo, tmp_path, capsys):
    broken = tmp_path / "broken.jpg"
    broken.write_text("this is not a JPEG")
    missing = tmp_path / "missing.png"
    assert main(["predict", str(broken), str(photo), str(missing), "--json"]) == 2
    captured = capsys.readouterr()
    assert f"{broken}: not an image OpenCV can read" in captured.err
    assert f"{missing}: no such file" in captured.err
    results = json.loads(captured.out)
    assert [("error" in r, len(r.get("faces", []))) for r in results] == [(True, 0), (False, 3), (True, 0)]


def test_predict_says_when_there_is_no_face(tmp_path, capsys):
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((100, 100, 3), 128, np.uint8))
    assert main(["predict", str(blank)]) == 0
    assert "no faces found" in capsys.readouterr().out


def test_video_writes_an_annotated_copy_and_a_csv(clip, tmp_path, capsys):
    out, table = tmp_path / "out.mp4", tmp_path / "faces.csv"
    assert main(["video", str(clip), "--out", str(out), "--csv", str(table)]) == 0
    assert "10 frames" in capsys.readouterr().out
    written = cv2.VideoCapture(str(out))
    assert int(written.get(cv2.CAP_PROP_FRAME_COUNT)) == 10
    ok, first = written.read()
    written.release()
    assert ok and first.shape == (480, 640, 3)
    with open(table, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == video_csv_fields(FERPLUS_CLASSES)  # the default model's
    assert {row["frame"] for row in rows} == {str(i) for i in range(10)}
    assert {row["track_id"] for row in rows} == {"1", "2", "3"}
    assert float(rows[-1]["time_s"]) == pytest.approx(0.9)
    for row in rows:
        assert sum(float(row[name]) for name in FERPLUS_CLASSES) == pytest.approx(1.0, abs=1e-3)
        unsure = float(row["confidence"]) < EmotionRecognizer().uncertain_below
        assert row["emotion"] in FERPLUS_CLASSES and row["uncertain"] == str(unsure).lower()


def test_video_without_tracking_has_no_track_ids(clip, tmp_path):
    table = tmp_path / "faces.csv"
    assert main(["video", str(clip), "--csv", str(table), "--no-tracking"]) == 0
    with open(table, newline="") as handle:
        assert {row["track_id"] for row in csv.DictReader(handle)} == {""}


def test_video_stops_after_max_frames(tmp_path, capsys):
    assert main(["video", "demo", "--max-frames", "3", "--csv", str(tmp_path / "faces.csv")]) == 0
    assert "3 frames" in capsys.readouterr().out


def test_video_with_nothing_to_write_says_so(capsys):
    assert main(["video", "demo", "--max-frames", "3"]) == 2
    assert capsys.readouterr().err.count("\n") == 1  # one line, no traceback


@pytest.mark.parametrize("name", ["x.mkv", "x.mp3", "x"])
def test_an_annotated_video_only_as_mp4_or_avi(name, tmp_path, capsys):
    assert main(["video", "demo", "--max-frames", "1", "--out", str(tmp_path / name)]) == 2
    assert "use .mp4 or .avi" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_a_missing_video_is_a_clear_error(tmp_path, capsys):
    assert main(["video", str(tmp_path / "gone.mp4"), "--csv", str(tmp_path / "faces.csv")]) == 2
    assert "gone.mp4' not found" in capsys.readouterr().err


@pytest.mark.parametrize("option", ["--csv", "--out"])
def test_an_output_in_a_missing_folder_fails_before_any_frame(option, tmp_path, capsys, monkeypatch):
    opened = []
    monkeypatch.setattr("realtime_fer.sources.open_source", lambda *a, **k: opened.append(a))
    assert main(["video", "demo", option, str(tmp_path / "no" / "such.mp4")]) == 2
    assert "its folder does not exist" in capsys.readouterr().err
    assert opened == []


def test_min_face_and_threshold_options(photo, capsys):
    assert main(["predict", str(photo), "--json", "--min-face", "400"]) == 0  # faces above the photo's size
    assert all(not result["faces"] for result in json.loads(capsys.readouterr().out))
    for bad in (["--threshold", "1.5"], ["--min-face", "0"], ["--detector", "haar", "--threshold", "0.5"]):
        with pytest.raises(SystemExit) as stop:
            main(["predict", str(photo), *bad])
        assert stop.value.code == 2
        assert len(capsys.readouterr().err.strip().splitlines()[-1]) > 0


def test_video_detect_every_says_in_the_csv_which_frames_were_detected(clip, tmp_path):
    table = tmp_path / "faces.csv"
    assert main(["video", str(clip), "--csv", str(table), "--detect-every", "4"]) == 0
    with open(table, newline="") as handle:
        rows = list(csv.DictReader(handle))
    detected = {int(row["frame"]): row["detected"] for row in rows}
    assert detected == {i: "true" if i % 4 == 0 else "false" for i in range(10)}
    assert {row["track_id"] for row in rows} == {"1", "2", "3"}  # followed between detections


def test_video_detect_every_needs_tracking(clip, tmp_path, capsys):
    args = ["video", str(clip), "--csv", str(tmp_path / "f.csv"), "--detect-every", "2", "--no-tracking"]
    assert main(args) == 2
    assert capsys.readouterr().err.strip() == (
        "realtime-fer video: error: --detect-every needs tracking (leave out --no-tracking)")
