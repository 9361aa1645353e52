"""Execution providers: ``auto`` prefers an accelerator, ``cpu`` always works, and one that is not
installed is a one-line error (exit 2 on the command line)."""

import os
import subprocess
import sys
from pathlib import Path

import cv2
import onnxruntime as ort
import pytest

from realtime_fer import onnx_session
from realtime_fer.cli import main
from realtime_fer.detectors.blazeface import WEIGHTS, BlazeFaceDetector
from realtime_fer.onnx_session import (
    EXECUTION_PROVIDERS,
    ProviderError,
    available_providers,
    create_session,
    resolve_provider,
    session_provider,
)
from realtime_fer.pipeline import FaceEmotionPipeline
from realtime_fer.recognizer import EmotionRecognizer

SRC = Path(__file__).resolve().parents[2] / "src"
# a provider this machine's ONNX Runtime lacks (cuda on a CPU-only install)
MISSING = next((p for p in EXECUTION_PROVIDERS if p not in available_providers()), None)


def offering(monkeypatch, *providers: str) -> None:
    monkeypatch.setattr(ort, "get_available_providers", lambda: [*providers, "CPUExecutionProvider"])


def test_auto_prefers_an_accelerator_in_order_then_the_cpu(monkeypatch):
    offering(monkeypatch)
    assert resolve_provider("auto") == "cpu"
    offering(monkeypatch, "AzureExecutionProvider")  # not an accelerator
    assert resolve_provider("auto") == "cpu"
    offering(monkeypatch, "OpenVINOExecutionProvider", "TensorrtExecutionProvider")
    assert resolve_provider("auto") == "tensorrt"
    offering(monkeypatch, "TensorrtExecutionProvider", "CUDAExecutionProvider")
    assert resolve_provider("auto") == "cuda"


def test_a_missing_or_unknown_provider_names_what_is_there(monkeypatch):
    offering(monkeypatch, "CoreMLExecutionProvider")
    missing = r"'cuda' is not available .*onnxruntime-gpu.*; available: auto, cpu, coreml$"
    with pytest.raises(ProviderError, match=missing):
        resolve_provider("cuda")
    with pytest.raises(ProviderError, match="unknown provider 'gpu'; use auto, cpu, cuda"):
        resolve_provider("gpu")
    assert resolve_provider("coreml") == "coreml"


@pytest.mark.parametrize("provider", ["cpu", "auto"])
def test_cpu_and_auto_sessions_run(provider):
    session = create_session(WEIGHTS, provider=provider, threads=1)
    expected = "cpu" if provider == "cpu" else resolve_provider("auto")
    assert session_provider(session) == expected
    recognizer = EmotionRecognizer(provider=provider)
    assert recognizer.serving_choice["provider"] == expected
    face = cv2.imread(str(SRC / "realtime_fer/assets/happy_Training_37245508.png"), cv2.IMREAD_GRAYSCALE)
    assert recognizer.classify([face])[0].label in recognizer.classes


def test_the_detector_and_pipeline_take_the_provider(three_faces):
    assert session_provider(BlazeFaceDetector(provider="cpu").session) == "cpu"
    pipeline = FaceEmotionPipeline(provider="cpu")
    assert session_provider(pipeline.detector.session) == "cpu"
    assert pipeline.recognizer.serving_choice["provider"] == "cpu"
    assert len(pipeline.process(three_faces[0])) == 3


@pytest.mark.skipif(MISSING is None, reason="every provider is installed here")
def test_a_missing_provider_raises_before_anything_loads():
    with pytest.raises(ProviderError, match=f"'{MISSING}' is not available"):
        EmotionRecognizer(provider=MISSING)
    with pytest.raises(ProviderError):
        BlazeFaceDetector(provider=MISSING)


@pytest.mark.parametrize("provider", ["cpu", "auto"])
def test_cli_predict_with_a_provider(provider, tmp_path, three_faces, capsys):
    photo = tmp_path / "group.png"
    cv2.imwrite(str(photo), three_faces[0])
    assert main(["predict", str(photo), "--json", "--provider", provider]) == 0
    assert '"emotion"' in capsys.readouterr().out


@pytest.mark.skipif(MISSING is None, reason="every provider is installed here")
@pytest.mark.parametrize("command", [
    ["predict", "x.png"], ["video", "demo", "--max-frames", "1", "--csv", "faces.csv"],
    ["serve", "--port", "0"], ["evaluate", "--data", "x"],
])
def test_cli_missing_provider_is_one_line_exit_2(command, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(SRC), "REALTIME_FER_CACHE": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "realtime_fer.cli", *command, "--provider", MISSING],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith(f"realtime-fer {command[0]}: error: provider '{MISSING}' is not available")


def test_the_web_app_serves_on_the_provider_and_healthz_says_so():
    from realtime_fer.web import create_app

    app = create_app({"TESTING": True, "PROVIDER": "cpu", "TTA": "none"})
    health = app.test_client().get("/healthz").json
    assert health["serving_choice"]["provider"] == "cpu"
    assert health["serving_choice"]["precision"] == health["serving"]
    assert session_provider(app.extensions["realtime_fer"].video_pipeline.detector.session) == "cpu"


def test_onnx_session_is_the_only_place_sessions_are_made():
    made = [p for p in (SRC / "realtime_fer").rglob("*.py") if "InferenceSession(" in p.read_text()]
    assert made == [Path(onnx_session.__file__).resolve()]
