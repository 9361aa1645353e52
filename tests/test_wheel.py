"""Install as a user would: ``python -m build``, a fresh venv without torch, ``pip install`` the wheel,
then predict and serve from an empty folder with the models the wheel carries.

Slow (a build and a venv, ~1 min; pip reuses its cache): deselect with ``-m "not wheel"``.
"""

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import cv2
import pytest

from realtime_fer.cli import main
from realtime_fer.demo import compose_frame, demo_faces
from realtime_fer.model_folder import int8_verdict
from tests.serving.conftest import BOXES

pytestmark = pytest.mark.wheel
ROOT = Path(__file__).resolve().parents[1]
# the int8 graph without the float one: a wheel install serves int8 (see pyproject.toml)
SERVING_FILES = {"model.int8.onnx", "model.json", "metrics.json", "quantization.json", "evaluation.json"}
MAX_WHEEL_BYTES = 40e6


def run(command: list, cwd: Path, env: dict, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, Path, dict]:
    """(wheel, venv bin folder, environment): the wheel built and installed into a fresh venv."""
    base = tmp_path_factory.mktemp("wheel")
    # nothing of the source tree may leak in: no PYTHONPATH to src/, no models folder from the env
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "REALTIME_FER_MODELS")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    built = run([sys.executable, "-m", "build", "--outdir", str(base / "dist"), str(ROOT)], base, env)
    assert built.returncode == 0, built.stderr[-3000:]
    [wheel] = (base / "dist").glob("*.whl")
    created = run([sys.executable, "-m", "venv", str(base / "venv")], base, env)
    assert created.returncode == 0, created.stderr
    bin_dir = base / "venv" / ("Scripts" if os.name == "nt" else "bin")
    pip = run([str(bin_dir / "python"), "-m", "pip", "install", "-q", str(wheel)], base, env, timeout=600)
    assert pip.returncode == 0, pip.stderr[-3000:]
    return wheel, bin_dir, env


@pytest.fixture(scope="module")
def face_image(tmp_path_factory) -> Path:
    """An empty folder holding one image: three demo faces (happy, sad, surprised)."""
    folder = tmp_path_factory.mktemp("empty")
    by_emotion = dict(demo_faces())
    faces = [by_emotion["happy"], by_emotion["sad"], by_emotion["surprise"]]
    cv2.imwrite(str(folder / "faces.png"), compose_frame(faces, BOXES))
    return folder / "faces.png"


def test_the_wheel_carries_the_serving_files_of_each_shipped_model_and_no_weights(installed):
    wheel = installed[0]
    assert wheel.stat().st_size < MAX_WHEEL_BYTES
    names = zipfile.ZipFile(wheel).namelist()
    shipped = sorted(p.name for p in (ROOT / "models").iterdir() if (p / "model.onnx").is_file())
    assert shipped
    for model in shipped:
        allowed, why = int8_verdict(ROOT / "models" / model)
        assert allowed, f"{model}: a wheel install could not serve it ({why})"
        expected = {name for name in SERVING_FILES if (ROOT / "models" / model / name).is_file()}
        prefix = f"realtime_fer/shipped_models/{model}/"
        assert {n.removeprefix(prefix) for n in names if n.startswith(prefix)} == expected, model
    assert not [n for n in names if n.endswith((".pt", ".csv", ".png")) and "shipped_models" in n]


def test_predict_from_an_empty_folder_labels_the_faces_as_the_source_tree_does(
    installed, face_image, capsys
):
    _, bin_dir, env = installed
    folder = face_image.parent
    assert run([str(bin_dir / "python"), "-c", "import torch"], folder, env).returncode != 0
    result = run([str(bin_dir / "realtime-fer"), "predict", "--json", face_image.name], folder, env)
    assert result.returncode == 0, result.stderr
    [got] = json.loads(result.stdout)
    assert len(got["faces"]) == 3 and all(face["emotion"] for face in got["faces"])
    assert main(["predict", "--json", str(face_image)]) == 0
    [expected] = json.loads(capsys.readouterr().out)
    assert [(f["box"], f["emotion"]) for f in got["faces"]] == [
        (f["box"], f["emotion"]) for f in expected["faces"]
    ]
    assert [f["emotion"] for f in got["faces"]][0] == "happy"


def test_serve_from_an_empty_folder_answers_the_api(installed, face_image):
    _, bin_dir, env = installed
    command = [str(bin_dir / "realtime-fer"), "serve", "--port", "0"]
    server = subprocess.Popen(command, cwd=face_image.parent, env=env, stdout=subprocess.PIPE, text=True)
    try:
        port = None
        for _ in range(5):  # a few lines, printed once the model is loaded and the port bound
            found = re.search(r"serving on http://127\.0\.0\.1:(\d+)/", server.stdout.readline())
            if found:
                port = int(found.group(1))
                break
        assert port, "serve printed no address"
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("POST", "/api/predict", face_image.read_bytes(), {"Content-Type": "image/png"})
        response = connection.getresponse()
        assert response.status == 200
        assert len(json.loads(response.read())["faces"]) == 3
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)


def test_training_commands_say_they_need_the_train_extra(installed, tmp_path):
    _, bin_dir, env = installed
    result = run([str(bin_dir / "realtime-fer"), "summary"], tmp_path, env)
    assert result.returncode == 2
    assert result.stderr == (
        "realtime-fer summary: error: summary needs the train extra (no torch): "
        "pip install 'realtime-fer[train]'\n"
    )
    version = run([str(bin_dir / "realtime-fer"), "--version"], tmp_path, env)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert version.stdout.strip() == f"realtime-fer {project['version']}"
