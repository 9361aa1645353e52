"""A model folder (``models/<name>/`` or an exported run): its files, where folders are found, what
its ``model.json`` says, and how it is served. Needs neither torch nor ONNX Runtime.

Files: ``model.onnx`` (input float32 (N, 1, S, S) in [0, 1], output 7 probabilities), ``model.json``
(architecture, classes, input shape, ``serving.tta``), ``weights.pt`` (PyTorch weights, for
training-side tools), ``metrics.json`` (validation accuracy per TTA, the run's config),
``evaluation.json`` (the full validation reports), and after ``realtime-fer quantize``
``model.int8.onnx`` with ``quantization.json`` (the accuracy int8 costs).

How a folder is served: the TTA its ``model.json`` asks for (measured beside the others in its
``metrics.json``), and with ``precision="auto"`` the int8 graph when its report shows it costs at most
``INT8_MAX_LOSS`` accuracy, else ``model.onnx``.
"""

import json
import os
from dataclasses import dataclass
from pathlib import Path

from realtime_fer.emotions import EMOTIONS
from realtime_fer.tta import TTA_MODES

ONNX_FILE = "model.onnx"
INT8_ONNX_FILE = "model.int8.onnx"  # written by ``realtime-fer quantize`` next to model.onnx
SPEC_FILE = "model.json"
WEIGHTS_FILE = "weights.pt"
METRICS_FILE = "metrics.json"
EVALUATION_FILE = "evaluation.json"
QUANTIZATION_FILE = "quantization.json"  # the int8 graph's report: the accuracy change it costs

DEFAULT_MODEL = "accurate"
MODELS_ENV = "REALTIME_FER_MODELS"
PRECISIONS = ("auto", "fp32", "int8")  # the graph served; "auto" picks int8 when INT8_MAX_LOSS allows
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


def available_models() -> list[str]:
    """The names of the model folders under :func:`model_roots`."""
    return sorted({p.parent.name for root in model_roots() for p in root.glob(f"*/{ONNX_FILE}")})


def resolve_model_dir(model: str | os.PathLike) -> Path:
    """A model folder from a folder path or a shipped model's name.

    A folder that holds ``model.onnx`` wins; a shipped model comes next, so a stray folder that
    happens to share its name (``./paper`` with notes in it, say) does not shadow it.
    """
    path = Path(model)
    for folder in [path, *(root / str(model) for root in model_roots())]:
        if (folder / ONNX_FILE).is_file():
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

    @classmethod
    def open(cls, model: str | os.PathLike) -> "ModelFolder":
        """The folder a name or path stands for (:func:`resolve_model_dir`), its ``model.json`` checked:
        the seven classes in :data:`EMOTIONS` order, a one-channel square input, a known TTA."""
        path = resolve_model_dir(model)
        source = path / SPEC_FILE
        spec = read_json(source)
        classes = tuple(spec.get("classes", ()))
        if classes != EMOTIONS:
            raise ModelError(f"{source}: classes {classes} are not {EMOTIONS}")
        return cls(path, spec, input_size(spec, source), serving_tta(spec, source))

    @property
    def name(self) -> str:
        return self.path.name

    def graph(self, precision: str) -> tuple[Path, str]:
        """(ONNX file, "fp32" or "int8") to serve at ``precision``, one of :data:`PRECISIONS`."""
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}")
        if precision == "auto":
            precision = "int8" if int8_keeps_accuracy(self.path) else "fp32"
        graph = self.path / (ONNX_FILE if precision == "fp32" else INT8_ONNX_FILE)
        if precision == "int8" and not graph.is_file():
            hint = f"realtime-fer quantize --model {self.path} --data DATA"
            raise ModelError(f"{graph}: missing; make it with `{hint}`")
        return graph, precision


def accuracy_key(split: str, tta: str) -> str:
    """How ``metrics.json`` (``accuracy``) and ``evaluation.json`` name a score: ``public_test``,
    ``public_test_flip_tta``, ..."""
    return split + ("" if tta == "none" else f"_{tta}_tta")


def serving_tta(spec: dict, source: Path) -> str:
    """The TTA a ``model.json`` asks for; older folders say ``true`` / ``false`` for flip / none."""
    tta = spec.get("serving", {}).get("tta", "none")
    if isinstance(tta, bool):
        return "flip" if tta else "none"
    if tta not in TTA_MODES:
        raise ModelError(f"{source}: serving.tta {tta!r} is not one of {', '.join(TTA_MODES)}")
    return tta


def input_size(spec: dict, source: Path) -> int:
    """The side S of a ``model.json``'s input shape, which must be [1, S, S] (one grey channel)."""
    shape = spec.get("input", {}).get("shape") if isinstance(spec.get("input"), dict) else None
    valid = (
        isinstance(shape, list) and len(shape) == 3 and all(type(n) is int and n > 0 for n in shape)
        and shape[0] == 1 and shape[1] == shape[2]
    )
    if not valid:
        raise ModelError(f"{source}: input.shape must be [1, S, S] (one grey channel, square); got {shape!r}")
    return shape[-1]


def int8_keeps_accuracy(model_dir: Path) -> bool:
    """Whether the folder has an int8 graph whose report shows at most ``INT8_MAX_LOSS`` lost."""
    report = model_dir / QUANTIZATION_FILE
    if not (model_dir / INT8_ONNX_FILE).is_file() or not report.is_file():
        return False
    return read_json(report).get("accuracy_change", -1.0) >= -INT8_MAX_LOSS


def read_json(path: Path) -> dict:
    """A JSON file of a model folder; ``ModelError`` when it is missing or not JSON."""
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise ModelError(f"{path}: missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ModelError(f"{path}: not valid JSON ({error})") from None
