"""precision="auto": the faster of fp32 and int8 here, timed once and cached, int8 only where its
accuracy report allows; what was chosen and why is on the recognizer (and so in /healthz)."""

import json
import shutil

import pytest

from realtime_fer import graph_timing
from realtime_fer.cpu import cpu_model
from realtime_fer.data import cache_dir
from realtime_fer.model_folder import (
    INT8_ONNX_FILE,
    ONNX_FILE,
    QUANTIZATION_FILE,
    SPEC_FILE,
    ModelError,
    resolve_model_dir,
)
from realtime_fer.recognizer import EmotionRecognizer

MODEL = "ferplus"  # shipped with an int8 graph its report allows


@pytest.fixture
def fake_timing(monkeypatch):
    """Timings set by the test (ms by precision); ``calls`` counts how often graphs were timed."""

    class Fake:
        ms = {"fp32": 1.0, "int8": 2.0}
        calls = 0

        def __call__(self, sessions, batch):
            assert set(sessions) == set(self.ms) and batch.shape[1:] == (1, 48, 48)
            self.calls += 1
            return dict(self.ms)

    fake = Fake()
    monkeypatch.setattr(graph_timing, "time_sessions", fake)
    return fake


@pytest.fixture
def folder(tmp_path):
    """A copy of the shipped model's serving files, whose report a test may rewrite."""
    source, copy = resolve_model_dir(MODEL), tmp_path / "model"
    copy.mkdir()
    for name in (ONNX_FILE, INT8_ONNX_FILE, SPEC_FILE, QUANTIZATION_FILE):
        shutil.copy(source / name, copy / name)
    return copy


def test_the_faster_graph_is_served_when_it_is_fp32(fake_timing):
    recognizer = EmotionRecognizer(MODEL)
    assert recognizer.precision == "fp32" and recognizer.serving.startswith("fp32")
    assert recognizer.session.get_inputs()[0].name == recognizer.input_name
    choice = recognizer.serving_choice
    assert choice["ms_per_face"] == {"fp32": 1.0, "int8": 2.0}
    assert choice["reason"].startswith("faster here (fp32 1.00 ms, int8 2.00 ms a face with 2 views)")
    assert "int8 changes accuracy by -0.03 points" in choice["reason"]
    assert choice["provider"] == "cpu" and choice["cpu"] == cpu_model()
    fake_timing.ms = {"fp32": 2.0, "int8": 1.0}
    assert EmotionRecognizer(MODEL, tta="none").precision == "int8"  # another setting: timed anew


def test_the_choice_is_cached_and_reused(fake_timing):
    assert EmotionRecognizer(MODEL).precision == "fp32"
    fake_timing.ms = {"fp32": 2.0, "int8": 1.0}  # would now choose int8, if timed again
    again = EmotionRecognizer(MODEL)
    assert fake_timing.calls == 1 and again.precision == "fp32"
    assert "cached" in again.serving_choice["reason"]
    stored = json.loads((cache_dir() / graph_timing.CACHE_FILE).read_text())
    [entry] = stored["choices"].values()
    assert entry["precision"] == "fp32" and entry["cpu"] == cpu_model()


def test_a_changed_graph_file_is_timed_again(fake_timing, folder):
    EmotionRecognizer(folder)
    # other weights (seven classes, but only the faster fp32 graph is checked and served)
    shutil.copy(resolve_model_dir("fast") / INT8_ONNX_FILE, folder / INT8_ONNX_FILE)
    EmotionRecognizer(folder)
    assert fake_timing.calls == 2


def test_a_broken_cache_is_ignored_and_replaced(fake_timing):
    cache_dir().mkdir(parents=True, exist_ok=True)
    (cache_dir() / graph_timing.CACHE_FILE).write_text("{not json")
    assert EmotionRecognizer(MODEL).precision == "fp32" and fake_timing.calls == 1
    stored = json.loads((cache_dir() / graph_timing.CACHE_FILE).read_text())
    assert stored["version"] == graph_timing.CACHE_VERSION and len(stored["choices"]) == 1


def test_int8_is_never_timed_where_its_report_shows_a_loss(fake_timing, folder):
    report = json.loads((folder / QUANTIZATION_FILE).read_text())
    (folder / QUANTIZATION_FILE).write_text(json.dumps({**report, "accuracy_change": -0.02}))
    fake_timing.ms = {"fp32": 9.0, "int8": 1.0}
    recognizer = EmotionRecognizer(folder)
    assert recognizer.precision == "fp32" and fake_timing.calls == 0
    assert recognizer.serving_choice["reason"] == (
        "int8 changes accuracy by -2.00 points (allowed: down to -0.50)"
    )
    (folder / INT8_ONNX_FILE).unlink()
    assert "no int8 graph" in EmotionRecognizer(folder).serving_choice["reason"]


def test_a_folder_with_only_the_int8_graph_serves_it_as_a_wheel_install_does(fake_timing, folder):
    (folder / ONNX_FILE).unlink()
    assert resolve_model_dir(folder) == folder
    recognizer = EmotionRecognizer(folder)
    assert recognizer.precision == "int8" and fake_timing.calls == 0
    assert recognizer.serving_choice["reason"].endswith("; the only graph here")
    with pytest.raises(ModelError, match=r"model\.onnx: missing \(a wheel install carries only the int8"):
        EmotionRecognizer(folder, precision="fp32")
    report = json.loads((folder / QUANTIZATION_FILE).read_text())
    (folder / QUANTIZATION_FILE).write_text(json.dumps({**report, "accuracy_change": -0.02}))
    with pytest.raises(ModelError, match="missing, and the int8 graph may not be served: int8 changes"):
        EmotionRecognizer(folder)


def test_asked_for_precisions_are_not_timed(fake_timing):
    assert EmotionRecognizer(MODEL, precision="int8").serving_choice["reason"] == "int8 asked for"
    assert EmotionRecognizer(MODEL, precision="fp32").serving_choice["ms_per_face"] is None
    assert fake_timing.calls == 0


def test_real_timing_serves_the_graph_it_measured_faster():
    recognizer = EmotionRecognizer(MODEL, tta="none")
    ms = recognizer.serving_choice["ms_per_face"]
    assert set(ms) == {"fp32", "int8"} and all(value > 0 for value in ms.values())
    assert recognizer.precision == min(ms, key=ms.get)


def test_summary_says_what_is_served_here_and_why(fake_timing, capsys):
    pytest.importorskip("torch")
    from realtime_fer.cli import main

    assert main(["summary", "--model", MODEL]) == 0
    out = capsys.readouterr().out
    assert "served here: fp32 on cpu: faster here (fp32 1.00 ms, int8 2.00 ms a face with 2 views)" in out
