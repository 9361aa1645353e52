"""int8 quantization: a loadable, smaller graph close to fp32, its accuracy report, and clear errors."""

import json
import shutil

import numpy as np
import onnx
import pytest

from realtime_fer import data
from realtime_fer.cli import main
from realtime_fer.model_folder import (
    INT8_ONNX_FILE,
    ModelError,
    ModelFolder,
    available_models,
    resolve_model_dir,
)
from realtime_fer.quantize import WEIGHT_LIMIT
from realtime_fer.recognizer import EmotionRecognizer


def largest_int8_weight(graph_file) -> int:
    """The largest |value| among a graph's int8 tensors (its quantized weights)."""
    tensors = (onnx.numpy_helper.to_array(t) for t in onnx.load(graph_file).graph.initializer)
    return max(int(np.abs(t.astype(np.int16)).max()) for t in tensors if t.dtype == np.int8)


@pytest.fixture
def model_copy(trained_run, tmp_path):
    """The session's tiny trained model in a folder of its own (quantizing writes next to it)."""
    folder = tmp_path / "model"
    folder.mkdir()
    for name in ("model.onnx", "model.json"):
        shutil.copy(trained_run / name, folder / name)
    return folder


def test_quantize_writes_an_int8_graph_close_to_fp32(model_copy, kaggle_root, capsys):
    args = ["quantize", "--model", str(model_copy), "--data", str(kaggle_root), "--calibration-faces", "40"]
    assert main(args) == 0
    assert "public_test accuracy (28 faces)" in capsys.readouterr().out

    report = json.loads((model_copy / "quantization.json").read_text())
    assert report["calibration"]["faces"] == 40
    assert report["evaluation"]["split"] == "public_test" and report["evaluation"]["faces"] == 28
    assert report["accuracy_change"] == round(report["accuracy"]["int8"] - report["accuracy"]["fp32"], 4)
    # 8-bit weights: the graph really is quantized, not a float copy
    assert report["size_bytes"]["int8"] < report["size_bytes"]["fp32"] / 3
    assert "QuantizeLinear" in {node.op_type for node in onnx.load(model_copy / INT8_ONNX_FILE).graph.node}
    # 7-bit weights: CPUs without VNNI would saturate int16 sums of uint8 x int8 products otherwise
    assert largest_int8_weight(model_copy / INT8_ONNX_FILE) <= WEIGHT_LIMIT

    faces = data.load(kaggle_root, "public_test").images
    fp32 = EmotionRecognizer(model_copy, precision="fp32").predict_proba(faces)
    int8 = EmotionRecognizer(model_copy, precision="int8").predict_proba(faces)
    assert int8.shape == fp32.shape == (28, 7)
    np.testing.assert_allclose(int8.sum(1), 1, atol=1e-5)  # the softmax stays in float
    # a 1-epoch model is barely off uniform, so measure the int8 error against how far fp32 is from it
    assert np.abs(int8 - fp32).max() < 0.1 * np.abs(fp32 - 1 / 7).max()


@pytest.mark.parametrize("model", available_models())
def test_shipped_int8_graphs_compute_the_same_on_every_x86_cpu(model):
    assert largest_int8_weight(resolve_model_dir(model) / INT8_ONNX_FILE) <= WEIGHT_LIMIT


def test_auto_precision_serves_int8_only_where_its_report_shows_no_real_loss(model_copy, kaggle_root):
    assert EmotionRecognizer(model_copy).precision == "fp32"  # nothing quantized yet
    args = ["quantize", "--model", str(model_copy), "--data", str(kaggle_root), "--calibration-faces", "40"]
    assert main(args) == 0
    report_file = model_copy / "quantization.json"
    report = json.loads(report_file.read_text())
    allowed = ["fp32", "int8"]  # auto serves the faster of them (tests/serving/test_precision_choice.py)
    for change, expected in ((0.0, allowed), (-0.005, allowed), (-0.006, ["fp32"]), (0.01, allowed)):
        report_file.write_text(json.dumps({**report, "accuracy_change": change}))
        assert list(ModelFolder.open(model_copy).graphs("auto")[0]) == expected, change
        assert EmotionRecognizer(model_copy).precision in expected
    assert EmotionRecognizer(model_copy, precision="fp32").precision == "fp32"
    with pytest.raises(ValueError, match="unknown precision 'fp16'; use auto, fp32, int8"):
        EmotionRecognizer(model_copy, precision="fp16")


def test_int8_without_a_quantized_graph_says_how_to_make_one(model_copy):
    with pytest.raises(ModelError, match="realtime-fer quantize"):
        EmotionRecognizer(model_copy, precision="int8")


def test_quantize_unknown_model_is_a_clear_error(kaggle_root, capsys):
    assert main(["quantize", "--model", "no-such-model", "--data", str(kaggle_root)]) == 2
    assert "model 'no-such-model' not found" in capsys.readouterr().err


def test_quantize_needs_at_least_one_calibration_face(model_copy, kaggle_root, capsys):
    args = ["quantize", "--model", str(model_copy), "--data", str(kaggle_root), "--calibration-faces", "0"]
    assert main(args) == 2
    assert "--calibration-faces must be at least 1" in capsys.readouterr().err
    assert not (model_copy / INT8_ONNX_FILE).exists()
