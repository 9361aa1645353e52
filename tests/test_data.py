"""Loading FER-2013 from folders and CSV: label mapping, splits, conversions, bad input, cache."""

import os
import shutil

import cv2
import numpy as np
import pytest

from realtime_fer import data
from realtime_fer.data import DataError, DataWarning
from realtime_fer.emotions import CSV_ID_TO_EMOTION, EMOTIONS, csv_id_to_index
from tests.conftest import SHARED_DATA, USAGE_PREFIX, synthetic_face, write_csv


def test_csv_ids_map_to_canonical_classes_by_name():
    assert EMOTIONS == ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
    assert [EMOTIONS[csv_id_to_index(i)] for i in range(7)] == [
        "angry",
        "disgust",
        "fear",
        "happy",
        "sad",
        "surprise",
        "neutral",
    ]
    assert set(CSV_ID_TO_EMOTION.values()) == set(EMOTIONS)


def _by_name(faces: data.FaceSet) -> dict[tuple[int, bytes], str]:
    """Pixel content -> class name, to compare layouts independent of order and naming."""
    pairs = zip(faces.images, faces.labels, strict=True)
    return {(int(label), image.tobytes()): EMOTIONS[label] for image, label in pairs}


@pytest.mark.parametrize("split", ["train", "test", "public_test", "private_test"])
def test_folder_and_csv_layouts_agree(kaggle_root, fer_csv, split):
    from_folders, from_csv = data.load(kaggle_root, split), data.load(fer_csv, split)
    assert _by_name(from_folders) == _by_name(from_csv)
    assert len(from_folders) == len(from_csv)


def test_labels_follow_pixels_not_order(kaggle_root, fer_csv, tiny_faces):
    expected = {face.tobytes(): EMOTIONS.index(emotion) for _, emotion, face in tiny_faces}
    for source in (kaggle_root, fer_csv):
        faces = data.load(source, "train")
        pairs = zip(faces.images, faces.labels, strict=True)
        assert all(expected[image.tobytes()] == label for image, label in pairs)


def test_split_sizes_and_prefixes(kaggle_root, fer_csv):
    for source in (kaggle_root, fer_csv):
        assert len(data.load(source, "train")) == 7 * 12
        assert len(data.load(source, "public_test")) == 7 * 4
        assert len(data.load(source, "private_test")) == 7 * 3
        assert len(data.load(source, "test")) == 7 * 7
        names = data.load(source, "private_test").names
        assert all(str(n).startswith("PrivateTest_") for n in names)


def test_a_class_folder_directory_loads_on_its_own(kaggle_root):
    whole = data.load(kaggle_root / "test")
    assert len(whole) == 7 * 7
    assert len(data.load(kaggle_root / "test", "private_test")) == 7 * 3


def test_colour_and_odd_sized_images_are_converted(tmp_path):
    folder = tmp_path / "happy"
    folder.mkdir()
    colour = np.zeros((96, 120, 3), np.uint8)
    colour[..., 2] = 200  # red in BGR
    cv2.imwrite(str(folder / "big_colour.jpg"), colour)
    cv2.imwrite(str(folder / "small.png"), np.full((20, 20), 77, np.uint8))
    faces = data.load(tmp_path)
    assert faces.images.shape == (2, 48, 48)
    assert faces.images.dtype == np.uint8
    assert set(faces.labels.tolist()) == {EMOTIONS.index("happy")}
    assert 50 < faces.images[0].mean() < 70  # red becomes grey ~0.299 * 200
    assert (faces.images[1] == 77).all()


def test_unreadable_file_is_named_counted_and_skipped(kaggle_root):
    bad = kaggle_root / "train" / "sad" / "Training_broken.jpg"
    bad.write_bytes(b"\xff\xd8 not really a jpeg")
    with pytest.warns(DataWarning, match="Training_broken.jpg"):
        faces = data.load(kaggle_root, "train")
    assert len(faces) == 7 * 12
    assert faces.unreadable == (str(bad),)


def test_unknown_class_folder_is_an_error_naming_it(kaggle_root):
    (kaggle_root / "train" / "contempt").mkdir()
    with pytest.raises(DataError, match="contempt"):
        data.load(kaggle_root, "train")


def test_empty_split_is_an_error(tmp_path, kaggle_root):
    (tmp_path / "empty" / "train" / "happy").mkdir(parents=True)
    with pytest.raises(DataError, match="no images"):
        data.load(tmp_path / "empty", "train")
    for path in (kaggle_root / "test").glob("*/PrivateTest_*"):
        path.unlink()
    with pytest.raises(DataError, match="private_test"):
        data.load(kaggle_root, "private_test")


def test_a_root_or_csv_needs_a_split(kaggle_root, fer_csv, tmp_path):
    with pytest.raises(DataError, match="choose one of"):
        data.load(kaggle_root)
    with pytest.raises(DataError, match="choose one of"):
        data.load(fer_csv)
    with pytest.raises(DataError, match="unknown split"):
        data.load(kaggle_root, "validation")
    with pytest.raises(DataError, match="no such file"):
        data.load(tmp_path / "nowhere", "train")


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (["9", " ".join(["0"] * 2304), "Training"], "emotion id 9"),
        (["x", " ".join(["0"] * 2304), "Training"], "malformed"),
        (["3", " ".join(["0"] * 2000), "Training"], "2304 pixel values"),
        (["3", " ".join(["300"] * 2304), "Training"], "0..255"),
        (["3", " ".join(["0"] * 2304), "Holdout"], "unknown Usage"),
    ],
)
def test_malformed_csv_row_names_its_line(tmp_path, row, message):
    good = [("train", "happy", synthetic_face("happy", 1))]
    path = write_csv(tmp_path / "fer.csv", good)
    with open(path, "a") as handle:
        handle.write(",".join(row) + "\n")
    with pytest.raises(DataError, match=rf"fer\.csv:3: .*{message}"):
        data.load(path, "train")


def test_csv_without_pixels_column_is_an_error(tmp_path):
    path = tmp_path / "fer.csv"
    path.write_text("emotion,Usage\n3,Training\n")
    with pytest.raises(DataError, match="pixels"):
        data.load(path, "train")


def test_second_load_comes_from_the_cache(kaggle_root, monkeypatch, isolated_cache):
    first = data.load(kaggle_root, "train")
    assert isinstance(first.images, np.memmap)  # read from disk on demand, not held in memory
    assert [p.name for p in isolated_cache.iterdir()] == [first.fingerprint]

    def no_decoding(path):
        raise AssertionError("decoded again despite the cache")

    monkeypatch.setattr(data, "_decode_file", no_decoding)
    second = data.load(kaggle_root, "train")
    assert np.array_equal(first.images, second.images)
    assert np.array_equal(first.labels, second.labels)


def test_a_changed_file_invalidates_the_cache(kaggle_root):
    first = data.load(kaggle_root, "train")
    target = sorted((kaggle_root / "train" / "fear").iterdir())[0]
    cv2.imwrite(str(target), np.full((48, 48), 123, np.uint8))
    stat = target.stat()
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    second = data.load(kaggle_root, "train")
    assert second.fingerprint != first.fingerprint
    assert any((image == 123).all() for image in second.images)
    shutil.rmtree(kaggle_root / "train" / "fear")
    assert data.load(kaggle_root, "train").class_counts()["fear"] == 0


def test_a_changed_csv_invalidates_the_cache(fer_csv):
    first = data.load(fer_csv, "train")
    with open(fer_csv, "a") as handle:
        handle.write(f"3,{' '.join(['9'] * 2304)},{USAGE_PREFIX['train']}\n")
    assert len(data.load(fer_csv, "train")) == len(first) + 1


def test_a_damaged_cache_file_is_rebuilt(kaggle_root, isolated_cache):
    data.load(kaggle_root, "train")
    for name in ("meta.npz", "images.npy"):
        for cached in isolated_cache.glob(f"*/{name}"):
            cached.write_bytes(b"garbage")
        assert len(data.load(kaggle_root, "train")) == 7 * 12


@pytest.mark.realdata
@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="FER-2013 not found at ../shared/fer2013")
def test_real_fer2013_matches_the_papers_table_1():
    counts = data.load(SHARED_DATA, "train").class_counts()
    assert counts == {
        "angry": 3995,
        "disgust": 436,
        "fear": 4097,
        "happy": 7215,
        "neutral": 4965,
        "sad": 4830,
        "surprise": 3171,
    }
    assert len(data.load(SHARED_DATA, "public_test")) == 3589


class Interrupted(Exception):
    pass


@pytest.mark.parametrize(("layout", "step"), [("folders", "_decode_file"), ("csv", "csv_id_to_index")])
def test_an_interrupted_cache_build_resumes_after_its_last_finished_chunk(
    layout, step, kaggle_root, fer_csv, monkeypatch, isolated_cache
):
    source = kaggle_root if layout == "folders" else fer_csv
    expected = data.load(source, "train", use_cache=False)
    assert not isinstance(expected.images, np.memmap) and not list(isolated_cache.iterdir())
    monkeypatch.setattr(data, "CACHE_CHUNK", 10)
    real, calls = getattr(data, step), []

    def failing_at_25(*args):
        calls.append(1)
        if len(calls) == 25:
            raise Interrupted
        return real(*args)

    monkeypatch.setattr(data, step, failing_at_25)
    with pytest.raises(Interrupted):
        data.load(source, "train")
    assert [p.suffix for p in isolated_cache.iterdir()] == [".partial"]
    calls.clear()
    monkeypatch.setattr(data, step, lambda *args: calls.append(1) or real(*args))
    resumed = data.load(source, "train")
    total = 7 * 12 if layout == "folders" else 7 * (12 + 4 + 3)  # train/ alone, or every CSV row
    assert len(calls) == total - 20  # the two chunks finished before the interrupt are kept
    assert np.array_equal(resumed.images, expected.images)
    assert np.array_equal(resumed.labels, expected.labels)
    assert np.array_equal(resumed.names, expected.names)
    assert [p.suffix for p in isolated_cache.iterdir()] == [""]  # finished: renamed into place


def test_a_contiguous_split_of_a_cached_csv_stays_memory_mapped(fer_csv):
    assert isinstance(data.load(fer_csv, "train").images, np.memmap)
