"""The paper's own stack for the baseline rows: its CNN in tf.keras, layer for layer (Table 2), compiled
with its recipe (Adam 5e-4, categorical cross-entropy), optionally holding our trained weights.

TensorFlow is needed for these rows only (``pip install -r benchmarks/requirements-baselines.txt``);
without it :func:`import_tensorflow` prints a note and returns ``None``, and every benchmark still
measures our side. The benchmarks run these rows in a process of their own (:func:`in_own_process`).
"""

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import TypeVar

import numpy as np

T = TypeVar("T")

# The paper's label order (its FacialExpressionModel.EMOTIONS_LIST), the same as ours
PAPER_EMOTIONS = ["Angry", "Disgust", "Fear", "Happy", "Neutral", "Sad", "Surprise"]
REQUIREMENTS = "benchmarks/requirements-baselines.txt"


def in_own_process(function: Callable[..., T], *args: object) -> T:
    """``function(*args)`` in a fresh Python process, for the TensorFlow side of a benchmark.

    TensorFlow's thread pools outlive its work: our PyTorch training ran ~45% slower after a tf.keras
    ``fit`` in the same process. Apart, neither side slows the other.
    """
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(function, *args).result()


def import_tensorflow() -> ModuleType | None:
    """``tensorflow``, or ``None`` with a note saying which rows are skipped."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TF's start-up chatter out of the tables
    try:
        import tensorflow as tf
    except ImportError:
        print(f"note: TensorFlow is not installed, so the paper-stack (tf.keras) rows are skipped; "
              f"pip install -r {REQUIREMENTS} to measure them")
        return None
    return tf


def build_paper_model(tf: ModuleType):
    """The paper's Sequential CNN, compiled as in its notebook."""
    layers = tf.keras.layers
    model = tf.keras.Sequential([tf.keras.Input((48, 48, 1))])
    for filters, kernel in ((64, 3), (128, 5), (512, 3), (512, 3)):
        model.add(layers.Conv2D(filters, kernel, padding="same"))
        model.add(layers.BatchNormalization())
        model.add(layers.Activation("relu"))
        model.add(layers.MaxPooling2D(pool_size=(2, 2)))
        model.add(layers.Dropout(0.25))
    model.add(layers.Flatten())
    for units in (256, 512):
        model.add(layers.Dense(units))
        model.add(layers.BatchNormalization())
        model.add(layers.Activation("relu"))
        model.add(layers.Dropout(0.25))
    model.add(layers.Dense(7, activation="softmax"))
    model.compile(
        optimizer=tf.keras.optimizers.Adam(learning_rate=5e-4),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def load_torch_weights(tf: ModuleType, model, weights: Path) -> bool:
    """Copy our trained PyTorch ``PaperCNN`` weights into the Keras model; ``False`` without torch."""
    try:
        import torch
    except ImportError:
        return False
    state = {k: v.numpy() for k, v in torch.load(weights, map_location="cpu", weights_only=True).items()}
    blocks = [f"features.{i}" for i in range(4)] + ["classifier.1", "classifier.2"]
    kernels = [state[f"{b}.0.weight"].transpose(2, 3, 1, 0) for b in blocks[:4]]  # OIHW -> HWIO
    # PyTorch flattens (C, H, W) and Keras (H, W, C): reorder the first dense layer's inputs to match
    first_dense = state["classifier.1.0.weight"].reshape(256, 512, 3, 3)
    kernels.append(first_dense.transpose(2, 3, 1, 0).reshape(-1, 256))
    kernels += [state["classifier.2.0.weight"].T, state["classifier.3.weight"].T]
    biases = [state[f"{b}.0.bias"] for b in blocks] + [state["classifier.3.bias"]]
    norms = [[state[f"{b}.1.{k}"] for k in ("weight", "bias", "running_mean", "running_var")] for b in blocks]
    layers = tf.keras.layers
    weighted = [layer for layer in model.layers if isinstance(layer, layers.Conv2D | layers.Dense)]
    normalising = [layer for layer in model.layers if isinstance(layer, layers.BatchNormalization)]
    for layer, kernel, bias in zip(weighted, kernels, biases, strict=True):
        layer.set_weights([kernel, bias])
    for layer, values in zip(normalising, norms, strict=True):
        layer.set_weights(values)
    return True


def paper_model(tf: ModuleType, weights: Path | None) -> tuple[object, str]:
    """The compiled Keras model and where its weights come from (converted, or random)."""
    model = build_paper_model(tf)
    if weights is not None and weights.is_file() and load_torch_weights(tf, model, weights):
        return model, f"converted from {weights.parent.name}/{weights.name}"
    return model, "random (Glorot) initialisation"


def keras_parity(model, faces: np.ndarray, reference: np.ndarray) -> float:
    """Largest |Keras - reference| probability on uint8 faces (N, 48, 48): checks a weight conversion."""
    got = model.predict(faces[..., None].astype(np.float32) / 255.0, verbose=0)
    return float(np.abs(got - reference).max())
