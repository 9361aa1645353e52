"""Export a trained run, or two trained models as a ``mirror-pair``: ``model.json``, ``weights.pt``,
``model.onnx`` (checked against PyTorch) and ``metrics.json`` with the validation score measured
through the serving recognizer."""

import contextlib
import importlib.metadata
import json
import logging
import os
import platform
from pathlib import Path
from typing import cast

import numpy as np
import torch
from torch import nn

from realtime_fer import data, run_folder
from realtime_fer.architectures import (
    count_parameters,
    create_model,
    load_trained,
    model_from_json,
    model_to_json,
)
from realtime_fer.calibration import apply_temperature, fit_temperature
from realtime_fer.cpu import cpu_model, speed_flags
from realtime_fer.evaluate import evaluate, plot_confusion, risk_coverage
from realtime_fer.model_folder import (
    EVALUATION_FILE,
    INT8_ONNX_FILE,
    METRICS_FILE,
    ONNX_FILE,
    QUANTIZATION_FILE,
    SPEC_FILE,
    WEIGHTS_FILE,
    ModelError,
    accuracy_key,
    read_json,
    resolve_model_dir,
)
from realtime_fer.recognizer import EmotionRecognizer

PARITY_TOLERANCE = 1e-4


class WithSoftmax(nn.Module):
    """The network plus the paper's final softmax: the graph that ONNX serves."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, faces: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.model(faces), dim=1)


def export_onnx(model: nn.Module, path: Path, input_size: int = 48) -> None:
    """A single-file ONNX graph with a dynamic batch axis: ``faces`` (N,1,H,W) -> ``probabilities``."""
    # The exporter warns about every torchvision operator it cannot register; we use none of them.
    logging.getLogger("torch.onnx._internal.exporter._registration").setLevel(logging.ERROR)
    model = WithSoftmax(model).eval()
    dummy = torch.zeros(2, 1, input_size, input_size)
    batch = torch.export.Dim("batch", min=1, max=4096)
    torch.onnx.export(
        model,
        (dummy,),
        str(path),
        input_names=["faces"],
        output_names=["probabilities"],
        dynamic_shapes=({0: batch},),
        opset_version=18,
        dynamo=True,
        external_data=False,
        verbose=False,
    )


def onnx_parity(model: nn.Module, model_dir: Path, faces: np.ndarray) -> float:
    """Largest |ONNX Runtime - PyTorch fp32| probability over ``faces`` (float32 N,1,H,W)."""
    with torch.no_grad():
        expected = torch.softmax(model.eval()(torch.from_numpy(faces)), dim=1).numpy()
    got = EmotionRecognizer(model_dir, precision="fp32").session.run(None, {"faces": faces})[0]
    return float(np.abs(got - expected).max())


def library_versions() -> dict[str, str]:
    names = ("torch", "onnx", "onnxruntime", "numpy", "opencv-python-headless", "realtime-fer")
    versions = {"python": platform.python_version()}
    for name in names:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[name] = importlib.metadata.version(name)
    return versions


def provenance() -> dict:
    """The ``machine`` and ``versions`` entries of a ``metrics.json``."""
    return {
        "machine": {
            "cpu": cpu_model(),
            "cpu_flags": [flag for flag, has in speed_flags().items() if has],
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
        },
        "versions": library_versions(),
    }


def save_model(model: nn.Module, spec: dict, out: Path) -> None:
    """model.json + weights.pt + model.onnx, with the ONNX output checked against PyTorch.

    An int8 graph left from earlier weights is removed: it no longer matches (quantize again).
    """
    out.mkdir(parents=True, exist_ok=True)
    for stale in (INT8_ONNX_FILE, QUANTIZATION_FILE):
        (out / stale).unlink(missing_ok=True)
    (out / SPEC_FILE).write_text(json.dumps(spec, indent=2) + "\n")
    torch.save(model.state_dict(), out / WEIGHTS_FILE)
    size = spec["input"]["shape"][-1]
    export_onnx(model, out / ONNX_FILE, size)
    probe = np.random.default_rng(0).random((8, 1, size, size), dtype=np.float32)
    difference = onnx_parity(model, out, probe)
    if difference > PARITY_TOLERANCE:
        raise RuntimeError(f"ONNX output differs from PyTorch by {difference:.2e} (> {PARITY_TOLERANCE})")


def calibrate_folder(model_dir: Path, faces: data.FaceSet) -> dict:
    """Calibrate a model folder's served probabilities (fp32, its TTA) on ``faces`` and write the
    result into its ``model.json``: ``serving.temperature`` (fitted), and ``serving.uncertain_below``,
    the calibrated confidence at which accuracy on ``faces`` reaches 90% (its risk-coverage curve), or
    none when it never does. Returns the two settings."""
    spec_path = model_dir / SPEC_FILE
    spec = read_json(spec_path)
    for key in ("temperature", "uncertain_below"):
        spec["serving"].pop(key, None)
    spec_path.write_text(json.dumps(spec, indent=2) + "\n")
    probabilities = EmotionRecognizer(model_dir, precision="fp32").predict_proba(faces.images)
    temperature = fit_temperature(probabilities, faces.labels)
    threshold = risk_coverage(apply_temperature(probabilities, temperature), faces.labels)["threshold_at_90%"]
    settings = {"temperature": temperature}
    if threshold is not None:
        settings["uncertain_below"] = round(threshold, 2)
    spec["serving"].update(settings)
    spec_path.write_text(json.dumps(spec, indent=2) + "\n")
    return settings


def score_folder(model_dir: Path, val_set: data.FaceSet, val_split: str, ttas: tuple[str, ...]) -> dict:
    """Score a model folder as served on ``val_set`` with each TTA in ``ttas`` (fp32); writes
    ``evaluation.json`` and the one-view confusion matrix; returns the accuracies by key."""
    accuracy, reports = {}, {}
    for tta in dict.fromkeys(ttas):
        report = evaluate(EmotionRecognizer(model_dir, tta=tta, precision="fp32"), val_set)
        key = accuracy_key(val_split, tta)
        accuracy[key], reports[key] = report["accuracy"], report
    (model_dir / EVALUATION_FILE).write_text(json.dumps(reports, indent=2) + "\n")
    plot_confusion(reports[accuracy_key(val_split, "none")], model_dir / "confusion_matrix.png")
    return accuracy


def export_run(
    run_dir: str | os.PathLike, splits: tuple[data.FaceSet, data.FaceSet] | None = None
) -> dict:
    """Export the selected checkpoint of a run folder and write its ``metrics.json``; returns the
    metrics. ``splits``: the (train, validation) faces the run used, loaded again when not given."""
    run_dir = Path(run_dir)
    selected = torch.load(run_folder.selected_checkpoint(run_dir), weights_only=False)
    last = torch.load(run_folder.last_checkpoint(run_dir), weights_only=False)
    config = last["config"]
    model = model_from_json(selected["spec"])
    model.load_state_dict(selected["model"])
    model.eval()
    spec = model_to_json(model)  # today's spec format, whatever the checkpoint's
    if config.get("serve_tta"):
        spec["serving"]["tta"] = config["serve_tta"]
    save_model(model, spec, run_dir)

    train_set, val_set = splits or run_folder.load_splits(
        config["data"], config["val_split"], config.get("holdout") or 0.0, config.get("seed", 0)
    )
    if config.get("holdout") and val_set.votes is not None:  # FER+: calibrated on the held-out faces
        spec["serving"].update(calibrate_folder(run_dir, val_set))
    # one view, flip, and the TTA it is served with
    accuracy = score_folder(run_dir, val_set, config["val_split"], ("none", "flip", spec["serving"]["tta"]))

    history = last["history"]
    metrics = {
        "model": selected["spec"]["architecture"],
        "parameters": count_parameters(model),
        "accuracy": accuracy,
        "best_epoch": selected["epoch"],  # the selected epoch: the last one with select="last"
        "epochs": len(history),
        "command": config["command"],
        "config": config,
        "data": {
            "path": str(config["data"]),
            "train": {"faces": len(train_set), "fingerprint": train_set.fingerprint},
            config["val_split"]: {"faces": len(val_set), "fingerprint": val_set.fingerprint},
        },
        "train_wall_time_s": round(last["train_seconds"], 1),
        "train_images_per_s": round(float(np.median([row["images_per_s"] for row in history])), 1),
        **provenance(),
    }
    (run_dir / METRICS_FILE).write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics


def export_pair(first: str, second: str, data_path: str, out: str | os.PathLike, command: str) -> dict:
    """A ``mirror-pair`` model folder from two trained folders of one architecture, scored on the
    validation split of ``data_path`` as it is served; returns its ``metrics.json``."""
    members = {role: resolve_model_dir(model) for role, model in (("first", first), ("second", second))}
    networks = {role: load_trained(folder) for role, folder in members.items()}
    specs = {role: read_json(folder / SPEC_FILE) for role, folder in members.items()}
    if specs["first"]["architecture"] != specs["second"]["architecture"] or (
        specs["first"].get("config", {}) != specs["second"].get("config", {})
    ):
        raise ModelError(f"{first} and {second} are not the same architecture: a pair needs two")
    model = create_model(
        "mirror-pair", member=specs["first"]["architecture"], member_config=specs["first"].get("config", {})
    )
    for role in ("first", "second"):
        cast(nn.Module, getattr(model, role)).load_state_dict(networks[role].state_dict())
    out = Path(out)
    save_model(model.eval(), model_to_json(model), out)

    val_split = data.validation_split(data_path)
    val_set = data.load(data_path, val_split)
    accuracy = score_folder(out, val_set, val_split, ("none",))  # the mirror view is in the graph
    member_metrics = {role: read_json(folder / METRICS_FILE) for role, folder in members.items()}
    metrics = {
        "model": "mirror-pair",
        "parameters": count_parameters(model),
        "accuracy": accuracy,
        "command": command,
        "config": {"first": first, "second": second, "data": data_path, "val_split": val_split},
        "members": {
            role: {key: m.get(key) for key in ("command", "accuracy", "train_wall_time_s", "data")}
            for role, m in member_metrics.items()
        },
        "train_wall_time_s": round(sum(m["train_wall_time_s"] for m in member_metrics.values()), 1),
        "data": {"path": data_path, val_split: {"faces": len(val_set), "fingerprint": val_set.fingerprint}},
        **provenance(),
    }
    (out / METRICS_FILE).write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics
