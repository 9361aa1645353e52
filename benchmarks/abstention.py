"""A calibrated, abstaining model on FER+ validation faces, as served: how many faces its
``uncertain_below`` labels and how accurate those and the rest are, and its calibration with and
without the served temperature (T = 1 undone on the same probabilities).

    python benchmarks/abstention.py [--model ferplus] [--data ../shared/ferplus]
"""

import argparse

from common import table, write_results

from realtime_fer import data
from realtime_fer.calibration import apply_temperature, expected_calibration_error, negative_log_likelihood
from realtime_fer.recognizer import EmotionRecognizer


def measure(model: str, faces: data.FaceSet) -> dict:
    recognizer = EmotionRecognizer(model)
    served = recognizer.predict_proba(faces.images)
    temperature = recognizer.temperature
    untempered = apply_temperature(served, 1.0 / temperature)  # softmax(log p * T) undoes 1/T
    threshold = recognizer.uncertain_below
    right = served.argmax(1) == faces.labels
    sure = served.max(1) >= threshold
    return {
        "model": model,
        "serving": recognizer.serving,
        "faces": len(faces),
        "accuracy": round(float(right.mean()), 4),
        "uncertain_below": threshold,
        "labelled": round(float(sure.mean()), 4),
        "accuracy_labelled": round(float(right[sure].mean()), 4),
        "accuracy_uncertain": round(float(right[~sure].mean()), 4) if (~sure).any() else None,
        "temperature": temperature,
        "nll": round(negative_log_likelihood(served, faces.labels), 4),
        "ece": round(expected_calibration_error(served, faces.labels), 4),
        "nll_t1": round(negative_log_likelihood(untempered, faces.labels), 4),
        "ece_t1": round(expected_calibration_error(untempered, faces.labels), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="ferplus")
    parser.add_argument("--data", default="../shared/ferplus", help="a FER+ root: its FER2013Valid")
    args = parser.parse_args()
    faces = data.load(args.data, "public_test").scored()
    rows = [measure(args.model, faces)]
    print(table(rows, list(rows[0])))
    print(f"wrote {write_results('abstention', rows)}")


if __name__ == "__main__":
    main()
