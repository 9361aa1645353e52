"""``realtime-fer batch`` (:mod:`realtime_fer.batch`) and ``predict`` on folders and globs, on tiny
clips and stills made from the bundled faces."""

import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import cv2
import pytest

from realtime_fer import batch as batch_module
from realtime_fer.batch import Settings, collect, run_batch
from realtime_fer.cli import main, predict_csv_fields
from realtime_fer.demo import compose_frame, demo_faces, write_demo_clip
from realtime_fer.emotions import FERPLUS_CLASSES
from realtime_fer.model_folder import DEFAULT_MODEL
from tests.clips import crossing_boxes, write_clip

SETTINGS = Settings(DEFAULT_MODEL, "blazeface")


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def still(path: Path, count: int = 2) -> Path:
    faces = [face for _, face in demo_faces()][::4][:count]
    boxes = [(20 + 150 * i, 60, 120, 120) for i in range(count)]
    cv2.imwrite(str(path), compose_frame(faces, boxes, (320, 240)))
    return path


@pytest.fixture
def inputs(tmp_path) -> Path:
    """``in/`` with two clips (one in a subfolder), a still, a corrupt .mp4 and a text file."""
    root = tmp_path / "in"
    (root / "day2").mkdir(parents=True)
    write_clip(root / "a.avi", crossing_boxes(16))
    write_clip(root / "day2" / "b.mp4", crossing_boxes(12), emotions=("sad", "angry"))
    still(root / "photo.png")
    (root / "broken.mp4").write_bytes(os.urandom(3000))
    (root / "notes.txt").write_text("not a video")
    return root


def test_collect_searches_folders_and_globs_and_names_what_is_missing(inputs):
    names = [p.relative_to(inputs).as_posix() for p in collect([str(inputs)])]
    assert names == ["a.avi", "broken.mp4", "day2/b.mp4", "photo.png"]
    assert collect([str(inputs / "**" / "*.mp4"), str(inputs / "a.avi")]) == [
        inputs / "a.avi", inputs / "broken.mp4", inputs / "day2" / "b.mp4"]
    with pytest.raises(batch_module.BatchError, match="no such file"):
        collect([str(inputs / "gone")])
    with pytest.raises(batch_module.BatchError, match="matches no"):
        collect([str(inputs / "*.mov")])


def test_a_batch_records_the_corrupt_file_and_finishes_the_others(inputs, tmp_path):
    out = tmp_path / "out"
    result = run_batch([str(inputs)], out, SETTINGS)
    assert (result.done, result.skipped, result.failed) == (3, 0, 1)
    index = {Path(row["file"]).name: row for row in read_csv(out / "index.csv")}
    assert tuple(read_csv(out / "index.csv")[0]) == batch_module.INDEX_FIELDS
    assert index["broken.mp4"]["status"] == "error" and index["broken.mp4"]["error"]
    assert index["broken.mp4"]["kind"] == "video"
    assert [(index[n]["kind"], index[n]["frames"]) for n in ("a.avi", "b.mp4", "photo.png")] == [
        ("video", "16"), ("video", "12"), ("image", "1")]
    assert index["photo.png"]["faces"] == "2"
    folders = sorted(p.name for p in out.iterdir() if p.is_dir())
    assert folders == ["a.avi", "day2__b.mp4", "photo.png"]  # the broken file left nothing
    assert (out / "a.avi" / "timeline.png").is_file() and (out / "a.avi" / "done.json").is_file()
    faces = read_csv(out / "faces.csv")
    assert tuple(faces[0])[:4] == ("file", "frame", "time_s", "track_id")
    for name in ("a.avi", "b.mp4", "photo.png"):
        mine = [row for row in faces if Path(row["file"]).name == name]
        assert len(mine) == int(index[name]["faces"]) > 0
    tracks = read_csv(out / "tracks.csv")
    assert sorted(Path(row["file"]).name for row in tracks) == ["a.avi", "a.avi", "b.mp4", "b.mp4"]


def test_a_batch_stopped_half_way_does_only_the_rest_when_run_again(inputs, tmp_path, monkeypatch):
    out = tmp_path / "out"
    real, analysed = batch_module._video, []

    def video(path, out_dir, pipeline):
        analysed.append(Path(path).name)
        if len(analysed) == 3:  # the batch is killed in the middle of its third video
            raise KeyboardInterrupt
        return real(path, out_dir, pipeline)

    monkeypatch.setattr(batch_module, "_video", video)
    with pytest.raises(KeyboardInterrupt):
        run_batch([str(inputs)], out, SETTINGS)
    assert not (out / "index.csv").exists()
    first = (out / "a.avi" / "faces.csv").stat().st_mtime_ns
    analysed.clear()
    result = run_batch([str(inputs)], out, SETTINGS)
    assert analysed == ["broken.mp4", "b.mp4"]  # a.avi was finished; photo.png is no video
    assert (result.done, result.skipped, result.failed) == (2, 1, 1)
    assert (out / "a.avi" / "faces.csv").stat().st_mtime_ns == first
    assert [row["status"] for row in read_csv(out / "index.csv")] == ["done", "error", "done", "done"]


@pytest.mark.slow
def test_twenty_files_one_corrupt_killed_half_way_then_only_the_rest(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(19):  # short clips of the demo scene's real faces, each starting elsewhere
        write_demo_clip(folder / f"clip{i:02}.avi", 6, start=5 * i)
    (folder / "broken.mp4").write_bytes(os.urandom(3000))
    out = tmp_path / "out"
    command = [sys.executable, "-m", "realtime_fer.cli", "batch", str(folder), "--out", str(out)]
    command += ["--workers", "1"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 180
    while len(list(out.glob("*/done.json"))) < 6 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    process.kill()  # SIGKILL: no clean-up of any kind
    process.wait()
    finished = {path.parent.name for path in out.glob("*/done.json")}
    assert 6 <= len(finished) < 19, "the batch was not stopped half way"
    written = {name: (out / name / "faces.csv").stat().st_mtime_ns for name in finished}
    again = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert again.returncode == 2  # one file failed
    assert f"{19 - len(finished)} files done, {len(finished)} done before, 1 failed" in again.stdout
    index = read_csv(out / "index.csv")
    assert len(index) == 20 and [row["status"] for row in index].count("done") == 19
    assert [row["file"] for row in index if row["status"] == "error"] == [str(folder / "broken.mp4")]
    assert len(list(out.glob("*/done.json"))) == 19 and len(list(out.glob("*/summary.json"))) == 19
    assert {name: (out / name / "faces.csv").stat().st_mtime_ns for name in finished} == written


@pytest.mark.slow
def test_two_worker_processes_write_what_one_writes(inputs, tmp_path, capsys):
    (inputs / "broken.mp4").unlink()
    one, two = tmp_path / "one", tmp_path / "two"
    assert main(["batch", str(inputs), "--out", str(one), "--workers", "1"]) == 0
    assert main(["batch", str(inputs), "--out", str(two), "--workers", "2"]) == 0
    assert "3 files done, 0 done before, 0 failed" in capsys.readouterr().out
    for name in ("faces.csv", "tracks.csv", "index.csv"):
        assert (one / name).read_bytes() == (two / name).read_bytes()


def test_the_detector_options_reach_the_workers(inputs, tmp_path, capsys):
    (inputs / "broken.mp4").unlink()
    assert main(["batch", str(inputs / "photo.png"), "--out", str(tmp_path / "plain"), "--workers", "1"]) == 0
    assert main(["batch", str(inputs / "photo.png"), "--out", str(tmp_path / "big"), "--workers", "1",
                 "--min-face", "200", "--provider", "cpu"]) == 0
    found = [read_csv(tmp_path / run / "index.csv")[0]["faces"] for run in ("plain", "big")]
    assert found == ["2", "0"]  # no face in the photo is 200 px: the option reached the detector


@pytest.mark.slow
def test_a_dask_cluster_writes_what_one_local_process_writes(inputs, tmp_path, capsys):
    """Two Dask worker processes (a LocalCluster the batch starts) write the combined CSVs and the index
    byte for byte as one local process, and record the corrupt file the same; each file's summary.json
    differs only in its wall times. Run again through a running scheduler's --address with one file's
    done.json gone, it does that file and skips the rest."""
    distributed = pytest.importorskip("distributed")
    local, remote = tmp_path / "local", tmp_path / "dask"
    assert main(["batch", str(inputs), "--out", str(local), "--workers", "1"]) == 2  # broken.mp4 fails
    assert main(["batch", str(inputs), "--out", str(remote), "--workers", "2", "--engine", "dask"]) == 2
    assert capsys.readouterr().out.splitlines()[-1].startswith("3 files done, 0 done before, 1 failed")
    for name in ("faces.csv", "tracks.csv", "index.csv"):
        assert (local / name).read_bytes() == (remote / name).read_bytes(), name
    summaries = sorted(p.relative_to(local) for p in local.glob("*/summary.json"))
    assert len(summaries) == 3
    assert summaries == sorted(p.relative_to(remote) for p in remote.glob("*/summary.json"))
    timing = {"elapsed_s", "frames_per_s"}
    for path in summaries:
        ours, theirs = (json.loads((root / path).read_text()) for root in (local, remote))
        assert {k: v for k, v in ours.items() if k not in timing} == {
            k: v for k, v in theirs.items() if k not in timing}
    (remote / "photo.png" / "done.json").unlink()
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        assert main(["batch", str(inputs), "--out", str(remote), "--engine", "dask",
                     "--address", cluster.scheduler_address]) == 2
    assert "1 files done, 2 done before, 1 failed" in capsys.readouterr().out
    for name in ("faces.csv", "tracks.csv", "index.csv"):
        assert (local / name).read_bytes() == (remote / name).read_bytes(), name


def test_batch_engine_errors_are_one_line(tmp_path, capsys, monkeypatch):
    photo = str(still(tmp_path / "p.png", 1))
    out = str(tmp_path / "out")
    assert main(["batch", photo, "--out", out, "--address", "tcp://127.0.0.1:8786"]) == 2
    assert capsys.readouterr().err == (
        "realtime-fer batch: error: --address names a Dask scheduler: it needs --engine dask\n")
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if the cluster extra were not installed
    assert main(["batch", photo, "--out", out, "--engine", "dask"]) == 2
    assert capsys.readouterr().err == ("realtime-fer batch: error: --engine dask needs the cluster extra "
                                       "(no distributed): pip install -e \".[cluster]\"\n")
    assert not (tmp_path / "out").exists()


def test_a_dask_scheduler_that_does_not_answer_is_one_line(tmp_path, capsys, monkeypatch):
    pytest.importorskip("distributed")
    from realtime_fer import engines

    monkeypatch.setattr(engines, "CONNECT_TIMEOUT_S", 1)
    start = time.monotonic()
    args = ["batch", str(still(tmp_path / "p.png", 1)), "--out", str(tmp_path / "out"), "--engine", "dask",
            "--address", "tcp://127.0.0.1:9"]
    assert main(args) == 2
    assert time.monotonic() - start < 20
    err = capsys.readouterr().err  # one line, and no progress bar before it
    assert err.startswith("realtime-fer batch: error: --address tcp://127.0.0.1:9: no Dask scheduler answers")
    assert err.count("\n") == 1
    assert main([*args[:-1], "127.0.0.1"]) == 2
    assert capsys.readouterr().err == (
        "realtime-fer batch: error: --address 127.0.0.1: missing port number in address '127.0.0.1'\n")


def test_batch_input_errors_are_one_line(tmp_path, capsys):
    assert main(["batch", str(tmp_path / "gone"), "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err.strip().endswith("gone: no such file or folder")
    assert main(["batch", str(tmp_path / "*.mov"), "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_predict_takes_a_folder_and_writes_a_csv(tmp_path, capsys):
    folder = tmp_path / "photos"
    (folder / "more").mkdir(parents=True)
    still(folder / "one.png", 1)
    still(folder / "more" / "two.jpg", 2)
    (folder / "readme.txt").write_text("skipped: not an image name")
    table = tmp_path / "faces.csv"
    assert main(["predict", str(folder), "--csv", str(table)]) == 0
    out = capsys.readouterr().out
    assert "one.png: 1 face" in out and "two.jpg: 2 faces" in out
    rows = read_csv(table)
    assert tuple(rows[0]) == predict_csv_fields(FERPLUS_CLASSES)
    assert [(Path(r["image"]).name, r["face"]) for r in rows] == [("two.jpg", "1"), ("two.jpg", "2"),
                                                                 ("one.png", "1")]
    for row in rows:
        assert sum(float(row[e]) for e in FERPLUS_CLASSES) == pytest.approx(1.0, abs=2e-3)


def test_predict_names_an_empty_folder_and_goes_on(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    photo = still(tmp_path / "p.png", 1)
    assert main(["predict", str(tmp_path / "empty"), str(photo)]) == 2
    captured = capsys.readouterr()
    assert "empty: no images in this folder" in captured.err and "p.png: 1 face" in captured.out
