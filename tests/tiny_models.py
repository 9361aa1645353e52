"""Tiny model folders written by tests: an eight-class FER+ model whose ONNX graph is one random linear
layer and a softmax over the 48x48 face, so every serving path can be driven with classes other than
FER-2013's seven without training anything."""

import json
from pathlib import Path

import numpy as np

from realtime_fer.emotions import FERPLUS_CLASSES
from realtime_fer.model_folder import ONNX_FILE, SPEC_FILE

INPUT_SIZE = 48


def linear_graph(classes: int, seed: int = 0):
    """faces (N, 1, 48, 48) -> softmax(flatten(faces) @ W + b): random weights, large enough that faces
    get different, clearly unequal probabilities; the last class (FER+'s contempt) is favoured, so that
    it wins on some faces."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    weights = rng.normal(0, 0.05, (INPUT_SIZE * INPUT_SIZE, classes)).astype(np.float32)
    bias = rng.normal(0, 0.5, classes).astype(np.float32)
    bias[-1] += 3.0
    nodes = [
        helper.make_node("Flatten", ["faces"], ["flat"], axis=1),
        helper.make_node("Gemm", ["flat", "weights", "bias"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        "linear",
        [helper.make_tensor_value_info("faces", TensorProto.FLOAT, ["batch", 1, INPUT_SIZE, INPUT_SIZE])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", classes])],
        [numpy_helper.from_array(weights, "weights"), numpy_helper.from_array(bias, "bias")],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=8)


def write_model(folder: Path, classes=FERPLUS_CLASSES, graph_classes: int | None = None, **serving) -> Path:
    """A model folder: ``model.onnx`` (:func:`linear_graph`, ``graph_classes`` outputs, default one per
    class) and a ``model.json`` naming ``classes``, with ``serving`` = ``{"tta": "none", **serving}``."""
    import onnx

    folder.mkdir(parents=True, exist_ok=True)
    onnx.save(linear_graph(graph_classes or len(classes)), folder / ONNX_FILE)
    spec = {
        "format": "realtime-fer/1",
        "architecture": "linear",
        "config": {},
        "classes": list(classes),
        "input": {"shape": [1, INPUT_SIZE, INPUT_SIZE], "range": [0.0, 1.0], "layout": "NCHW"},
        "output": "probabilities",
        "serving": {"tta": "none", **serving},
    }
    (folder / SPEC_FILE).write_text(json.dumps(spec, indent=2))
    return folder
