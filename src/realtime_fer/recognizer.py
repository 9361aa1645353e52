"""Emotion classification of grey face crops with ONNX Runtime (the serving path: no torch).

What a model folder holds, where it is found and how it asks to be served is :mod:`model_folder`'s
job; the views of a face are :mod:`tta`'s. This module runs the graph: one ONNX Runtime session,
checked at start, and batches of faces in, averaged probabilities out.
"""

import copy
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from realtime_fer.emotions import EMOTIONS
from realtime_fer.model_folder import DEFAULT_MODEL, ModelError, ModelFolder
from realtime_fer.preprocess import to_model_input
from realtime_fer.tta import TTA_NAMES, check_tta, tta_views

__all__ = ["Emotion", "EmotionRecognizer", "ModelError"]  # ModelError: what loading raises
_CHUNK = 256


@dataclass(frozen=True)
class Emotion:
    """One face's prediction: the winning label, its probability and all seven probabilities."""

    label: str
    confidence: float
    scores: dict[str, float]


class EmotionRecognizer:
    """Seven-class probabilities for batches of grey face crops.

    ``tta`` is one of :data:`tta.TTA_MODES`: the views of each face that are classified (in one batched
    call) and averaged; ``None`` follows the model folder's ``model.json`` (``serving.tta``).
    ``precision="int8"`` serves the folder's quantized graph (``realtime-fer quantize``);
    ``"auto"`` does so when its report shows it costs at most ``model_folder.INT8_MAX_LOSS`` accuracy,
    else fp32 (:meth:`ModelFolder.graph`).
    """

    def __init__(
        self,
        model: str | os.PathLike = DEFAULT_MODEL,
        tta: str | None = None,
        threads: int | None = None,
        precision: str = "auto",
    ):
        if tta is not None:
            check_tta(tta)
        self.folder = ModelFolder.open(model)  # model.json checked: classes, input size, serving TTA
        self.path = self.folder.path
        self.name = self.folder.name
        self.spec = self.folder.spec
        self.classes: tuple[str, ...] = EMOTIONS
        self.input_size = self.folder.input_size
        self.tta = self.folder.serving_tta if tta is None else tta
        graph, self.precision = self.folder.graph(precision)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # Idle ORT threads would otherwise spin-wait after each call, on the cores the next frame's
        # face detection needs: off, one-face frames ran ~10% faster end to end, six-face ones ~30%.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self.session = ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime raises several unrelated types for a bad file
            raise ModelError(f"{graph}: cannot be loaded ({_first_line(error)})") from None
        self.input_name = self.session.get_inputs()[0].name
        self._check_graph(graph)

    def with_tta(self, tta: str) -> "EmotionRecognizer":
        """The same model (and ONNX Runtime session) classifying the views ``tta`` names."""
        twin = copy.copy(self)
        twin.tta = check_tta(tta)
        return twin

    @property
    def serving(self) -> str:
        """How faces are classified, for reports: ``"int8 + flip TTA"``, ``"fp32"``, ..."""
        return self.precision + TTA_NAMES[self.tta]

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


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
