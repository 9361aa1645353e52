"""ONNX export: parity with PyTorch, the JSON + weights route, and one preprocessing for all."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from realtime_fer.architectures import create_model, load_trained, model_to_json
from realtime_fer.export import onnx_parity, save_model
from realtime_fer.model_folder import INT8_ONNX_FILE, QUANTIZATION_FILE, ModelError
from realtime_fer.preprocess import to_model_input
from realtime_fer.recognizer import EmotionRecognizer


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """An untrained paper model with non-trivial BatchNorm statistics, exported once."""
    torch.manual_seed(0)
    model = create_model("paper")
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.rand(16, 1, 48, 48))
    model.eval()
    folder = tmp_path_factory.mktemp("exported")
    save_model(model, model_to_json(model), folder)
    return model, folder


def test_onnx_matches_pytorch_in_fp32(exported):
    model, folder = exported
    faces = np.random.default_rng(1).random((16, 1, 48, 48), dtype=np.float32)
    assert onnx_parity(model, folder, faces) <= 1e-4


def test_weights_and_json_rebuild_the_model(exported):
    model, folder = exported
    rebuilt = load_trained(folder)
    faces = torch.rand(4, 1, 48, 48)
    with torch.no_grad():
        assert torch.equal(model(faces), rebuilt(faces))


def test_recognizer_returns_probabilities_for_any_batch(exported):
    _, folder = exported
    recognizer = EmotionRecognizer(folder)
    faces = np.random.default_rng(2).integers(0, 256, (5, 48, 48), dtype=np.uint8)
    probabilities = recognizer.predict_proba(faces)
    assert probabilities.shape == (5, 7)
    np.testing.assert_allclose(probabilities.sum(1), 1, atol=1e-5)
    assert recognizer.predict_proba([]).shape == (0, 7)
    crops = [np.full((100, 80), 128, np.uint8), np.zeros((30, 30), np.uint8)]
    assert recognizer.predict_proba(crops).shape == (2, 7)
    emotion = recognizer.classify(faces[:1])[0]
    assert emotion.label == max(emotion.scores, key=emotion.scores.get)
    assert len(emotion.scores) == 7


def test_recognizer_threads_do_not_spin_between_calls(exported):
    # a spinning ONNX Runtime thread steals the cores the next frame's face detection runs on
    session = EmotionRecognizer(exported[1]).session
    assert session.get_session_options().get_session_config_entry("session.intra_op.allow_spinning") == "0"


def test_flip_tta_averages_a_face_and_its_mirror(exported):
    _, folder = exported
    face = np.random.default_rng(3).integers(0, 256, (1, 48, 48), dtype=np.uint8)
    plain, tta = EmotionRecognizer(folder), EmotionRecognizer(folder, tta="flip")
    expected = (plain.predict_proba(face) + plain.predict_proba(face[:, :, ::-1].copy())) / 2
    np.testing.assert_allclose(tta.predict_proba(face), expected, atol=1e-6)


def test_ten_view_tta_averages_four_shifted_copies_and_all_mirrors(exported):
    _, folder = exported
    faces = np.random.default_rng(4).integers(0, 256, (2, 48, 48), dtype=np.uint8)
    plain, ten = EmotionRecognizer(folder, tta="none"), EmotionRecognizer(folder, tta="ten")
    padded = np.pad(faces, ((0, 0), (3, 3), (3, 3)), mode="edge")
    shifts = ((-3, 0), (3, 0), (0, -3), (0, 3))
    views = [faces] + [padded[:, 3 + dy : 51 + dy, 3 + dx : 51 + dx] for dy, dx in shifts]
    views += [view[:, :, ::-1] for view in views]
    expected = np.mean([plain.predict_proba(np.ascontiguousarray(view)) for view in views], axis=0)
    np.testing.assert_allclose(ten.predict_proba(faces), expected, atol=1e-6)
    assert ten.serving == "fp32 + ten-view TTA"


def test_exporting_again_removes_the_int8_graph_of_the_old_weights(exported, tmp_path):
    model, _ = exported
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / INT8_ONNX_FILE).write_bytes(b"old int8 graph")
    (folder / QUANTIZATION_FILE).write_text("{}")
    save_model(model, model_to_json(model), folder)
    assert not (folder / INT8_ONNX_FILE).exists() and not (folder / QUANTIZATION_FILE).exists()
    assert EmotionRecognizer(folder).precision == "fp32"


def copy_serving_tta(folder: Path, copy: Path, tta: object) -> Path:
    """A copy of a model folder whose model.json asks for ``tta``."""
    shutil.copytree(folder, copy)
    spec = json.loads((copy / "model.json").read_text())
    spec["serving"]["tta"] = tta
    (copy / "model.json").write_text(json.dumps(spec))
    return copy


def test_recognizer_follows_the_models_serving_tta_unless_told(exported, tmp_path):
    _, folder = exported
    assert json.loads((folder / "model.json").read_text())["serving"] == {"tta": "none"}
    assert EmotionRecognizer(folder).tta == "none"
    copy = copy_serving_tta(folder, tmp_path / "with-tta", "flip")
    assert EmotionRecognizer(copy).tta == "flip"
    assert EmotionRecognizer(copy, tta="none").tta == "none"
    face = np.random.default_rng(5).integers(0, 256, (2, 48, 48), dtype=np.uint8)
    np.testing.assert_allclose(
        EmotionRecognizer(copy).predict_proba(face), EmotionRecognizer(folder, tta="flip").predict_proba(face)
    )


@pytest.mark.parametrize(("written", "read"), [(True, "flip"), (False, "none")])
def test_model_json_from_before_tta_modes_still_loads(exported, tmp_path, written, read):
    _, folder = exported
    copy = copy_serving_tta(folder, tmp_path / "old", written)
    assert EmotionRecognizer(copy).tta == read


def test_unknown_tta_is_a_clear_error(exported, tmp_path):
    _, folder = exported
    with pytest.raises(ValueError, match="unknown tta 'twice'; use none, flip, ten"):
        EmotionRecognizer(folder, tta="twice")
    copy = copy_serving_tta(folder, tmp_path / "odd", "twice")
    with pytest.raises(ModelError, match=r"model\.json: serving\.tta 'twice' is not one of none, flip, ten"):
        EmotionRecognizer(copy)


def test_serving_and_training_see_identical_tensors(exported, monkeypatch):
    """The recognizer feeds ONNX exactly what training feeds the network: to_model_input(faces)."""
    _, folder = exported
    recognizer = EmotionRecognizer(folder)
    faces = np.random.default_rng(4).integers(0, 256, (6, 48, 48), dtype=np.uint8)
    seen = []
    real_run = recognizer.session.run
    monkeypatch.setattr(
        recognizer.session, "run", lambda out, feed: seen.append(feed["faces"]) or real_run(out, feed)
    )
    recognizer.predict_proba(faces)
    training_batch = torch.from_numpy(to_model_input(faces))  # what train.py builds its tensors from
    assert np.array_equal(seen[0], training_batch.numpy())
    assert seen[0].dtype == np.float32 and seen[0].shape == (6, 1, 48, 48)


def test_missing_or_corrupt_model_is_a_clear_error(tmp_path, exported):
    with pytest.raises(ModelError, match="not found"):
        EmotionRecognizer(tmp_path / "nothing-here")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "model.json").write_bytes((exported[1] / "model.json").read_bytes())
    (broken / "model.onnx").write_bytes(b"not an onnx graph")
    with pytest.raises(ModelError, match="model.onnx: cannot be loaded"):
        EmotionRecognizer(broken)
    (broken / "model.json").write_text("{")
    with pytest.raises(ModelError, match="model.json: not valid JSON"):
        EmotionRecognizer(broken)


def test_a_stray_folder_named_like_a_shipped_model_does_not_shadow_it(tmp_path, monkeypatch):
    from realtime_fer.model_folder import resolve_model_dir

    shipped = resolve_model_dir("fast")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "fast").mkdir()  # e.g. a folder of notes, no model.onnx
    assert resolve_model_dir("fast") == shipped
    (tmp_path / "fast" / "model.onnx").write_bytes((shipped / "model.onnx").read_bytes())
    assert resolve_model_dir("fast") == Path("fast")  # a real model folder is taken as given
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="model.json: missing"):
        EmotionRecognizer(tmp_path / "empty")


def test_realtime_fer_models_is_searched_before_the_shipped_models(tmp_path, monkeypatch, trained_run):
    from realtime_fer.model_folder import MODELS_ENV, available_models, resolve_model_dir

    root = tmp_path / "my-models"
    shutil.copytree(trained_run, root / "mine", ignore=shutil.ignore_patterns("checkpoints"))
    shutil.copytree(trained_run, root / "fast", ignore=shutil.ignore_patterns("checkpoints"))
    monkeypatch.setenv(MODELS_ENV, str(root))
    monkeypatch.chdir(tmp_path)
    assert resolve_model_dir("mine") == root / "mine"
    assert resolve_model_dir("fast") == root / "fast"  # the user's own "fast" comes first
    assert {"mine", "fast", "accurate"} <= set(available_models())
    assert EmotionRecognizer("mine").spec["architecture"] == "paper"


def test_the_export_command_rebuilds_a_runs_model_folder(tmp_path, trained_run, capsys):
    from realtime_fer.cli import main

    run = shutil.copytree(trained_run, tmp_path / "run")
    (run / "model.onnx").unlink()
    (run / "metrics.json").unlink()
    assert main(["export", str(run)]) == 0
    accuracy = json.loads(capsys.readouterr().out)
    assert (run / "model.onnx").is_file()
    assert accuracy == json.loads((run / "metrics.json").read_text())["accuracy"]
    assert accuracy == json.loads((trained_run / "metrics.json").read_text())["accuracy"]  # same weights


@pytest.mark.parametrize("name", ["paper", "fast"])
def test_shipped_model_json_and_weights_rebuild_its_onnx_graph(name):
    from realtime_fer.model_folder import resolve_model_dir

    folder = resolve_model_dir(name)
    faces = np.random.default_rng(5).random((4, 1, 48, 48), dtype=np.float32)
    assert onnx_parity(load_trained(folder), folder, faces) <= 1e-4
