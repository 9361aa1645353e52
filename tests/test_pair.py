"""``realtime-fer pair``: two trained networks served as one model, the second on the mirror image."""

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from realtime_fer import data
from realtime_fer.architectures import create_model, load_trained, model_to_json
from realtime_fer.cli import main
from realtime_fer.export import save_model
from realtime_fer.model_folder import INT8_ONNX_FILE
from realtime_fer.quantize import quantize
from realtime_fer.recognizer import EmotionRecognizer

SMALL = {"widths": [8, 16], "depths": [1, 1]}


def member(folder: Path, seed: int, config: dict = SMALL) -> Path:
    """A small compact network with its own weights and BatchNorm statistics, exported to ``folder``."""
    torch.manual_seed(seed)
    model = create_model("compact", **config)
    with torch.no_grad():
        model.train()(torch.rand(16, 1, 48, 48))
    save_model(model.eval(), model_to_json(model), folder)
    (folder / "metrics.json").write_text(json.dumps({"command": f"seed {seed}", "train_wall_time_s": 1.5}))
    return folder


@pytest.fixture(scope="module")
def members(tmp_path_factory) -> tuple[Path, Path]:
    return member(tmp_path_factory.mktemp("first"), 1), member(tmp_path_factory.mktemp("second"), 2)


def pair(first: Path, second: Path, data_root: Path, out: Path) -> int:
    return main(["pair", str(first), str(second), "--data", str(data_root), "--out", str(out)])


def test_a_pair_averages_its_first_network_on_the_face_and_its_second_on_the_mirror(
    members, kaggle_root, tmp_path
):
    first, second = members
    assert pair(first, second, kaggle_root, tmp_path / "pair") == 0

    faces = np.random.default_rng(0).integers(0, 256, (6, 48, 48), dtype=np.uint8)
    served = EmotionRecognizer(tmp_path / "pair", precision="fp32")
    assert served.tta == "none"  # the mirror view is inside the graph
    on_face = EmotionRecognizer(first, tta="none", precision="fp32").predict_proba(faces)
    on_mirror = EmotionRecognizer(second, tta="none", precision="fp32").predict_proba(faces[:, :, ::-1])
    np.testing.assert_allclose(served.predict_proba(faces), (on_face + on_mirror) / 2, atol=1e-5)

    # the JSON + weights route rebuilds it, and its metrics are its own served score
    rebuilt, alone = load_trained(tmp_path / "pair").second.state_dict(), load_trained(second).state_dict()
    assert all(torch.equal(rebuilt[name], alone[name]) for name in alone)
    metrics = json.loads((tmp_path / "pair" / "metrics.json").read_text())
    validation = data.load(kaggle_root, "public_test")
    expected = (served.predict_proba(validation.images).argmax(1) == validation.labels).mean()
    assert metrics["accuracy"]["public_test"] == round(float(expected), 4)
    assert metrics["command"].startswith("realtime-fer pair ")
    assert [m["command"] for m in metrics["members"].values()] == ["seed 1", "seed 2"]
    assert metrics["train_wall_time_s"] == 3.0


def test_a_network_paired_with_itself_is_its_flip_tta(members, kaggle_root, tmp_path):
    first, _ = members
    assert pair(first, first, kaggle_root, tmp_path / "twin") == 0
    faces = np.random.default_rng(1).integers(0, 256, (4, 48, 48), dtype=np.uint8)
    twin = EmotionRecognizer(tmp_path / "twin", precision="fp32").predict_proba(faces)
    flip = EmotionRecognizer(first, tta="flip", precision="fp32").predict_proba(faces)
    np.testing.assert_allclose(twin, flip, atol=1e-5)


def test_a_pair_quantizes_to_int8(members, kaggle_root, tmp_path):
    assert pair(*members, kaggle_root, tmp_path / "pair") == 0
    quantize(tmp_path / "pair", kaggle_root, calibration_faces=20)
    graph = onnx.load(tmp_path / "pair" / INT8_ONNX_FILE).graph
    assert sum(node.op_type == "QuantizeLinear" for node in graph.node) >= 4  # both networks' convs
    int8 = EmotionRecognizer(tmp_path / "pair", precision="int8")
    assert int8.predict_proba(np.zeros((2, 48, 48), np.uint8)).shape == (2, 7)


def test_networks_of_different_shapes_are_refused_in_one_line(members, kaggle_root, tmp_path, capsys):
    other = member(tmp_path / "wider", 3, {"widths": [16, 16], "depths": [1, 1]})
    assert pair(members[0], other, kaggle_root, tmp_path / "pair") == 2
    err = capsys.readouterr().err
    assert err.startswith("realtime-fer pair: error: ") and "not the same architecture" in err
    assert not (tmp_path / "pair").exists()
