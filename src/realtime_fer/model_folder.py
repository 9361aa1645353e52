"""A model folder (``models/<name>/`` or an exported run): its files, where folders are found, what
its ``model.json`` says, and how it is served. Needs neither torch nor ONNX Runtime.

Files: ``model.onnx`` (input float32 (N, 1, S, S) in [0, 1], output a probability per class),
``model.json`` (architecture, classes, input shape, ``serving``: ``tta``, ``temperature``,
``uncertain_below``), ``weights.pt`` (PyTorch weights, for training-side tools), ``metrics.json``
(validation accuracy per TTA, the run's config), ``evaluation.json`` (the full validation reports), and
after ``realtime-fer quantize`` ``model.int8.onnx`` with ``quantization.json`` (the accuracy int8 costs).

How a folder is served: the TTA its ``model.json`` asks for (measured beside the others in its
``metrics.json``); its probabilities softened or sharpened by ``serving.temperature`` (calibration;
absent: 1.0, no change); a face called uncertain when its top probability is below
``serving.uncertain_below`` (absent or null: never); and with ``precision="auto"`` the faster here of
``model.onnx`` and the int8 graph, the latter only where its report shows it costs at most
``INT8_MAX_LOSS`` accuracy (:meth:`ModelFolder.graphs` says which are allowed; the recognizer times them).
A folder may hold the int8 graph alone, as a wheel install does: then that graph is served.
"""

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TypeGuard

from realtime_fer.choices import check_choice
from realtime_fer.emotions import KNOWN_EMOTIONS
from realtime_fer.tta import TTA_MODES

ONNX_FILE = "model.onnx"
INT8_ONNX_FILE = "model.int8.onnx"  # written by ``realtime-fer quantize`` next to model.onnx
SPEC_FILE = "model.json"
WEIGHTS_FILE = "weights.pt"
METRICS_FILE = "metrics.json"
EVALUATION_FILE = "evaluation.json"
QUANTIZATION_FILE = "quantization.json"  # the int8 graph's report: the accuracy change it costs

DEFAULT_MODEL = "ferplus"
MODELS_ENV = "REALTIME_FER_MODELS"
PRECISIONS = ("auto", "fp32", "int8")  # the graph served; "auto": the faster of those INT8_MAX_LOSS allows
INT8_MAX_LOSS = 0.005


class ModelError(RuntimeError):
    """A model that cannot be found or loaded; the message says which file and why."""


def model_roots() -> list[Path]:
    """Where model names are looked up, in order: ``$REALTIME_FER_MODELS``, the package's own models,
    ``./models``. The package's own are ``shipped_models/`` in an installed wheel (built from the
    repo's ``models/``, see setup.py) and ``models/`` itself in a source checkout."""
    package = Path(__file__).resolve().parent
    roots = [Path(os.environ[MODELS_ENV])] if os.environ.get(MODELS_ENV) else []
    roots += [package / "shipped_models", package.parents[1] / "models", Path.cwd() / "models"]
    return list(dict.fromkeys(roots))


def has_graph(folder: Path) -> bool:
    """Whether ``folder`` holds a graph to serve: ``model.onnx`` or, as in a wheel install, which
    carries only the int8 graph of a model whose int8 is allowed, ``model.int8.onnx``."""
    return (folder / ONNX_FILE).is_file() or (folder / INT8_ONNX_FILE).is_file()


def available_models() -> list[str]:
    """The names of the model folders under :func:`model_roots`."""
    return sorted({p.name for root in model_roots() if root.is_dir() for p in root.iterdir() if has_graph(p)})


def resolve_model_dir(model: str | os.PathLike) -> Path:
    """A model folder from a folder path or a shipped model's name.

    A folder that holds a graph (:func:`has_graph`) wins; a shipped model comes next, so a stray folder that
    happens to share its name (``./paper`` with notes in it, say) does not shadow it.
    """
    path = Path(model)
    for folder in [path, *(root / str(model) for root in model_roots())]:
        if has_graph(folder):
            return folder
    if path.is_dir():
        return path  # not a model folder: loading it names the missing file
    known = ", ".join(available_models()) or "none found"
    raise ModelError(f"model {str(model)!r} not found: not a folder, nor a shipped model ({known})")


@dataclass(frozen=True)
class ModelFolder:
    """A model folder and its checked ``model.json``: what serving needs to know."""

    path: Path
    spec: dict
    input_size: int
    serving_tta: str
    classes: tuple[str, ...]  # the order of the graph's outputs
    temperature: float  # serving.temperature: divides the logits (1.0 changes nothing)
    uncertain_below: float | None  # serving.uncertain_below: None never calls a face uncertain

    @classmethod
    def open(cls, model: str | os.PathLike) -> "ModelFolder":
        """The folder a name or path stands for (:func:`resolve_model_dir`), its ``model.json`` checked:
        known classes, a one-channel square input, a known TTA, a valid temperature and threshold."""
        path = resolve_model_dir(model)
        source = path / SPEC_FILE
        spec = read_json(source)
        serving = serving_settings(spec, source)
        return cls(
            path,
            spec,
            input_size(spec, source),
            serving_tta(spec, source),
            model_classes(spec, source),
            serving_temperature(serving, source),
            serving_uncertain_below(serving, source),
        )

    @property
    def name(self) -> str:
        return self.path.name

    def graphs(self, precision: str) -> tuple[dict[str, Path], str]:
        """The ONNX files ``precision`` (one of :data:`PRECISIONS`) allows, by precision, and why:
        the one asked for, or for ``auto`` fp32 and, where :func:`int8_verdict` allows it, int8."""
        check_choice("precision", precision, PRECISIONS)
        fp32, int8 = self.path / ONNX_FILE, self.path / INT8_ONNX_FILE
        if precision == "fp32":
            if not fp32.is_file():
                raise ModelError(f"{fp32}: missing (a wheel install carries only the int8 graph; "
                                 "the float one is in the source tree's models/)")
            return {"fp32": fp32}, "fp32 asked for"
        if precision == "int8":
            if not int8.is_file():
                hint = f"realtime-fer quantize --model {self.path} --data DATA"
                raise ModelError(f"{int8}: missing; make it with `{hint}`")
            return {"int8": int8}, "int8 asked for"
        allowed, why = int8_verdict(self.path)
        if not fp32.is_file():
            if not allowed:
                raise ModelError(f"{fp32}: missing, and the int8 graph may not be served: {why}")
            return {"int8": int8}, f"{why}; the only graph here"
        return ({"fp32": fp32, "int8": int8} if allowed else {"fp32": fp32}), why


def accuracy_key(split: str, tta: str) -> str:
    """How ``metrics.json`` (``accuracy``) and ``evaluation.json`` name a score: ``public_test``,
    ``public_test_flip_tta``, ..."""
    return split + ("" if tta == "none" else f"_{tta}_tta")


def model_classes(spec: dict, source: Path) -> tuple[str, ...]:
    """A ``model.json``'s ``classes``: at least two distinct names of :data:`KNOWN_EMOTIONS`, in the
    order of the graph's outputs."""
    classes = spec.get("classes")
    if not (
        isinstance(classes, list) and len(classes) >= 2 and all(isinstance(c, str) for c in classes)
        and len(set(classes)) == len(classes)
    ):
        raise ModelError(f"{source}: classes must be a list of at least 2 distinct names; got {classes!r}")
    if unknown := [name for name in classes if name not in KNOWN_EMOTIONS]:
        known = ", ".join(sorted(KNOWN_EMOTIONS))
        raise ModelError(f"{source}: unknown classes {', '.join(map(repr, unknown))} (known: {known})")
    return tuple(classes)


def serving_settings(spec: dict, source: Path) -> dict:
    """A ``model.json``'s ``serving`` object (empty when absent)."""
    serving = spec.get("serving", {})
    if not isinstance(serving, dict):
        raise ModelError(f"{source}: serving must be an object; got {serving!r}")
    return serving


def serving_temperature(serving: dict, source: Path) -> float:
    """``serving.temperature``: a finite number > 0 (default 1.0, no change)."""
    temperature = serving.get("temperature", 1.0)
    if not _is_number(temperature) or not temperature > 0:
        raise ModelError(f"{source}: serving.temperature must be a number > 0; got {temperature!r}")
    return float(temperature)


def serving_uncertain_below(serving: dict, source: Path) -> float | None:
    """``serving.uncertain_below``: a number in [0, 1), or None (absent or null) for never."""
    threshold = serving.get("uncertain_below")
    if threshold is None:
        return None
    try:
        return check_threshold(threshold)
    except ValueError:
        message = f"serving.uncertain_below must be in [0, 1) or null; got {threshold!r}"
        raise ModelError(f"{source}: {message}") from None


def check_threshold(threshold: object) -> float:
    """``threshold`` as a float when it is a valid ``uncertain_below`` (a number in [0, 1)), else a
    ``ValueError``."""
    if not _is_number(threshold) or not 0 <= threshold < 1:
        raise ValueError(f"uncertain_below must be in [0, 1); got {threshold!r}")
    return float(threshold)


def _is_number(value: object) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def serving_tta(spec: dict, source: Path) -> str:
    """The TTA a ``model.json`` asks for; older folders say ``true`` / ``false`` for flip / none."""
    tta = serving_settings(spec, source).get("tta", "none")
    if isinstance(tta, bool):
        return "flip" if tta else "none"
    if tta not in TTA_MODES:
        raise ModelError(f"{source}: serving.tta {tta!r} is not one of {', '.join(TTA_MODES)}")
    return tta


def input_size(spec: dict, source: Path) -> int:
    """The side S of a ``model.json``'s input shape, which must be [1, S, S] (one grey channel)."""
    shape = spec.get("input", {}).get("shape") if isinstance(spec.get("input"), dict) else None
    if not (
        isinstance(shape, list) and len(shape) == 3 and all(type(n) is int and n > 0 for n in shape)
        and shape[0] == 1 and shape[1] == shape[2]
    ):
        raise ModelError(f"{source}: input.shape must be [1, S, S] (one grey channel, square); got {shape!r}")
    return shape[-1]


def int8_verdict(model_dir: Path) -> tuple[bool, str]:
    """Whether the folder's int8 graph may be served (its report shows at most ``INT8_MAX_LOSS``
    lost), and why, in words."""
    report = model_dir / QUANTIZATION_FILE
    if not (model_dir / INT8_ONNX_FILE).is_file() or not report.is_file():
        return False, f"no int8 graph ({INT8_ONNX_FILE} with {QUANTIZATION_FILE})"
    change = read_json(report).get("accuracy_change")
    if not _is_number(change):
        return False, f"{QUANTIZATION_FILE} has no accuracy_change"
    limit = f"-{INT8_MAX_LOSS * 100:.2f}"
    says = f"int8 changes accuracy by {change * 100:+.2f} points (allowed: down to {limit})"
    return change >= -INT8_MAX_LOSS, says


def read_json(path: Path) -> dict:
    """A JSON file of a model folder; ``ModelError`` when it is missing or not JSON."""
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise ModelError(f"{path}: missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ModelError(f"{path}: not valid JSON ({error})") from None
