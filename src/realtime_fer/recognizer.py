"""Emotion classification of grey face crops with ONNX Runtime (the serving path: no torch).

What a model folder holds, where it is found and how it asks to be served is :mod:`model_folder`'s
job; the views of a face are :mod:`tta`'s. This module runs the graph: one ONNX Runtime session,
checked at start, and batches of faces in, averaged probabilities out, calibrated by the model's
temperature (:func:`calibration.apply_temperature`); a face whose top probability falls below a
threshold is flagged uncertain.
"""

import copy
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from realtime_fer.calibration import apply_temperature
from realtime_fer.model_folder import DEFAULT_MODEL, ModelError, ModelFolder, check_threshold
from realtime_fer.preprocess import to_model_input
from realtime_fer.tta import TTA_NAMES, check_tta, tta_views

__all__ = ["Emotion", "EmotionRecognizer", "ModelError"]  # ModelError: what loading raises
_CHUNK = 256


@dataclass(frozen=True)
class Emotion:
    """One face's prediction: the winning label, its probability, every class's probability (in the
    model's order) and whether the winning probability is below the recognizer's threshold."""

    label: str
    confidence: float
    scores: dict[str, float]
    uncertain: bool = False


class EmotionRecognizer:
    """Probabilities over the model's ``classes`` (from its ``model.json``) for batches of grey face crops.

    ``tta`` is one of :data:`tta.TTA_MODES`: the views of each face that are classified (in one batched
    call) and averaged; ``None`` follows the model folder's ``model.json`` (``serving.tta``).
    ``precision="int8"`` serves the folder's quantized graph (``realtime-fer quantize``);
    ``"auto"`` does so when its report shows it costs at most ``model_folder.INT8_MAX_LOSS`` accuracy,
    else fp32 (:meth:`ModelFolder.graph`).

    ``uncertain_below`` flags a face :attr:`Emotion.uncertain` when its top probability is below it:
    fewer faces get a label, and those that do are more often right. ``None`` follows ``model.json``
    (``serving.uncertain_below``; absent: never), 0 turns it off. Probabilities are the graph's, TTA
    averaged, then scaled by ``serving.temperature`` (1.0, the default, changes nothing).
    """

    def __init__(
        self,
        model: str | os.PathLike = DEFAULT_MODEL,
        tta: str | None = None,
        threads: int | None = None,
        precision: str = "auto",
        uncertain_below: float | None = None,
    ):
        if tta is not None:
            check_tta(tta)
        if uncertain_below is not None:
            check_threshold(uncertain_below)
        self.folder = ModelFolder.open(model)  # model.json checked: classes, input size, serving
        self.path = self.folder.path
        self.name = self.folder.name
        self.spec = self.folder.spec
        self.classes = self.folder.classes
        self.input_size = self.folder.input_size
        self.tta = self.folder.serving_tta if tta is None else tta
        self.temperature = self.folder.temperature
        threshold = (self.folder.uncertain_below or 0.0) if uncertain_below is None else uncertain_below
        self.uncertain_below = threshold  # 0.0: no face is ever uncertain
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

    def with_uncertain_below(self, threshold: float) -> "EmotionRecognizer":
        """The same model (and ONNX Runtime session) flagging faces below ``threshold`` (0: none)."""
        twin = copy.copy(self)
        twin.uncertain_below = check_threshold(threshold)
        return twin

    @property
    def serving(self) -> str:
        """How faces are classified, for reports: ``"int8 + flip TTA"``, ``"fp32"``, ..."""
        return self.precision + TTA_NAMES[self.tta]

    def predict_proba(self, faces: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
        """float32 (N, len(classes)) probabilities for uint8 grey faces of any size (resized to the input)."""
        inputs = to_model_input(faces, self.input_size)
        if len(inputs) == 0:
            return np.zeros((0, len(self.classes)), np.float32)
        return np.concatenate([self._run(inputs[i : i + _CHUNK]) for i in range(0, len(inputs), _CHUNK)])

    def classify(self, faces: np.ndarray | Sequence[np.ndarray]) -> list[Emotion]:
        """An :class:`Emotion` per face."""
        return [self.to_emotion(p) for p in self.predict_proba(faces)]

    def to_emotion(self, probabilities: np.ndarray) -> Emotion:
        """The :class:`Emotion` of one face's probabilities (a row of :meth:`predict_proba`)."""
        best = int(np.argmax(probabilities))
        confidence = float(probabilities[best])
        scores = {name: float(p) for name, p in zip(self.classes, probabilities, strict=True)}
        return Emotion(self.classes[best], confidence, scores, confidence < self.uncertain_below)

    def _check_graph(self, graph: Path) -> None:
        """Refuse a graph that does not take and give what ``model.json`` says, at start-up rather
        than with an error for every face: one input (N, 1, S, S), and a probability per class out
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
        averaged = probabilities.reshape(-1, len(inputs), probabilities.shape[-1]).mean(0)
        return apply_temperature(averaged, self.temperature)


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
