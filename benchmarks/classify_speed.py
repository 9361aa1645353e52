"""Per-face classification speed of every shipped model at batch 1 and 16, median of ``--runs`` calls.

Runtimes: ONNX Runtime fp32, ONNX Runtime int8 (``model.int8.onnx``, made by ``realtime-fer
quantize``; skipped with a note where missing), the model as served (``EmotionRecognizer(model)``: the
precision ``auto`` picks and the model's own TTA; flip classifies each face twice, ten-view ten
times), that precision with each other TTA (``--tta flip``, ``--tta ten``), PyTorch eager fp32
(skipped without torch) and, for the ``paper`` model, the paper's own call: tf.keras
``model.predict``, in a process of its own (skipped without TensorFlow,
``pip install -r benchmarks/requirements-baselines.txt``).
Every row includes turning uint8 faces into network input; ``vs_onnx_fp32`` is the speed relative
to ONNX Runtime fp32.

    python benchmarks/classify_speed.py [--runs 300] [--model paper --model fast]
"""

import argparse
from collections.abc import Callable

import numpy as np
from common import describe_machine, median_ms, table, write_results
from paper_keras import import_tensorflow, in_own_process, paper_model

from realtime_fer.model_folder import INT8_ONNX_FILE, WEIGHTS_FILE, available_models, resolve_model_dir
from realtime_fer.preprocess import to_model_input
from realtime_fer.recognizer import EmotionRecognizer

BATCHES = (1, 16)
Classifier = Callable[[np.ndarray], object]  # uint8 faces (N, 48, 48) -> probabilities


def torch_eager(model: str) -> Classifier | None:
    """PyTorch fp32 eager inference of the folder's ``weights.pt``; ``None`` without torch."""
    try:
        import torch

        from realtime_fer.architectures import load_trained
    except ImportError:
        print("note: torch is not installed, so the PyTorch eager rows are skipped")
        return None
    network = load_trained(resolve_model_dir(model))

    @torch.inference_mode()
    def classify(faces: np.ndarray) -> np.ndarray:
        return torch.softmax(network(torch.from_numpy(to_model_input(faces))), dim=1).numpy()

    return classify


def runtimes(model: str) -> dict[str, Classifier]:
    """Our runtimes measurable here for ``model``, by row name."""
    found: dict[str, Classifier] = {
        "onnxruntime fp32": EmotionRecognizer(model, tta="none", precision="fp32").predict_proba
    }
    if (resolve_model_dir(model) / INT8_ONNX_FILE).is_file():
        found["onnxruntime int8"] = EmotionRecognizer(model, tta="none", precision="int8").predict_proba
    else:
        print(f"note: {model} has no {INT8_ONNX_FILE} (realtime-fer quantize makes it): no int8 rows")
    served = EmotionRecognizer(model)
    found[f"served: {served.serving}"] = served.predict_proba
    for tta in ("flip", "ten"):
        if tta != served.tta:
            other = EmotionRecognizer(model, tta=tta)
            found[other.serving] = other.predict_proba
    eager = torch_eager(model)
    if eager is not None:
        found["pytorch eager fp32"] = eager
    return found


def timed_rows(model: str, runtime: str, classify: Classifier, runs: int) -> list[dict]:
    rows = []
    for batch in BATCHES:
        faces = np.random.default_rng(0).integers(0, 256, (batch, 48, 48), dtype=np.uint8)
        ms = median_ms(lambda faces=faces: classify(faces), runs) / batch
        rows.append(
            {
                "model": model,
                "runtime": runtime,
                "batch": batch,
                "ms_per_face": round(ms, 4),
                "faces_per_s": round(1000 / ms, 1),
            }
        )
    return rows


def keras_rows(model: str, runs: int) -> list[dict]:
    """The paper's own call, tf.keras ``model.predict``, with ``model``'s weights ([] without TF)."""
    tf = import_tensorflow()
    if tf is None:
        return []
    keras_model, _ = paper_model(tf, resolve_model_dir(model) / WEIGHTS_FILE)

    def predict(faces: np.ndarray) -> np.ndarray:
        # the paper's FacialExpressionModel.predict_emotion; verbose=0 was Keras 2's default
        return keras_model.predict(faces[..., None].astype(np.float32) / 255.0, verbose=0)

    return timed_rows(model, "tf.keras predict (paper)", predict, runs)


def measure(model: str, runs: int) -> list[dict]:
    rows = [row for name, run in runtimes(model).items() for row in timed_rows(model, name, run, runs)]
    if EmotionRecognizer(model).spec["architecture"] == "paper":  # the network the paper's stack runs
        rows += in_own_process(keras_rows, model, runs)
    for row in rows:
        base = next(r for r in rows if r["runtime"] == "onnxruntime fp32" and r["batch"] == row["batch"])
        row["vs_onnx_fp32"] = round(base["ms_per_face"] / row["ms_per_face"], 2)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=300, help="timed calls per setting (median)")
    parser.add_argument("--model", action="append", help="shipped model or folder (default: all shipped)")
    args = parser.parse_args()
    models = args.model or available_models()
    rows = [row for model in models for row in measure(model, args.runs)]
    print(describe_machine())
    print(table(rows, ["model", "runtime", "batch", "ms_per_face", "faces_per_s", "vs_onnx_fp32"]))
    # what precision="auto" served, measured here, and why
    served = {model: EmotionRecognizer(model).serving_choice for model in models}
    for model, choice in served.items():
        print(f"{model}: served {choice['precision']} on {choice['provider']}: {choice['reason']}")
    print(f"wrote {write_results('classify_speed', rows, runs=args.runs, served=served)}")


if __name__ == "__main__":
    main()
