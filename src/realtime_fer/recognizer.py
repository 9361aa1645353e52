"""Emotion classification of grey face crops with ONNX Runtime (the serving path: no torch).

A model folder (``models/<name>/``) holds ``model.onnx`` (input: float32 (N, 1, 48, 48) in [0, 1],
output: 7 probabilities), ``model.json`` (architecture and classes) and ``metrics.json``.
"""

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from realtime_fer.emotions import EMOTIONS
from realtime_fer.preprocess import to_model_input

DEFAULT_MODEL = "accurate"
INT8_MODEL_FILE = "model.int8.onnx"  # written by ``realtime-fer quantize`` next to model.onnx
QUANTIZATION_FILE = "quantization.json"  # its report: the accuracy change int8 costs
INT8_MAX_LOSS = 0.005  # precision="auto" serves int8 when it costs at most this much accuracy
PRECISIONS = ("auto", "fp32", "int8")
MODELS_ENV = "REALTIME_FER_MODELS"
# Test-time augmentation: the views of each face that are classified and averaged.
# "flip": the face and its mirror image. "ten": the face and four copies shifted by TTA_SHIFT pixels
# (up, down, left, right; edges repeated), each also mirrored. Training's affine jitter shifts faces
# uniformly within +-4.8 px (standard deviation 2.8 px), so 3 px is a typical training shift.
TTA_SHIFT = 3
_TTA_NAMES = {"none": "", "flip": " + flip TTA", "ten": " + ten-view TTA"}  # as reports name them
TTA_MODES = tuple(_TTA_NAMES)
_CHUNK = 256


class ModelError(RuntimeError):
    """A model that cannot be found or loaded; the message says which file and why."""


@dataclass(frozen=True)
class Emotion:
    """One face's prediction: the winning label, its probability and all seven probabilities."""

    label: str
    confidence: float
    scores: dict[str, float]


def model_roots() -> list[Path]:
    """Where model names are looked up, in order: ``$REALTIME_FER_MODELS``, the package's own models,
    ``./models``. The package's own are ``shipped_models/`` in an installed wheel (built from the
    repo's ``models/``, see setup.py) and ``models/`` itself in a source checkout."""
    package = Path(__file__).resolve().parent
    roots = [Path(os.environ[MODELS_ENV])] if os.environ.get(MODELS_ENV) else []
    roots += [package / "shipped_models", package.parents[1] / "models", Path.cwd() / "models"]
    return list(dict.fromkeys(roots))


def available_models() -> list[str]:
    return sorted({p.parent.name for root in model_roots() for p in root.glob("*/model.onnx")})


def resolve_model_dir(model: str | os.PathLike) -> Path:
    """A model folder from a folder path or a shipped model's name.

    A folder that holds ``model.onnx`` wins; a shipped model comes next, so a stray folder that
    happens to share its name (``./paper`` with notes in it, say) does not shadow it.
    """
    path = Path(model)
    for folder in [path, *(root / str(model) for root in model_roots())]:
        if (folder / "model.onnx").is_file():
            return folder
    if path.is_dir():
        return path  # not a model folder: loading it names the missing file
    known = ", ".join(available_models()) or "none found"
    raise ModelError(f"model {str(model)!r} not found: not a folder, nor a shipped model ({known})")


class EmotionRecognizer:
    """Seven-class probabilities for batches of grey face crops.

    ``tta`` is one of :data:`TTA_MODES`: the views of each face that are classified (in one batched
    call) and averaged; ``None`` follows the model folder's ``model.json`` (``serving.tta``).
    ``precision="int8"`` serves the folder's quantized graph (``realtime-fer quantize``);
    ``"auto"`` does so when its report shows it costs at most ``INT8_MAX_LOSS`` accuracy, else fp32.
    """

    def __init__(
        self,
        model: str | os.PathLike = DEFAULT_MODEL,
        tta: str | None = None,
        threads: int | None = None,
        precision: str = "auto",
    ):
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}")
        if tta is not None and tta not in TTA_MODES:
            raise ValueError(f"tta must be one of {', '.join(TTA_MODES)}; got {tta!r}")
        self.path = resolve_model_dir(model)
        self.spec = _read_json(self.path / "model.json")
        metrics_file = self.path / "metrics.json"
        self.metrics = _read_json(metrics_file) if metrics_file.exists() else {}
        self.name = self.path.name
        self.classes: tuple[str, ...] = tuple(self.spec.get("classes", ()))
        if self.classes != EMOTIONS:
            raise ModelError(f"{self.path / 'model.json'}: classes {self.classes} are not {EMOTIONS}")
        self.input_size = input_size(self.spec, self.path / "model.json")
        self.tta = serving_tta(self.spec, self.path / "model.json") if tta is None else tta
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # Idle ORT threads would otherwise spin-wait after each call, on the cores the next frame's
        # face detection needs: off, one-face frames ran ~10% faster end to end, six-face ones ~30%.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if precision == "auto":
            precision = "int8" if int8_keeps_accuracy(self.path) else "fp32"
        self.precision = precision
        graph = self.path / ("model.onnx" if precision == "fp32" else INT8_MODEL_FILE)
        if precision == "int8" and not graph.is_file():
            hint = f"realtime-fer quantize --model {self.path} --data DATA"
            raise ModelError(f"{graph}: missing; make it with `{hint}`")
        try:
            self.session = ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime raises several unrelated types for a bad file
            raise ModelError(f"{graph}: cannot be loaded ({_first_line(error)})") from None
        self.input_name = self.session.get_inputs()[0].name
        self._check_graph(graph)

    @property
    def serving(self) -> str:
        """How faces are classified, for reports: ``"int8 + flip TTA"``, ``"fp32"``, ..."""
        return self.precision + _TTA_NAMES[self.tta]

    def predict_proba(self, faces: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
        """float32 (N, 7) probabilities for uint8 grey faces of any size (resized to the input)."""
        inputs = to_model_input(faces, self.input_size)
        if len(inputs) == 0:
            return np.zeros((0, len(self.classes)), np.float32)
        return np.concatenate([self._run(inputs[i : i + _CHUNK]) for i in range(0, len(inputs), _CHUNK)])

    def classify(self, faces: np.ndarray | Sequence[np.ndarray]) -> list[Emotion]:
        """An :class:`Emotion` per face."""
        return [self.to_emotion(p) for p in self.predict_proba(faces)]

    def to_emotion(self, probabilities: np.ndarray) -> Emotion:
        best = int(np.argmax(probabilities))
        scores = {name: float(p) for name, p in zip(self.classes, probabilities, strict=True)}
        return Emotion(self.classes[best], float(probabilities[best]), scores)

    def _check_graph(self, graph: Path) -> None:
        """Refuse a graph that does not take and give what ``model.json`` says, at start-up rather
        than with an error for every face: one input (N, 1, S, S), and 7 probabilities a face out
        of a trial run on a blank face."""
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        expected = (1, self.input_size, self.input_size)
        shape = inputs[0].shape
        # a symbolic dimension (a name such as "batch") fits any size
        fits = len(shape) == 4 and all(
            not isinstance(d, int) or d == e for d, e in zip(shape[1:], expected, strict=True)
        )
        if len(inputs) != 1 or not fits:
            takes = ", ".join(str(i.shape) for i in inputs)
            says = ", ".join(map(str, expected))
            raise ModelError(f"{graph}: takes {takes}, but model.json says (N, {says})")
        try:
            probabilities = self.predict_proba(np.zeros((1, self.input_size, self.input_size), np.uint8))
        except Exception as error:  # ONNX Runtime's errors have no common type
            raise ModelError(f"{graph}: fails on a test face ({_first_line(error)})") from None
        n = len(self.classes)
        if probabilities.shape != (1, n) or not np.allclose(probabilities.sum(), 1, atol=1e-3):
            gives = ", ".join(str(o.shape) for o in outputs)
            raise ModelError(f"{graph}: gives {gives} for a face, not {n} probabilities")

    def _run(self, inputs: np.ndarray) -> np.ndarray:
        views = tta_views(inputs, self.tta)
        probabilities = self.session.run(None, {self.input_name: views})[0]
        return probabilities.reshape(-1, len(inputs), probabilities.shape[-1]).mean(0)


def tta_views(inputs: np.ndarray, tta: str) -> np.ndarray:
    """The views of an (N, 1, H, W) batch that ``tta`` classifies, stacked view by view: (V*N, 1, H, W)."""
    if tta == "none":
        return inputs
    views = [inputs]
    if tta == "ten":
        s = TTA_SHIFT
        height, width = inputs.shape[-2:]
        padded = np.pad(inputs, ((0, 0), (0, 0), (s, s), (s, s)), mode="edge")
        for dy, dx in ((-s, 0), (s, 0), (0, -s), (0, s)):
            views.append(padded[..., s + dy : s + dy + height, s + dx : s + dx + width])
    views += [view[..., ::-1] for view in views]
    return np.ascontiguousarray(np.concatenate(views))


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


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0][:200]


def int8_keeps_accuracy(model_dir: Path) -> bool:
    """Whether the folder has an int8 graph whose report shows at most ``INT8_MAX_LOSS`` lost."""
    report = model_dir / QUANTIZATION_FILE
    if not (model_dir / INT8_MODEL_FILE).is_file() or not report.is_file():
        return False
    return _read_json(report).get("accuracy_change", -1.0) >= -INT8_MAX_LOSS


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise ModelError(f"{path}: missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ModelError(f"{path}: not valid JSON ({error})") from None
