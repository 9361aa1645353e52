"""FER+: the vote processing on hand-worked rows, both on-disk layouts, bad input, and training from
the votes with a warm start."""

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest

from realtime_fer import data, ferplus
from realtime_fer.data import DataError
from realtime_fer.emotions import FERPLUS_CLASSES
from tests.conftest import FERPLUS_DATA, synthetic_face

E = ferplus.MULTI_TARGET_EPSILON


def target(**shares: float) -> list[float]:
    """An eight-class target row from class shares."""
    return [shares.get(name, 0.0) for name in FERPLUS_CLASSES]


def accepted(*names: str) -> list[float]:
    """A multi-target row: the accepted classes ``1 - eps + eps``, the others ``eps``."""
    return [1.0 if name in names else E for name in FERPLUS_CLASSES]


# Vote columns: neutral, happy, surprise, sad, angry, disgust, fear, contempt, unknown, not-a-face.
# Worked by hand from the rules in ferplus.py's docstring (None: the face is left out).
ROWS = {
    # sad's single vote dropped: neutral 4, angry 3, disgust 2 of 9
    "split": (
        [4, 0, 0, 1, 3, 2, 0, 0, 0, 0],
        {
            "majority": None,  # 4 is not more than half of 9
            "crossentropy": target(neutral=4 / 7, angry=3 / 7),  # 4 + 3 >= 75% of 9: stop there
            "multi_target": accepted("neutral", "angry"),  # >= 2.7
        },
    ),
    # the singles of surprise and sad dropped: neutral 6 of 8 (unknown's 2 stay in the total)
    "clear": (
        [6, 0, 1, 1, 0, 0, 0, 0, 2, 0],
        {
            "majority": target(neutral=1.0),
            "crossentropy": target(neutral=1.0),
            "multi_target": accepted("neutral"),
        },
    ),
    "unknown": ([0, 0, 0, 0, 0, 0, 0, 0, 7, 3], dict.fromkeys(("majority", "crossentropy", "multi_target"))),
    # neutral ties with unknown: crossentropy drops unknown and stops with 4 of 10 (not above half);
    # multi_target keeps both (8 of 10), and neutral, the first of the two, is the strongest
    "tie with unknown": (
        [4, 0, 0, 0, 0, 0, 0, 0, 4, 2],
        {"majority": None, "crossentropy": None, "multi_target": accepted("neutral")},
    ),
    # five classes tie at 2: more than three classes, discarded
    "five-way tie": (
        [2, 2, 2, 2, 2, 0, 0, 0, 0, 0],
        {"majority": None, "crossentropy": None, "multi_target": None},
    ),
    "all singles": ([1] * 10, {"majority": None, "crossentropy": None, "multi_target": None}),
    "contempt": (
        [3, 0, 0, 0, 0, 0, 0, 7, 0, 0],
        {
            "majority": target(contempt=1.0),
            "crossentropy": target(neutral=0.3, contempt=0.7),  # 7 < 75% of 10: neutral joins
            "multi_target": accepted("neutral", "contempt"),
        },
    ),
}


@pytest.mark.parametrize("mode", ["majority", "crossentropy", "multi_target"])
@pytest.mark.parametrize("row", sorted(ROWS))
def test_vote_processing_matches_the_hand_worked_rows(row, mode):
    votes, expected = ROWS[row]
    keep, targets = ferplus.vote_targets(np.array([votes]), mode)
    if expected[mode] is None:
        assert not keep[0] and not targets[0].any()
    else:
        assert keep[0]
        np.testing.assert_allclose(targets[0], expected[mode], atol=1e-6)


def test_probability_mode_keeps_the_crossentropy_targets_and_majority_labels_index_the_classes():
    votes = np.array([row for row, _ in ROWS.values()])
    keep_p, targets_p = ferplus.vote_targets(votes, "probability")
    keep_c, targets_c = ferplus.vote_targets(votes, "crossentropy")
    np.testing.assert_array_equal(keep_p, keep_c)
    np.testing.assert_array_equal(targets_p, targets_c)
    labels = ferplus.majority_labels(votes)
    assert [FERPLUS_CLASSES[i] if i >= 0 else None for i in labels] == [
        None, "neutral", None, None, None, None, "contempt",
    ]


def test_bad_vote_rows_are_refused():
    with pytest.raises(ValueError, match="no votes"):
        ferplus.vote_targets(np.zeros((1, 10)), "majority")
    with pytest.raises(ValueError, match="10 vote counts"):
        ferplus.vote_targets(np.ones((1, 8)), "majority")
    with pytest.raises(ValueError, match="unknown label mode"):
        ferplus.vote_targets(np.ones((1, 10)), "mode")


VOTES = [row for row, _ in ROWS.values()]


def ferplus_faces(n: int, offset: int = 0) -> list[tuple[np.ndarray, list[int]]]:
    return [(synthetic_face("happy", offset + i), VOTES[(offset + i) % len(VOTES)]) for i in range(n)]


def write_ferplus_folder(folder: Path, faces: list[tuple[np.ndarray, list[int]]], start: int = 0) -> Path:
    """One of Microsoft's FER+ folders: ``ferNNNNNNN.png`` files and a headerless ``label.csv``."""
    folder.mkdir(parents=True)
    with open(folder / "label.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        for i, (face, votes) in enumerate(faces):
            name = f"fer{start + i:07d}.png"
            cv2.imwrite(str(folder / name), face)
            writer.writerow([name, "(0, 0, 48, 48)", *votes])
    return folder


@pytest.fixture
def ferplus_root(tmp_path) -> Path:
    write_ferplus_folder(tmp_path / "ferplus" / "FER2013Train", ferplus_faces(14))
    write_ferplus_folder(tmp_path / "ferplus" / "FER2013Valid", ferplus_faces(7, 14), start=14)
    return tmp_path / "ferplus"


def write_csv_pair(folder: Path, rows: list[tuple[str, np.ndarray, list[int], str]]) -> Path:
    """``fer2013.csv`` and ``fer2013new.csv`` side by side, row i of one labelling row i of the other;
    ``rows``: (usage, face, votes, FER+ image name or "" for a face FER+ dropped)."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "fer2013.csv", "w", newline="") as faces, open(folder / "fer2013new.csv", "w") as new:
        faces_csv, new_csv = csv.writer(faces), csv.writer(new)
        faces_csv.writerow(["emotion", "pixels", "Usage"])
        new_csv.writerow(["Usage", "Image name", *ferplus.VOTE_COLUMNS])
        for usage, face, votes, name in rows:
            faces_csv.writerow([3, " ".join(map(str, face.ravel())), usage])
            new_csv.writerow([usage, name, *votes])
    return folder / "fer2013new.csv"


def test_the_folder_layout_loads_votes_names_and_majority_labels(ferplus_root):
    train = data.load(ferplus_root, "train")
    assert len(train) == 14 and train.votes.shape == (14, 10)
    assert train.classes == FERPLUS_CLASSES
    np.testing.assert_array_equal(train.votes, [VOTES[i % len(VOTES)] for i in range(14)])
    np.testing.assert_array_equal(train.labels, ferplus.majority_labels(train.votes))
    assert train.names[0] == "Training_fer0000000"
    np.testing.assert_array_equal(train.images[3], synthetic_face("happy", 3))
    valid = data.load(ferplus_root, "public_test")
    assert valid.names[0] == "PublicTest_fer0000014"
    assert data.validation_split(ferplus_root) == "public_test"
    assert train.class_counts() == {**{c: 0 for c in FERPLUS_CLASSES}, "neutral": 2, "contempt": 2}
    with pytest.raises(DataError, match="FER2013Test"):
        data.load(ferplus_root, "private_test")


def test_the_csv_pair_loads_the_same_faces_as_the_folders(tmp_path, ferplus_root):
    faces = ferplus_faces(14)
    rows = [("Training", face, votes, f"fer{i:07d}.png") for i, (face, votes) in enumerate(faces)]
    rows.insert(5, ("Training", synthetic_face("sad", 99), [0] * 9 + [10], ""))  # not a face: no image
    pair = write_csv_pair(tmp_path / "csv", rows)
    from_csv, from_folders = data.load(pair, "train"), data.load(ferplus_root, "train")
    np.testing.assert_array_equal(from_csv.images, from_folders.images)
    np.testing.assert_array_equal(from_csv.votes, from_folders.votes)
    np.testing.assert_array_equal(from_csv.labels, from_folders.labels)
    assert list(from_csv.names) == list(from_folders.names)
    assert len(data.load(tmp_path / "csv", "train")) == 14  # the folder holding both files


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (["fer0000000.png", "(0, 0, 48, 48)", 1, 2, 3], "10 vote counts"),
        (["fer0000000.png", "(0, 0, 48, 48)", *"x" * 10], "malformed vote counts"),
        (["fer0000000.png", "(0, 0, 48, 48)", *[0] * 10], "not all 0"),
        (["fer0000000.png", "0 0 48", *[1] * 10], "malformed face box"),
        (["missing.png", "(0, 0, 48, 48)", *[1] * 10], "missing"),
    ],
)
def test_a_bad_label_row_is_an_error_naming_its_line(tmp_path, row, message):
    folder = write_ferplus_folder(tmp_path / "FER2013Train", ferplus_faces(2))
    with open(folder / "label.csv", "a", newline="") as handle:
        csv.writer(handle).writerow(row)
    with pytest.raises(DataError, match=message) as error:
        data.load(folder)
    assert "label.csv:3" in str(error.value)


def test_a_csv_pair_that_disagrees_is_an_error(tmp_path):
    face = synthetic_face("happy", 0)
    pair = write_csv_pair(tmp_path, [("Training", face, [0, 10, *[0] * 8], "fer0000000.png")])
    with open(tmp_path / "fer2013.csv", "a") as handle:
        handle.write(f"3,{' '.join(['0'] * 2304)},Training\n")
    with pytest.raises(DataError, match="differ in length"):
        data.load(pair, "train")
    (tmp_path / "fer2013.csv").unlink()
    with pytest.raises(DataError, match="needs fer2013.csv beside it"):
        data.load(pair, "train")


def test_training_on_votes_warm_starts_an_eight_class_model(ferplus_root, trained_run, tmp_path):
    import torch

    from realtime_fer.architectures import create_model
    from realtime_fer.train import TrainConfig, read_init, train

    config = TrainConfig(
        data=str(ferplus_root), arch="paper", init=str(trained_run), out=str(tmp_path / "run"),
        epochs=1, batch_size=4, lr=0.0, optimizer="sgd", schedule="plateau", augment="none",
    )
    run = train(config)
    assert run.train_set.classes == FERPLUS_CLASSES
    assert len(run.train_set) == int(ferplus.vote_targets(run.train_set.votes, "crossentropy")[0].sum())
    assert len(run.val_set) == 2  # the validation faces the majority protocol keeps
    selected = torch.load(run.out / "checkpoints" / "selected.pt", weights_only=False)
    assert selected["spec"]["classes"] == list(FERPLUS_CLASSES)
    _, before = read_init(str(trained_run))
    after = selected["model"]
    head = [k for k, v in before.items() if v.ndim and v.shape[0] == 7][-1]  # the output layer's bias
    # lr 0: the seven known rows are the init's, contempt's the fresh network's
    torch.testing.assert_close(after[head][:7], before[head])
    torch.manual_seed(config.seed)  # as train() does before it builds the network
    fresh = create_model("paper", FERPLUS_CLASSES).state_dict()
    torch.testing.assert_close(after[head][7], fresh[head][7])


def test_init_refuses_another_architecture(ferplus_root, trained_run, tmp_path):
    from realtime_fer.train import TrainConfig, train

    config = TrainConfig(data=str(ferplus_root), arch="compact", init=str(trained_run),
                         out=str(tmp_path / "run"), epochs=1)
    with pytest.raises(ValueError, match="is a 'paper' network"):
        train(config)


@pytest.mark.realdata
@pytest.mark.skipif(not (FERPLUS_DATA / "FER2013Valid").is_dir(), reason="needs ../shared/ferplus")
def test_the_shared_valid_set_keeps_3191_faces_under_the_majority_protocol():
    valid = data.load(FERPLUS_DATA, "public_test")
    assert len(valid) == 3579
    assert int((valid.labels >= 0).sum()) == 3191
