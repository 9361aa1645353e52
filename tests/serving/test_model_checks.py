"""A model folder is checked when it is loaded: model.json's fields, and the ONNX graph's input and
output against them, so a bad model stops ``serve`` with one line instead of a 500 per face."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from realtime_fer.cli import main
from realtime_fer.model_folder import (
    METRICS_FILE,
    ModelError,
    ModelFolder,
    accuracy_key,
    available_models,
    read_json,
    resolve_model_dir,
)
from realtime_fer.recognizer import EmotionRecognizer

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402


def model_folder(tmp_path: Path, graph=None, **spec_changes) -> Path:
    """A copy of the shipped default model's folder, with its graph or model.json fields replaced."""
    folder = tmp_path / "model"
    shipped = resolve_model_dir("accurate")
    folder.mkdir()
    spec = json.loads((shipped / "model.json").read_text())
    spec.update(spec_changes)
    spec = {k: v for k, v in spec.items() if v is not None}
    (folder / "model.json").write_text(json.dumps(spec))
    if graph is None:
        shutil.copy(shipped / "model.onnx", folder / "model.onnx")
    else:
        onnx.save(graph, folder / "model.onnx")
    return folder


def mean_graph(input_shape: list, outputs: int):
    """faces -> the mean pixel, repeated ``outputs`` times and softmaxed: a valid graph of any shape."""
    nodes = [
        helper.make_node("ReduceMean", ["faces", "axes"], ["mean"], keepdims=0),
        helper.make_node("Tile", ["mean", "repeats"], ["tiled"]),
        helper.make_node("Reshape", ["tiled", "shape"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
    ]
    init = [
        helper.make_tensor("axes", TensorProto.INT64, [3], [1, 2, 3]),
        helper.make_tensor("repeats", TensorProto.INT64, [1], [outputs]),
        helper.make_tensor("shape", TensorProto.INT64, [2], [-1, outputs]),
    ]
    graph = helper.make_graph(
        nodes, "mean", [helper.make_tensor_value_info("faces", TensorProto.FLOAT, input_shape)],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", outputs])], init,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=8)


def test_a_graph_of_the_right_shape_passes(tmp_path):
    folder = model_folder(tmp_path, mean_graph(["batch", 1, 48, 48], 7))
    recognizer = EmotionRecognizer(folder, precision="fp32")
    assert recognizer.predict_proba(np.zeros((2, 48, 48), np.uint8)).shape == (2, 7)


def test_a_graph_taking_another_input_size_is_refused(tmp_path):
    folder = model_folder(tmp_path, mean_graph(["batch", 1, 64, 64], 7))
    with pytest.raises(ModelError, match=r"takes \['batch', 1, 64, 64\], but model.json says \(N, 1, 48"):
        EmotionRecognizer(folder, precision="fp32")


def test_a_graph_giving_another_number_of_classes_is_refused(tmp_path):
    folder = model_folder(tmp_path, mean_graph(["batch", 1, 48, 48], 5))
    with pytest.raises(ModelError, match="not 7 probabilities"):
        EmotionRecognizer(folder, precision="fp32")


@pytest.mark.parametrize("shape", [None, [48, 48], [3, 48, 48], [1, 48, 40], ["1", 48, 48]])
def test_a_bad_input_shape_in_model_json_is_refused(tmp_path, shape):
    folder = model_folder(tmp_path, input=None if shape is None else {"shape": shape})
    with pytest.raises(ModelError, match=r"input.shape must be \[1, S, S\]"):
        EmotionRecognizer(folder, precision="fp32")


def test_serve_stops_with_one_line_and_exit_2(tmp_path, capsys):
    folder = model_folder(tmp_path, mean_graph(["batch", 1, 64, 64], 7))
    assert main(["serve", "--model", str(folder), "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("realtime-fer serve: error: ") and "takes" in err


def test_each_shipped_model_records_the_accuracy_of_the_tta_it_is_served_with():
    assert available_models()
    for name in available_models():
        folder = ModelFolder.open(name)
        metrics = read_json(folder.path / METRICS_FILE)
        assert accuracy_key(metrics["config"]["val_split"], folder.serving_tta) in metrics["accuracy"], name
