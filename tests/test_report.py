"""The per-video report (``video --report``, :func:`realtime_fer.video.analyse_video`) on a clip of two
bundled faces that cross, and the annotated video's codec."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from realtime_fer.cli import main
from realtime_fer.emotions import FERPLUS_CLASSES
from realtime_fer.pipeline import FaceEmotionPipeline
from realtime_fer.report import frame_face_fields, track_fields
from realtime_fer.video import analyse_video
from tests.clips import FPS, crossing_boxes, write_clip
from tests.serving.conftest import iou

FRAMES = 40


@pytest.fixture(scope="module")
def pipeline() -> FaceEmotionPipeline:
    return FaceEmotionPipeline(tracking=True)


@pytest.fixture(scope="module")
def crossing(tmp_path_factory) -> tuple[Path, list]:
    boxes = crossing_boxes(FRAMES)
    return write_clip(tmp_path_factory.mktemp("clips") / "crossing.avi", boxes), boxes


@pytest.fixture(scope="module")
def report(crossing, pipeline, tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("report")
    return out, analyse_video(crossing[0], out, pipeline=pipeline)


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def id_switches(rows: list[dict[str, str]], truth: list) -> tuple[int, dict[str, set[str]]]:
    """Changes of track id along each true face (a face matched to the true box it overlaps most),
    and the true faces each track id was given to."""
    last: dict[int, str] = {}
    switches, people = 0, {}
    for row in rows:
        box = tuple(int(row[k]) for k in "xywh")
        person = max(range(2), key=lambda n: iou(box, truth[int(row["frame"])][n]))
        switches += person in last and last[person] != row["track_id"]
        last[person] = row["track_id"]
        people.setdefault(row["track_id"], set()).add(person)
    return switches, people


def test_faces_csv_has_container_times_every_class_and_no_id_switch(report, crossing):
    out, _ = report
    rows = read_csv(out / "faces.csv")
    assert tuple(rows[0]) == frame_face_fields(FERPLUS_CLASSES)
    assert {int(row["frame"]) for row in rows} == set(range(FRAMES))
    for row in rows:
        assert float(row["time_s"]) == pytest.approx(int(row["frame"]) / FPS, abs=1e-3)
        assert sum(float(row[e]) for e in FERPLUS_CLASSES) == pytest.approx(1.0, abs=2e-3)
    switches, people = id_switches(rows, crossing[1])
    assert switches == 0
    assert sorted(map(sorted, people.values())) == [[0], [1]]  # two ids, one person each
    # where the faces overlap, the one behind is hidden for some frames: found again afterwards
    per_frame = np.bincount([int(row["frame"]) for row in rows], minlength=FRAMES)
    assert per_frame.min() == 1 and per_frame[0] == per_frame[-1] == 2


def test_tracks_csv_is_a_row_per_person_whose_shares_sum_to_one(report):
    out, summary = report
    rows = read_csv(out / "tracks.csv")
    assert tuple(rows[0]) == track_fields(FERPLUS_CLASSES)
    assert len(rows) == 2 == summary["tracks"]
    faces = read_csv(out / "faces.csv")
    for row in rows:
        mine = [f for f in faces if f["track_id"] == row["track_id"]]
        assert int(row["frames"]) == len(mine)
        assert float(row["first_s"]) == 0.0 and float(row["last_s"]) == pytest.approx((FRAMES - 1) / FPS)
        assert float(row["seconds"]) == pytest.approx(len(mine) / FPS, abs=1e-3)
        shares = {e: float(row[f"share_{e}"]) for e in FERPLUS_CLASSES}
        assert sum(shares.values()) == pytest.approx(1.0, abs=1e-3)
        assert row["dominant"] == max(shares, key=shares.get)
        labels = [f["emotion"] for f in mine]  # every frame of this clip lasts 0.1 s
        assert shares[row["dominant"]] == pytest.approx(labels.count(row["dominant"]) / len(labels), abs=1e-3)
        assert sum(float(row[f"mean_{e}"]) for e in FERPLUS_CLASSES) == pytest.approx(1.0, abs=2e-3)


def test_summary_and_timeline(report):
    from PIL import Image

    out, summary = report
    assert json.loads((out / "summary.json").read_text()) == summary
    assert summary["frames"] == FRAMES and summary["fps"] == FPS
    assert summary["duration_s"] == pytest.approx(FRAMES / FPS)
    assert summary["classes"] == list(FERPLUS_CLASSES)
    assert sum(summary["expression_seconds"].values()) == pytest.approx(summary["faces"] / FPS, abs=0.01)
    image = Image.open(out / "timeline.png")
    assert image.text["Description"] == "tracks: 1 2" and summary["timeline_tracks"] == [1, 2]
    pixels = np.asarray(image.convert("RGB"))
    assert pixels.shape[0] > 150 and pixels.std() > 20  # two rows of plots, not a blank image
    written = sorted(p.name for p in out.iterdir())
    assert written == ["faces.csv", "summary.json", "timeline.png", "tracks.csv"]


def test_video_report_and_an_h264_copy_from_the_command_line(crossing, tmp_path, capsys):
    av = pytest.importorskip("av")
    out, video = tmp_path / "report", tmp_path / "annotated.mp4"
    assert main(["video", str(crossing[0]), "--report", str(out), "--out", str(video)]) == 0
    assert f"{FRAMES} frames" in capsys.readouterr().out
    summary = json.loads((out / "summary.json").read_text())
    assert summary["video"] == {"file": str(video), "codec": "h264"}
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264" and stream.pix_fmt == "yuv420p"
        assert sum(1 for _ in container.decode(stream)) == FRAMES


def test_without_pyav_the_copy_is_mpeg4_and_the_summary_says_why(crossing, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("realtime_fer.video.find_spec", lambda name: None)
    out, video = tmp_path / "report", tmp_path / "annotated.mp4"
    assert main(["video", str(crossing[0]), "--report", str(out), "--out", str(video),
                 "--max-frames", "5"]) == 0
    assert "browsers do not play" in capsys.readouterr().err
    described = json.loads((out / "summary.json").read_text())["video"]
    assert described["codec"] == "mpeg4" and "pip install 'realtime-fer[video]'" in described["note"]
    import cv2

    capture = cv2.VideoCapture(str(video))
    fourcc = int(capture.get(cv2.CAP_PROP_FOURCC)).to_bytes(4, "little").decode()
    capture.release()
    assert fourcc.lower() in {"mp4v", "fmp4"}  # MPEG-4 Part 2, as OpenCV writes and reads it


def test_a_failure_mid_video_leaves_no_partial_files(crossing, pipeline, tmp_path, monkeypatch):
    real, calls = pipeline.detector.detect, []

    def detect(frame):  # on a detection thread: its error reaches the video's loop
        calls.append(1)
        if len(calls) == 5:
            raise RuntimeError("boom")
        return real(frame)

    monkeypatch.setattr(pipeline.detector, "detect", detect)
    with pytest.raises(RuntimeError, match="boom"):
        analyse_video(crossing[0], tmp_path / "report", pipeline=pipeline, annotated=tmp_path / "a.avi")
    assert list((tmp_path / "report").iterdir()) == [] and not (tmp_path / "a.avi").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["report"]


def test_a_report_needs_tracking(crossing, tmp_path, capsys):
    assert main(["video", str(crossing[0]), "--report", str(tmp_path / "r"), "--no-tracking"]) == 2
    assert "needs tracking" in capsys.readouterr().err
