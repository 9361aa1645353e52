"""Per-face classification speed of every shipped model in ONNX Runtime, at batch 1 and 16.

python benchmarks/classify_speed.py [--runs 300]
"""

import argparse

import numpy as np
from common import median_ms, table, write_results

from realtime_fer.recognizer import EmotionRecognizer, available_models


def measure(model: str, runs: int) -> list[dict]:
    recognizer = EmotionRecognizer(model)
    rows = []
    for batch in (1, 16):
        faces = np.random.default_rng(0).integers(0, 256, (batch, 48, 48), dtype=np.uint8)
        ms = median_ms(lambda faces=faces: recognizer.predict_proba(faces), runs) / batch
        rows.append(
            {
                "model": model,
                "runtime": "onnxruntime fp32",
                "batch": batch,
                "ms_per_face": round(ms, 4),
                "faces_per_s": round(1000 / ms, 1),
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=300, help="timed calls per setting (median)")
    args = parser.parse_args()
    rows = [row for model in available_models() for row in measure(model, args.runs)]
    print(table(rows, ["model", "runtime", "batch", "ms_per_face", "faces_per_s"]))
    print(f"wrote {write_results('classify_speed', rows, runs=args.runs)}")


if __name__ == "__main__":
    main()
