"""Knowledge distillation: the loss, the teachers' averaged views, and how it enters a training step."""

import csv
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from realtime_fer.architectures import create_model, model_to_json
from realtime_fer.distill import Teachers, distillation_loss
from realtime_fer.train import TrainConfig, Trainer, make_optimizer, train_epoch
from tests.conftest import synthetic_faces, train_and_export, write_kaggle_tree

CPU = torch.device("cpu")


def save_teacher(folder, seed: int):
    """A model folder holding just what a teacher needs: ``model.json`` and ``weights.pt``."""
    torch.manual_seed(seed)
    network = create_model("compact").eval()
    folder.mkdir()
    (folder / "model.json").write_text(json.dumps(model_to_json(network)))
    torch.save(network.state_dict(), folder / "weights.pt")
    return folder, network


def test_distillation_loss_is_the_scaled_kl_divergence():
    student, teacher_logits = torch.randn(5, 7), torch.randn(5, 7)
    teacher = torch.softmax(teacher_logits / 3, 1)
    expected = (teacher * (teacher.log() - F.log_softmax(student / 3, 1))).sum(1).mean() * 9
    assert torch.isclose(distillation_loss(student, teacher, 3.0), expected)
    assert distillation_loss(teacher_logits, teacher, 3.0).abs() < 1e-5  # nothing left to learn
    assert distillation_loss(student, teacher, 3.0) > 0.01


def test_teachers_average_their_views_and_each_other(tmp_path):
    (a, net_a), (b, net_b) = save_teacher(tmp_path / "a", 1), save_teacher(tmp_path / "b", 2)
    faces = torch.rand(3, 1, 48, 48)
    with torch.no_grad():
        expected = sum(
            (torch.softmax(net(faces) / 2, 1) + torch.softmax(net(faces.flip(-1)) / 2, 1)) / 2
            for net in (net_a, net_b)
        ) / 2
    teachers = Teachers([a, b], "flip", CPU, None)
    assert torch.allclose(teachers.probabilities(faces, 2.0), expected, atol=1e-5)
    single = Teachers([a], "none", CPU, None).probabilities(faces, 2.0)
    assert not torch.allclose(single, expected, atol=1e-3)


def test_teachers_refuse_an_unknown_view_set(tmp_path):
    folder, _ = save_teacher(tmp_path / "a", 1)
    with pytest.raises(ValueError, match="unknown teacher TTA '.*'; use none, flip, ten"):
        Teachers([folder], "twelve", CPU, None)
    with pytest.raises(ValueError, match="teacher views must be 0 \\(all\\) to 2 for 'flip'; got 3"):
        Teachers([folder], "flip", CPU, None, views=3)


def test_drawn_views_are_some_of_each_faces_views_and_average_to_all_of_them(tmp_path):
    folder, network = save_teacher(tmp_path / "a", 1)
    faces = torch.rand(16, 1, 48, 48)
    with torch.no_grad():
        plain, mirrored = torch.softmax(network(faces), 1), torch.softmax(network(faces.flip(-1)), 1)
    one_view = Teachers([folder], "flip", CPU, None, views=1)
    one = one_view.probabilities(faces, 1.0, torch.Generator().manual_seed(0))
    is_plain = torch.isclose(one, plain, atol=1e-5).all(1)
    assert (is_plain | torch.isclose(one, mirrored, atol=1e-5).all(1)).all()  # one view per face
    assert 0 < is_plain.sum() < len(faces)  # drawn face by face, not one view for the batch

    # a low temperature sets the views apart (an untrained network barely tells them apart at 1)
    all_ten = Teachers([folder], "ten", CPU, None).probabilities(faces[:4], 0.05)
    plain_view = Teachers([folder], "none", CPU, None).probabilities(faces[:4], 0.05)
    assert (plain_view - all_ten).abs().max() > 0.03  # so a biased draw would show
    two_of_ten = Teachers([folder], "ten", CPU, None, views=2)
    generator = torch.Generator().manual_seed(0)
    draws = torch.stack([two_of_ten.probabilities(faces[:4], 0.05, generator) for _ in range(300)])
    assert not torch.allclose(draws[0], draws[1], atol=1e-4)  # each call draws again
    assert torch.allclose(draws.mean(0), all_ten, atol=0.01)  # unbiased


def one_step(labels: torch.Tensor, faces: np.ndarray, teachers, distill_weight: float) -> dict:
    """The student's weights after one training epoch of one batch."""
    cfg = TrainConfig(
        data="", arch="compact", distill_weight=distill_weight, batch_size=16
    ).resolved()
    torch.manual_seed(0)
    student = create_model("compact")
    optimizer = make_optimizer(cfg, student)
    generator = torch.Generator().manual_seed(0)
    trainer = Trainer(cfg, student, optimizer, CPU, order=generator, teachers=teachers)
    fit = train_epoch(trainer, faces, labels)
    assert 0 < fit["teacher_share"] < 1 if teachers else fit["teacher_share"] == 0
    return student.state_dict()


def test_full_distillation_ignores_the_labels_and_none_ignores_the_teacher(tmp_path):
    folder, _ = save_teacher(tmp_path / "t", 3)
    teachers = Teachers([folder], "none", CPU, None)
    faces = torch.randint(0, 256, (16, 48, 48), dtype=torch.uint8).numpy()  # as train_epoch reads them
    labels = torch.arange(16) % 7
    shuffled = labels.roll(1)

    def same(a: dict, b: dict) -> bool:
        return all(torch.equal(a[k], b[k]) for k in a)

    assert same(one_step(labels, faces, teachers, 1.0), one_step(shuffled, faces, teachers, 1.0))
    assert not same(one_step(labels, faces, teachers, 0.5), one_step(shuffled, faces, teachers, 0.5))
    assert same(one_step(labels, faces, teachers, 0.0), one_step(labels, faces, None, 0.0))


def test_a_distilled_run_records_its_teacher_and_the_teachers_share(tmp_path, trained_run):
    root = write_kaggle_tree(tmp_path / "fer", synthetic_faces({"train": 4, "public": 2}))
    config = TrainConfig(
        data=str(root), arch="vgg-kd", teacher=str(trained_run), teacher_views=1, out=str(tmp_path / "kd"),
        epochs=1,
    )
    out = train_and_export(config)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["config"]["teacher"] == str(trained_run)
    assert metrics["config"]["teacher_tta"] == "flip" and metrics["config"]["distill_weight"] == 0.7
    assert metrics["config"]["teacher_views"] == 1
    rows = list(csv.DictReader((out / "history.csv").read_text().splitlines()))
    assert 0 < float(rows[0]["teacher_share"]) < 1
    assert json.loads((out / "model.json").read_text())["serving"] == {"tta": "flip"}
