"""The recipe's parts one by one: holdout, augmentations, optimizers, devices, checkpoint selection,
EMA export and resume."""

import json
import sys

import numpy as np
import pytest
import torch

from realtime_fer import device as device_module
from realtime_fer import options
from realtime_fer import train as train_module
from realtime_fer.augment import AUGMENTATIONS, augmentation, random_affine, random_erasing
from realtime_fer.data import FaceSet
from realtime_fer.export import export_run
from realtime_fer.run_folder import holdout_split
from realtime_fer.train import TrainConfig, make_optimizer, make_schedule, train
from tests.conftest import ctrl_c_in_epoch, synthetic_faces, train_and_export, write_kaggle_tree


@pytest.fixture
def small_root(tmp_path):
    return write_kaggle_tree(tmp_path / "fer", synthetic_faces({"train": 6, "public": 2}))


def face_set(labels: list[int]) -> FaceSet:
    images = np.arange(len(labels), dtype=np.uint8)[:, None, None] * np.ones((1, 48, 48), np.uint8)
    names = np.asarray([f"face_{i}" for i in range(len(labels))])
    return FaceSet(images, np.asarray(labels, np.int64), names, "test", "no-fingerprint")


def test_holdout_is_stratified_disjoint_and_seeded():
    faces = face_set([0] * 50 + [1] * 20 + [2] * 10)
    kept, held = holdout_split(faces, 0.2, seed=3)
    assert len(kept) + len(held) == 80
    assert not set(kept.images[:, 0, 0]) & set(held.images[:, 0, 0])  # each face on one side only
    assert np.bincount(held.labels).tolist() == [10, 4, 2]
    again = holdout_split(faces, 0.2, seed=3)[1]
    other = holdout_split(faces, 0.2, seed=4)[1]
    assert np.array_equal(held.images, again.images) and not np.array_equal(held.images, other.images)


def test_affine_jitter_moves_faces_within_range_and_repeats_with_the_seed():
    images = torch.rand(32, 1, 48, 48)
    moved = random_affine(images, torch.Generator().manual_seed(0))
    assert moved.shape == images.shape
    assert moved.min() >= images.min() - 1e-6 and moved.max() <= images.max() + 1e-6  # bilinear, border
    assert (moved - images).abs().flatten(1).amax(1).min() > 0.01  # every face is moved
    assert torch.equal(moved, random_affine(images, torch.Generator().manual_seed(0)))


def test_random_erasing_replaces_one_rectangle_in_about_half_the_faces():
    images = torch.full((400, 1, 48, 48), -1.0)  # noise lies in [0, 1): erased pixels are >= 0
    erased = random_erasing(images, torch.Generator().manual_seed(0)) >= 0
    touched = erased.flatten(1).any(1)
    assert 150 < touched.sum() < 250
    for mask in erased[touched][:20, 0]:
        rows, cols = mask.any(1).nonzero().flatten(), mask.any(0).nonzero().flatten()
        assert mask[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1].all()  # one solid rectangle
        assert 0.02 * 48 * 48 * 0.5 <= mask.sum() <= 0.2 * 48 * 48 * 1.5


def test_no_augmentation_is_the_identity():
    images = torch.rand(4, 1, 48, 48)
    assert torch.equal(AUGMENTATIONS["none"](images, torch.Generator()), images)


def test_every_option_the_cli_offers_is_implemented_and_nothing_else():
    assert tuple(AUGMENTATIONS) == options.AUGMENTS
    model = torch.nn.Linear(2, 2)
    for name in options.OPTIMIZERS:
        make_optimizer(TrainConfig(data="", optimizer=name).resolved(), model)
    for name in options.SCHEDULES:
        optimizer = make_optimizer(TrainConfig(data="").resolved(), model)
        make_schedule(TrainConfig(data="", schedule=name).resolved(), optimizer, steps_per_epoch=3)
    for precision in options.TRAIN_PRECISIONS:
        device_module.pick_device("cpu", precision)
    with pytest.raises(ValueError, match="unknown optimizer 'rmsprop'; use adam, adamw, sgd"):
        make_optimizer(TrainConfig(data="", optimizer="rmsprop").resolved(), model)
    with pytest.raises(ValueError, match="unknown schedule 'cosine'"):
        make_schedule(TrainConfig(data="", schedule="cosine").resolved(), optimizer, steps_per_epoch=3)
    with pytest.raises(ValueError, match="unknown augmentation 'heavy'"):
        augmentation("heavy")


def test_resolving_a_config_reads_no_data(tmp_path):
    missing = str(tmp_path / "nowhere")
    assert TrainConfig(data=missing, arch="paper").resolved().val_split is None
    assert TrainConfig(data=missing, arch="paper", holdout=0.1).resolved().val_split == "train_holdout"


def test_a_recorded_config_with_the_old_names_still_loads():
    record = {"data": "d", "model": "compact", "precision": "fp32", "val_split": "public_test"}
    config = TrainConfig.from_record(record)
    assert (config.train_precision, config.arch) == ("fp32", "compact")


def test_the_old_spellings_of_arch_work_with_a_deprecation_note():
    with pytest.warns(DeprecationWarning, match="arch="):
        config = TrainConfig(data="", model="compact")
    assert config.arch == "compact" and config.resolved().out == "runs/compact"
    assert "model" not in TrainConfig.field_names()
    sys.modules.pop("realtime_fer.models", None)
    with pytest.warns(DeprecationWarning, match="realtime_fer.architectures"):
        from realtime_fer.models.spec import count_parameters
    from realtime_fer.architectures import spec

    assert count_parameters is spec.count_parameters


def test_sgd_is_nesterov_momentum_with_the_recipes_decay():
    cfg = TrainConfig(data="", arch="paper", optimizer="sgd", lr=0.1, weight_decay=1e-4)
    optimizer = make_optimizer(cfg.resolved(), torch.nn.Linear(2, 2))
    assert isinstance(optimizer, torch.optim.SGD)
    group = optimizer.param_groups[0]
    assert group["nesterov"] and group["momentum"] == 0.9
    assert group["lr"] == 0.1 and group["weight_decay"] == 1e-4


def test_pick_device_honours_the_precision(monkeypatch):
    cpu = torch.device("cpu")
    assert device_module.pick_device("cpu", "fp32") == (cpu, None)
    assert device_module.pick_device("cpu", "bf16") == (cpu, torch.bfloat16)
    for supported, expected in ((True, torch.bfloat16), (False, None)):
        monkeypatch.setattr(device_module, "has_native_bf16", lambda supported=supported: supported)
        assert device_module.pick_device("cpu", "auto") == (cpu, expected)
    with pytest.raises(ValueError, match="unknown training precision"):
        device_module.pick_device("cpu", "fp8")


def scripted_validation(monkeypatch, accuracies: list[float]) -> None:
    """Validation passes report ``accuracies`` in turn; training passes run for real."""
    real_validate, scores = train_module.validate, iter(accuracies)

    def validate(*args, **kwargs):
        return {**real_validate(*args, **kwargs), "acc": next(scores)}

    monkeypatch.setattr(train_module, "validate", validate)


@pytest.mark.parametrize(("select", "exported_epoch"), [("best", 1), ("last", 2)])
def test_select_exports_the_best_or_the_last_epoch(select, exported_epoch, small_root, tmp_path, monkeypatch):
    scripted_validation(monkeypatch, [0.9, 0.1])  # epoch 1 is the best, epoch 2 the last
    out = str(tmp_path / select)
    config = TrainConfig(data=str(small_root), arch="compact", out=out, epochs=2, select=select)
    out = train_and_export(config)
    assert torch.load(out / "checkpoints" / "selected.pt", weights_only=False)["epoch"] == exported_epoch
    assert json.loads((out / "metrics.json").read_text())["best_epoch"] == exported_epoch


def test_the_ema_weights_are_the_ones_exported(small_root, tmp_path):
    config = TrainConfig(
        data=str(small_root), arch="compact", out=str(tmp_path / "e"), epochs=1, batch_size=8, ema=0.9
    )
    out = train_and_export(config)
    exported = torch.load(out / "weights.pt")
    last = torch.load(out / "checkpoints" / "last.pt", weights_only=False)
    averaged = {k.removeprefix("module."): v for k, v in last["ema"].items() if k.startswith("module.")}
    assert all(torch.equal(exported[k], averaged[k]) for k in exported)
    raw = last["model"]
    assert any(not torch.equal(exported[k], raw[k]) for k in exported if exported[k].is_floating_point())


@pytest.mark.slow
@pytest.mark.parametrize("distilled", [False, True])
def test_resume_gives_the_same_weights_as_an_uninterrupted_run(small_root, tmp_path, trained_run, distilled):
    # distilled: mixup and two of the teacher's ten views drawn per face, from the same generator
    recipe = {"teacher": str(trained_run), "teacher_tta": "ten", "teacher_views": 2, "mixup": 0.4}

    def config(name: str, **extra) -> TrainConfig:
        out = str(tmp_path / name)
        root = str(small_root)
        return TrainConfig(
            data=root, arch="compact", out=out, epochs=2, train_precision="fp32",
            **(recipe if distilled else {}), **extra,
        )

    straight = train_and_export(config("straight"))
    with ctrl_c_in_epoch(2), pytest.raises(SystemExit):
        train(config("resumed"))
    resumed = train_and_export(config("resumed", resume=True))
    a, b = torch.load(straight / "weights.pt"), torch.load(resumed / "weights.pt")
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.slow
def test_a_run_folder_from_before_selected_pt_still_exports_and_resumes(small_root, tmp_path):
    """Runs started before the rename hold checkpoints/best.pt and record ``precision``."""
    def config(epochs: int, **extra) -> TrainConfig:  # plateau: a schedule that a longer run extends
        root, out = str(small_root), str(tmp_path / "old")
        return TrainConfig(data=root, arch="compact", schedule="plateau", out=out, epochs=epochs, **extra)

    out = train(config(1)).out
    checkpoints = out / "checkpoints"
    (checkpoints / "selected.pt").rename(checkpoints / "best.pt")
    last = torch.load(checkpoints / "last.pt", weights_only=False)
    last["config"]["precision"] = last["config"].pop("train_precision")
    torch.save(last, checkpoints / "last.pt")
    assert export_run(out)["best_epoch"] == 1  # exported from best.pt
    train(config(2, resume=True, select="last"))
    assert not (checkpoints / "best.pt").exists()  # renamed on resume, then kept up to date
    assert torch.load(checkpoints / "selected.pt", weights_only=False)["epoch"] == 2
    assert export_run(out)["epochs"] == 2
