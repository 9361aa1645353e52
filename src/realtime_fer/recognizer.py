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
from pathlib import Path

import numpy as np
import onnxruntime as ort

from realtime_fer.calibration import apply_temperature
from realtime_fer.cpu import cpu_model
from realtime_fer.face import Emotion
from realtime_fer.graph_timing import Timed, fastest
from realtime_fer.model_folder import DEFAULT_MODEL, ModelError, ModelFolder, check_threshold
from realtime_fer.onnx_session import (
    DEFAULT_PROVIDER,
    ProviderError,
    create_session,
    resolve_provider,
    session_provider,
)
from realtime_fer.preprocess import to_model_input
from realtime_fer.tta import TTA_NAMES, TTA_VIEWS, check_tta, tta_views

__all__ = ["Emotion", "EmotionRecognizer", "ModelError"]  # ModelError: what loading raises
_CHUNK = 256


class EmotionRecognizer:
    """Probabilities over the model's ``classes`` (from its ``model.json``) for batches of grey face crops.

    ``tta`` is one of :data:`tta.TTA_MODES`: the views of each face that are classified (in one batched
    call) and averaged; ``None`` follows the model folder's ``model.json`` (``serving.tta``).
    ``precision="int8"`` serves the folder's quantized graph (``realtime-fer quantize``);
    ``"auto"`` serves the faster here of fp32 and int8 (one face with the recognizer's views, timed
    once per machine and cached: :mod:`graph_timing`), int8 only where its report shows it costs at
    most ``model_folder.INT8_MAX_LOSS`` accuracy (:meth:`ModelFolder.graphs`). :attr:`serving_choice`
    says what was chosen and why. ``provider`` runs the graph (:mod:`onnx_session`; ``auto``: an
    accelerator where ONNX Runtime offers one).

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
        provider: str = DEFAULT_PROVIDER,
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
        graphs, why = self.folder.graphs(precision)
        self.threads = threads
        self.provider = resolve_provider(provider)
        if len(graphs) == 1:
            (self.precision, graph), = graphs.items()
            self.session, ms = self._open(graph), None
        else:  # auto, int8 allowed: the faster of the two here
            timed = self._time(graphs)
            self.precision, self.session, ms = timed.precision, timed.session, timed.ms
            graph = graphs[self.precision]
            measured = _timings(ms, TTA_VIEWS[self.tta]) + (", cached" if timed.cached else "")
            why = f"faster here ({measured}); {why}"
        self.serving_choice = {  # what was served and why, for /healthz and reports
            "precision": self.precision,
            "provider": session_provider(self.session),
            "reason": why,
            "ms_per_face": ms,  # one face with `views` views, where measured
            "views": TTA_VIEWS[self.tta],
            "cpu": cpu_model(),
        }
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

    def _open(self, graph: Path) -> ort.InferenceSession:
        try:
            return create_session(graph, provider=self.provider, threads=self.threads)
        except ProviderError:
            raise
        except Exception as error:  # onnxruntime raises several unrelated types for a bad file
            raise ModelError(f"{graph}: cannot be loaded ({_first_line(error)})") from None

    def _time(self, graphs: dict[str, Path]) -> Timed:
        """The faster of ``graphs`` on a face with this recognizer's views (:func:`graph_timing.fastest`)."""
        face = to_model_input(np.zeros((1, self.input_size, self.input_size), np.uint8), self.input_size)
        setting = f"{self.provider}, {self.threads or 'default'} threads, {self.tta}"
        try:
            return fastest(graphs, self._open, tta_views(face, self.tta), setting)
        except (ModelError, ProviderError):
            raise
        except Exception as error:  # ONNX Runtime's errors have no common type
            raise ModelError(f"{self.path}: a graph fails on a test face ({_first_line(error)})") from None

    def _run(self, inputs: np.ndarray) -> np.ndarray:
        views = tta_views(inputs, self.tta)
        probabilities = self.session.run(None, {self.input_name: views})[0]
        averaged = probabilities.reshape(-1, len(inputs), probabilities.shape[-1]).mean(0)
        return apply_temperature(averaged, self.temperature)


def _timings(ms: dict[str, float], views: int) -> str:
    each = ", ".join(f"{name} {value:.2f} ms" for name, value in sorted(ms.items(), key=lambda kv: kv[1]))
    return f"{each} a face with {views} view{'s' if views > 1 else ''}"


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
