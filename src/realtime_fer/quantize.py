"""Post-training int8 quantization of a model folder's ONNX graph (ONNX Runtime static quantization).

Activations are calibrated on a few hundred training faces, weights are quantized per output channel,
and the result is ``model.int8.onnx`` next to ``model.onnx``, with ``quantization.json`` recording the
accuracy of both graphs on the same test faces (what serving int8 would cost). Needs ``onnx``
(the ``train`` extra); serving an int8 graph does not: ``EmotionRecognizer(model, precision="int8")``.
"""

import json
import os
import tempfile
from pathlib import Path

import numpy as np
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quant_pre_process,
    quantize_static,
)

from realtime_fer import data
from realtime_fer.evaluate import classification_report
from realtime_fer.model_folder import INT8_ONNX_FILE, ONNX_FILE, QUANTIZATION_FILE, resolve_model_dir
from realtime_fer.preprocess import to_model_input
from realtime_fer.recognizer import EmotionRecognizer

# The ops between two convolutions are quantized too, so activations stay int8 from one to the next
# instead of being dequantized and quantized again; the Softmax stays float, so the probabilities
# still sum to 1.
QUANTIZED_OPS = ("Conv", "Gemm", "MatMul", "Relu", "MaxPool", "GlobalAveragePool", "Reshape", "Flatten")
# QDQ ran exactly as fast as QOperator here (ONNX Runtime fuses each pair into the same int8 kernels)
# and is its recommended format; per-channel weights cost ~2% speed at batch 1 and halve the largest
# probability error of the paper model (0.064 -> 0.037 on PublicTest).
QUANT_FORMAT = QuantFormat.QDQ
PER_CHANNEL = True
# Weights use 7 of their 8 bits. x86 CPUs without VNNI (AVX2 only: AMD Zen 1-3, older Xeons) multiply
# uint8 x int8 with VPMADDUBSW, which adds two products into an int16 and saturates: with full-range
# weights `fast` lost 4 points there (67.34% -> 63.33% PublicTest) and nothing on a VNNI CPU. Within
# +-64, two products stay below 2**15, so every CPU computes the same, exact result.
WEIGHT_LIMIT = 64  # what quantize_static's reduce_range gives


class FaceCalibrationReader(CalibrationDataReader):
    """Feeds uint8 grey faces to the calibrator in batches, through the serving preprocessing."""

    def __init__(self, faces: np.ndarray, input_name: str, batch_size: int = 64):
        self.faces = faces
        self.input_name = input_name
        self.batch_size = batch_size
        self.position = 0

    def get_next(self) -> dict[str, np.ndarray] | None:
        if self.position >= len(self.faces):
            return None
        batch = self.faces[self.position : self.position + self.batch_size]
        self.position += self.batch_size
        return {self.input_name: to_model_input(batch)}

    def rewind(self) -> None:
        self.position = 0


def sample_faces(faces: data.FaceSet, count: int, seed: int = 0) -> np.ndarray:
    """``count`` faces drawn at random without replacement (all of them when there are fewer)."""
    rng = np.random.default_rng(seed)
    chosen = rng.permutation(len(faces))[:count]
    return faces.images[np.sort(chosen)]


def quantize_model(
    model_dir: str | os.PathLike,
    calibration: np.ndarray,
    quant_format: QuantFormat = QUANT_FORMAT,
    per_channel: bool = PER_CHANNEL,
) -> Path:
    """Write ``model.int8.onnx`` from a folder's ``model.onnx``, calibrated on uint8 faces (N, 48, 48)."""
    model_dir = resolve_model_dir(model_dir)
    target = model_dir / INT8_ONNX_FILE
    with tempfile.TemporaryDirectory() as scratch:
        # ONNX Runtime's recommended first step: shape inference and graph optimisation
        prepared = Path(scratch) / "prepared.onnx"
        quant_pre_process(model_dir / ONNX_FILE, prepared)
        reader = FaceCalibrationReader(calibration, EmotionRecognizer(model_dir, precision="fp32").input_name)
        quantize_graph(prepared, target, reader, QUANTIZED_OPS, quant_format, per_channel)
    return target


def quantize_graph(
    prepared: str | os.PathLike,
    target: str | os.PathLike,
    reader: CalibrationDataReader,
    op_types: tuple[str, ...] | None = None,
    quant_format: QuantFormat = QUANT_FORMAT,
    per_channel: bool = PER_CHANNEL,
) -> None:
    """ONNX Runtime's static quantization of the ``prepared`` graph into ``target`` as this project
    quantizes every graph: activations calibrated (MinMax) on what ``reader`` gives, weights in 7 bits
    (:data:`WEIGHT_LIMIT`); ``op_types``: the ops to quantize (None: all ONNX Runtime can)."""
    quantize_static(
        str(prepared),
        str(target),
        reader,
        quant_format=quant_format,
        op_types_to_quantize=None if op_types is None else list(op_types),
        per_channel=per_channel,
        # uint8 activations x int8 weights: the combination x86 VNNI kernels are built for
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        calibrate_method=CalibrationMethod.MinMax,
        reduce_range=True,
    )


def quantize(
    model: str | os.PathLike, data_path: str | os.PathLike, calibration_faces: int = 500, seed: int = 0
) -> dict:
    """Quantize ``model`` calibrated on the train split of ``data_path``, evaluate fp32 and int8 on
    its PublicTest half (the whole test split when it has no halves) and write ``quantization.json``."""
    if calibration_faces < 1:
        raise ValueError(f"calibration_faces must be at least 1, got {calibration_faces}")
    model_dir = resolve_model_dir(model)
    train = data.load(data_path, "train")
    split = data.validation_split(data_path)
    test = data.load(data_path, split).scored()
    calibration = sample_faces(train, calibration_faces, seed)
    target = quantize_model(model_dir, calibration)
    recognizers = {p: EmotionRecognizer(model_dir, precision=p) for p in ("fp32", "int8")}
    predictions = {precision: r.predict_proba(test.images).argmax(1) for precision, r in recognizers.items()}
    fp32, int8 = (classification_report(test.labels, p, test.classes) for p in predictions.values())
    report = {
        "model": model_dir.name,
        "int8_file": target.name,
        "method": {
            "tool": "onnxruntime.quantization.quantize_static",
            "format": QUANT_FORMAT.name,
            "pre_processed": True,
            "ops": list(QUANTIZED_OPS),
            "per_channel": PER_CHANNEL,
            "activations": "uint8",
            "weights": "int8",
            "weight_range": [-WEIGHT_LIMIT, WEIGHT_LIMIT],
            "calibration": "MinMax",
        },
        "calibration": {"data": train.source, "faces": len(calibration), "seed": seed},
        "evaluation": {
            "data": test.source,
            "split": split,
            "faces": len(test),
            "tta": recognizers["fp32"].tta,  # each graph is scored as it is served
        },
        "accuracy": {"fp32": fp32["accuracy"], "int8": int8["accuracy"]},
        "accuracy_change": round(int8["accuracy"] - fp32["accuracy"], 4),
        # the share of faces whose label int8 leaves as it was
        "label_agreement": round(float(np.mean(predictions["fp32"] == predictions["int8"])), 4),
        "macro_f1": {"fp32": fp32["macro_f1"], "int8": int8["macro_f1"]},
        "size_bytes": {"fp32": (model_dir / ONNX_FILE).stat().st_size, "int8": target.stat().st_size},
    }
    (model_dir / QUANTIZATION_FILE).write_text(json.dumps(report, indent=2) + "\n")
    return report
