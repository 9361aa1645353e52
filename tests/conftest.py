"""Shared fixtures: tiny synthetic FER-2013 data sets in both layouts and the CSV, and a cache dir.

Each synthetic face carries its class in its pixels (a per-class brightness and stripe), so a
label mix-up between layouts shows up as a mismatch between images and labels.
"""

import csv
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np
import pytest

from realtime_fer.emotions import CSV_ID_TO_EMOTION, EMOTIONS

SLOW_GROUPS = ("slow", "browser", "wheel", "distributed", "realdata")  # their marks: see pyproject.toml


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--all", action="store_true", help=f"also run the slow groups ({', '.join(SLOW_GROUPS)}); CI does"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A plain ``pytest`` leaves the slow groups out (a few minutes instead of a quarter of an hour);
    ``--all`` runs everything, an ``-m`` expression of one's own chooses for itself, and a test named
    on the command line (``file.py::test``) runs whatever its group."""
    if config.getoption("--all") or config.getoption("markexpr"):
        return
    named = tuple(arg for arg in config.args if "::" in arg)
    slow = [
        item for item in items
        if any(item.get_closest_marker(group) for group in SLOW_GROUPS) and not item.nodeid.startswith(named)
    ]
    if slow:
        config.hook.pytest_deselected(items=slow)
        left_out = set(map(id, slow))
        items[:] = [item for item in items if id(item) not in left_out]


SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "fer2013"
FERPLUS_DATA = SHARED_DATA.parent / "ferplus"
USAGE_PREFIX = {"train": "Training", "public": "PublicTest", "private": "PrivateTest"}


def synthetic_face(emotion: str, serial: int) -> np.ndarray:
    """A 48x48 uint8 face whose pixels encode its class and serial number."""
    rng = np.random.default_rng(serial)
    index = EMOTIONS.index(emotion)
    face = rng.integers(0, 40, (48, 48)).astype(np.uint8) + np.uint8(30 * index)
    face[index * 6 : index * 6 + 4, :] = 255  # a class-specific stripe
    face[0, 0] = serial % 256
    return face


def synthetic_faces(per_class: dict[str, int]) -> list[tuple[str, str, np.ndarray]]:
    """(usage, emotion, face) for ``per_class[usage]`` faces of every class."""
    faces, serial = [], 0
    for usage, n in per_class.items():
        for emotion in EMOTIONS:
            for _ in range(n):
                faces.append((usage, emotion, synthetic_face(emotion, serial)))
                serial += 1
    return faces


def write_kaggle_tree(root: Path, faces: list[tuple[str, str, np.ndarray]]) -> Path:
    """The Kaggle folder layout: ``root/{train,test}/<class>/<Usage>_<n>.png``."""
    for n, (usage, emotion, face) in enumerate(faces):
        folder = root / ("train" if usage == "train" else "test") / emotion
        folder.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(folder / f"{USAGE_PREFIX[usage]}_{n}.png"), face)
    return root


def write_csv(path: Path, faces: list[tuple[str, str, np.ndarray]]) -> Path:
    """The original ``fer2013.csv`` with its own class ids."""
    csv_id = {name: i for i, name in CSV_ID_TO_EMOTION.items()}
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["emotion", "pixels", "Usage"])
        for usage, emotion, face in faces:
            writer.writerow([csv_id[emotion], " ".join(map(str, face.ravel())), USAGE_PREFIX[usage]])
    return path


@pytest.fixture(scope="session")
def real_data_cache(tmp_path_factory) -> Path:
    """One data cache for every ``realdata`` test of a run, so FER-2013 is decoded once, not per test."""
    return tmp_path_factory.mktemp("real-data-cache")


@pytest.fixture(scope="session", autouse=True)
def session_cache(tmp_path_factory) -> Iterator[Path]:
    """A cache for what session-scoped fixtures build (a recognizer times its graphs into it), so no
    test writes the user's cache; each test then gets its own (:func:`isolated_cache`)."""
    with pytest.MonkeyPatch.context() as patch:
        cache = tmp_path_factory.mktemp("session-cache")
        patch.setenv("REALTIME_FER_CACHE", str(cache))
        yield cache


@pytest.fixture(autouse=True)
def isolated_cache(request, tmp_path_factory, monkeypatch) -> Path:
    """Every test gets its own empty data cache (never the user's); ``realdata`` tests share one."""
    if request.node.get_closest_marker("realdata"):
        cache = request.getfixturevalue("real_data_cache")
    else:
        cache = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("REALTIME_FER_CACHE", str(cache))
    return cache


@pytest.fixture(scope="session")
def tiny_faces() -> list[tuple[str, str, np.ndarray]]:
    return synthetic_faces({"train": 12, "public": 4, "private": 3})


@pytest.fixture
def kaggle_root(tmp_path, tiny_faces) -> Path:
    return write_kaggle_tree(tmp_path / "fer2013", tiny_faces)


@pytest.fixture
def fer_csv(tmp_path, tiny_faces) -> Path:
    return write_csv(tmp_path / "fer2013.csv", tiny_faces)


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory) -> Path:
    """One tiny paper-model run (1 epoch), trained and exported once for the whole session."""
    from realtime_fer.train import TrainConfig

    root = write_kaggle_tree(
        tmp_path_factory.mktemp("data") / "fer2013", synthetic_faces({"train": 12, "public": 4})
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REALTIME_FER_CACHE", str(tmp_path_factory.mktemp("run-cache")))
        config = TrainConfig(
            data=str(root), out=str(tmp_path_factory.mktemp("run")), epochs=1, command="test"
        )
        return train_and_export(config)


def train_and_export(config) -> Path:
    """What ``realtime-fer train`` does: train, then export the run; returns the run folder."""
    from realtime_fer.export import export_run
    from realtime_fer.train import train

    run = train(config)
    export_run(run.out, (run.train_set, run.val_set))
    return run.out


@contextmanager
def ctrl_c_in_epoch(epoch: int) -> Iterator[None]:
    """Training as usual, except that epoch ``epoch``'s training pass is stopped by Ctrl-C
    (KeyboardInterrupt), as a user would stop it; the loop is itself again afterwards."""
    from realtime_fer import train as train_module

    real, calls = train_module.train_epoch, []

    def train_epoch(*args, **kwargs):
        calls.append(1)
        if len(calls) == epoch:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(train_module, "train_epoch", train_epoch)
        yield


@pytest.fixture(scope="session")
def eight_class_model(tmp_path_factory) -> Path:
    """A tiny eight-class FER+ model folder (:func:`tests.tiny_models.write_model`; needs onnx)."""
    pytest.importorskip("onnx")
    from tests.tiny_models import write_model

    return write_model(tmp_path_factory.mktemp("models") / "ferplus-tiny")
