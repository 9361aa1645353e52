"""Bad input to ``realtime-fer`` gives one line on stderr and exit 2, never a traceback."""

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from realtime_fer import cli
from realtime_fer.cli import main
from realtime_fer.demo import demo_image
from realtime_fer.emotions import EMOTIONS
from realtime_fer.pipeline import Face

SRC = Path(__file__).resolve().parents[1] / "src"


def run(*args: str, **kwargs) -> subprocess.CompletedProcess:
    """``python -m realtime_fer.cli ARGS`` with this checkout's package and no FFmpeg log setting."""
    env = {k: v for k, v in os.environ.items() if k != "OPENCV_FFMPEG_LOGLEVEL"}
    env["PYTHONPATH"] = str(SRC)
    return subprocess.run([sys.executable, "-m", "realtime_fer.cli", *args], capture_output=True, text=True,
                          env=env, timeout=120, **kwargs)


def one_line(err: str) -> str:
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture
def photo(tmp_path) -> Path:
    path = tmp_path / "faces.jpg"
    cv2.imwrite(str(path), demo_image())
    return path


def test_an_empty_image_file(tmp_path, capsys):
    empty = tmp_path / "empty.jpg"
    empty.touch()
    assert main(["predict", str(empty)]) == 2
    assert one_line(capsys.readouterr().err) == f"realtime-fer predict: error: {empty}: empty file"


def test_out_must_be_a_folder(photo, tmp_path, capsys):
    existing = tmp_path / "existing"
    existing.write_text("a file")
    assert main(["predict", str(photo), "--out", str(existing)]) == 2
    captured = capsys.readouterr()
    assert one_line(captured.err) == (
        f"realtime-fer predict: error: --out {existing}: is a file; give a folder for the annotated copies"
    )
    assert captured.out == ""  # stopped before any image


def test_a_reader_that_leaves_early_gets_no_traceback(photo):
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    process = subprocess.Popen([sys.executable, "-m", "realtime_fer.cli", "predict", str(photo), "--json"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    process.stdout.close()  # as `| head -c1` does once it has its byte: every write fails
    _, err = process.communicate(timeout=120)
    assert (process.returncode, err.decode()) == (2, "")


@pytest.mark.parametrize("port", ["99999", "70000", "-1"])
def test_a_port_out_of_range(port, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["serve", "--port", port])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    # argparse's usage line, then its one error line
    assert err.splitlines()[-1] == (
        f"realtime-fer serve: error: argument --port: must be 0 to 65535, not {port}"
    )


def test_serve_checks_a_video_file_source_before_serving(tmp_path, capsys):
    missing = tmp_path / "missing.mp4"
    assert main(["serve", "--source", str(missing), "--port", "0"]) == 2
    captured = capsys.readouterr()
    assert one_line(captured.err) == f"realtime-fer serve: error: video file {str(missing)!r} not found"
    assert "serving on" not in captured.out


def test_a_file_that_is_no_video_is_one_line_without_ffmpeg_noise(tmp_path):
    fake = tmp_path / "not_a_video.jpg"
    fake.write_text("this is not a JPEG")
    result = run("video", str(fake), "--csv", str(tmp_path / "faces.csv"))
    assert result.returncode == 2
    assert one_line(result.stderr) == (
        f"realtime-fer video: error: cannot open video file {str(fake)!r}: "
        "is it a video in a format OpenCV can decode?"
    )
    assert not (tmp_path / "faces.csv").exists()


def test_serve_refuses_a_file_that_is_no_video(tmp_path, capsys):
    fake = tmp_path / "clip.mp4"
    fake.write_bytes(b"\x00not an mp4\xff" * 100)
    assert main(["serve", "--source", str(fake), "--port", "0"]) == 2
    assert one_line(capsys.readouterr().err).startswith("realtime-fer serve: error: cannot open video file")


def test_video_on_a_folder_points_to_batch(tmp_path, capsys):
    assert main(["video", str(tmp_path), "--csv", str(tmp_path / "faces.csv")]) == 2
    assert one_line(capsys.readouterr().err) == (
        f"realtime-fer video: error: {tmp_path}: is a folder; `realtime-fer batch` takes folders"
    )


def test_the_extra_hint_fits_the_install(monkeypatch):
    assert cli.extra_hint("train") == 'pip install -e ".[train]"'  # this checkout
    site = "/usr/lib/python3.11/site-packages/realtime_fer/cli.py"  # an installed wheel: no pyproject.toml
    monkeypatch.setattr(cli, "__file__", site)
    assert cli.extra_hint("cluster") == "pip install 'realtime-fer[cluster]'"


def test_the_table_columns_stay_aligned_with_wide_boxes():
    scores = {name: 1 / len(EMOTIONS) for name in EMOTIONS}
    faces = [Face((1, 2, 30, 40), "happy", 0.5, scores),
             Face((123456, 234567, 34567, 45678), "surprise", 0.25, scores, uncertain=True)]
    header, *rows = cli._face_table("wide.png", faces, EMOTIONS).splitlines()[1:]
    column = header.index("emotion")
    assert [row[column:].split()[0] for row in rows] == ["happy", "surprise"]
    assert {len(row) for row in rows} == {len(header)}


def test_python_dash_m_realtime_fer():
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    result = subprocess.run([sys.executable, "-m", "realtime_fer", "--version"], capture_output=True,
                            text=True, env=env, timeout=60)
    assert (result.returncode, result.stdout.split()[0]) == (0, "realtime-fer")


def test_the_license_is_an_spdx_string_for_pep_639():
    import tomllib

    pyproject = tomllib.loads((SRC.parent / "pyproject.toml").read_text())
    assert pyproject["project"]["license"] == "MIT"  # a TOML table makes setuptools warn (until 2027)
    assert "setuptools>=77" in pyproject["build-system"]["requires"]  # the first to read the string


def test_predict_demo_classifies_the_bundled_frame_and_writes_demo_jpg(tmp_path, capsys):
    assert main(["predict", "demo", "--out", str(tmp_path / "annotated"), "--json"]) == 0
    [result] = json.loads(capsys.readouterr().out)
    assert result["image"] == "demo" and len(result["faces"]) == 6
    assert cv2.imread(str(tmp_path / "annotated" / "demo.jpg")).shape == (480, 640, 3)


def test_one_message_for_a_value_that_is_not_one_of_a_set():
    from realtime_fer.choices import check_choice
    from realtime_fer.ferplus import vote_targets
    from realtime_fer.onnx_session import ProviderError, resolve_provider
    from realtime_fer.tta import check_tta

    assert check_choice("tta", "flip", ("none", "flip")) == "flip"
    for call, message in [
        (lambda: check_tta("twice"), "unknown tta 'twice'; use none, flip, ten"),
        (lambda: vote_targets(np.zeros((0, 10)), "vote"), "unknown label mode 'vote'; use "),
        (lambda: resolve_provider("gpu"), "unknown provider 'gpu'; use auto, cpu, "),
    ]:
        with pytest.raises(ValueError) as raised:
            call()
        assert str(raised.value).startswith(message)
    with pytest.raises(ProviderError):
        resolve_provider("gpu")
