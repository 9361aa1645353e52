"""FER-2013 and FER+ loading, with a cache.

FER-2013 comes in the Kaggle folder layout or as the original ``fer2013.csv``; FER+ in the folders
Microsoft's ``generate_training_data.py`` writes (``FER2013Train/``, ``FER2013Valid/``, ``FER2013Test/``,
each with PNGs and a headerless ``label.csv``) or as ``fer2013.csv`` + ``fer2013new.csv`` joined row by
row. Every layout becomes a :class:`FaceSet`: uint8 faces (N, 48, 48), canonical labels and a name per
face; a FER+ set also carries each face's ten vote counts (:mod:`ferplus`), and its labels are the
majority-protocol ones in :data:`FERPLUS_CLASSES` (``ferplus.UNLABELED`` where that leaves a face out).

Names keep the Kaggle prefixes (``Training_``, ``PublicTest_``, ``PrivateTest_``) so both halves
of the test set are addressable in both layouts. Faces are decoded once into a cache under
``$REALTIME_FER_CACHE`` (default ``~/.cache/realtime-fer``), keyed by a fingerprint of the files, and
memory-mapped from it. The cache is built chunk by chunk and an interrupted build resumes; one process
builds a given cache at a time (distributed training lets rank 0 build it first).
"""

import csv
import hashlib
import itertools
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from realtime_fer import ferplus
from realtime_fer.emotions import CSV_ID_TO_EMOTION, EMOTION_INDEX, EMOTIONS, FERPLUS_CLASSES, csv_id_to_index
from realtime_fer.preprocess import INPUT_SIZE, resize_face

CACHE_VERSION = "3"  # 2: a memory-mapped images.npy per data set, built chunk by chunk; 3: FER+ votes
CACHE_CHUNK = 4096  # faces decoded, flushed to the cache and counted as done at a time
SPLITS = ("train", "test", "public_test", "private_test")
_SPLIT_PREFIX = {"public_test": "PublicTest_", "private_test": "PrivateTest_"}
_CSV_USAGE_PREFIX = {"Training": "Training_", "PublicTest": "PublicTest_", "PrivateTest": "PrivateTest_"}
# FER+'s folders, the split each holds and the name prefix its faces get (as in the Kaggle layout)
FERPLUS_FOLDERS = {"train": "FER2013Train", "public_test": "FER2013Valid", "private_test": "FER2013Test"}
_FERPLUS_PREFIX = {"FER2013Train": "Training_", "FER2013Valid": "PublicTest_", "FER2013Test": "PrivateTest_"}
FERPLUS_LABEL_FILE = "label.csv"
FERPLUS_CSV = "fer2013new.csv"


class DataError(ValueError):
    """The data set on disk is not in a layout we can read; the message names the path or row."""


class DataWarning(UserWarning):
    """A single image could not be read and was skipped (it is named and counted)."""


@dataclass(frozen=True)
class FaceSet:
    """Decoded faces: ``images`` uint8 (N, 48, 48), ``labels`` int64 (N,), ``names`` str (N,); FER+ sets
    also ``votes`` int64 (N, 10) in :data:`ferplus.VOTE_COLUMNS` order, and their ``classes`` are
    :data:`FERPLUS_CLASSES`.

    ``images`` is usually a read-only memory map of the cache: rows are read from disk when used, so a
    data set larger than memory can be trained on batch by batch.
    """

    images: np.ndarray
    labels: np.ndarray
    names: np.ndarray
    source: str
    fingerprint: str
    unreadable: tuple[str, ...] = ()
    votes: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def classes(self) -> tuple[str, ...]:
        return EMOTIONS if self.votes is None else FERPLUS_CLASSES

    def class_counts(self) -> dict[str, int]:
        """Faces per class (FER+: under the majority protocol, the faces it leaves out not counted)."""
        counts = np.bincount(self.labels[self.labels >= 0], minlength=len(self.classes))
        return {name: int(n) for name, n in zip(self.classes, counts, strict=True)}

    def scored(self) -> "FaceSet":
        """The faces accuracy is measured on: all of a FER-2013 set; of a FER+ set, those the majority
        protocol keeps (the faces FER+ accuracy is quoted on)."""
        if self.votes is None:
            return self
        return self.select(self.labels != ferplus.UNLABELED, f"{self.source} [majority]")

    def select(self, mask: np.ndarray, source: str) -> "FaceSet":
        """The faces where ``mask`` is true; a contiguous run stays a view (memory-mapped if cached)."""
        rows = np.flatnonzero(mask)
        chosen: np.ndarray | slice = rows
        if len(rows) and rows[-1] - rows[0] + 1 == len(rows):
            chosen = slice(rows[0], rows[-1] + 1)
        return FaceSet(
            self.images[chosen],
            self.labels[chosen],
            self.names[chosen],
            source,
            self.fingerprint,
            self.unreadable,
            None if self.votes is None else self.votes[chosen],
        )


def cache_dir() -> Path:
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "realtime-fer"
    return Path(os.environ.get("REALTIME_FER_CACHE", default))


def load(path: str | os.PathLike, split: str | None = None, use_cache: bool = True) -> FaceSet:
    """Load a split from a Kaggle root (``train/``, ``test/``), a class-folder directory, a CSV, a FER+
    root (``FER2013Train/``, ...), one FER+ folder (``label.csv`` + PNGs) or ``fer2013new.csv`` (with
    ``fer2013.csv`` beside it).

    ``split`` is one of :data:`SPLITS`; it is required for a root or a CSV. For a single
    class-folder directory it may be ``public_test`` / ``private_test`` to keep one half.
    """
    path = Path(path)
    if split is not None and split not in SPLITS:
        raise DataError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    if path.is_dir() and (path / FERPLUS_CSV).is_file():
        path = path / FERPLUS_CSV
    if path.is_file() and path.name == FERPLUS_CSV:
        if split is None:
            raise DataError(f"{path}: a CSV holds several splits; choose one of {', '.join(SPLITS)}")
        return _split_by_prefix(_cached(path, _ferplus_csv_records, use_cache), split, path)
    if path.is_dir() and (path / FERPLUS_LABEL_FILE).is_file():
        return _cached(path, _ferplus_folder_records, use_cache)
    if path.is_dir() and any((path / folder).is_dir() for folder in FERPLUS_FOLDERS.values()):
        return _ferplus_split(path, split, use_cache)
    if path.is_file():
        if split is None:
            raise DataError(f"{path}: a CSV holds several splits; choose one of {', '.join(SPLITS)}")
        return _split_by_prefix(_cached(path, _csv_records, use_cache), split, path)
    if not path.is_dir():
        raise DataError(f"{path}: no such file or directory")
    if _is_class_folder_dir(path):
        faces = _cached(path, _folder_records, use_cache)
        return faces if split in (None, "train", "test") else _split_by_prefix(faces, split, path)
    if (path / "train").is_dir() or (path / "test").is_dir():
        if split is None:
            raise DataError(f"{path}: holds train/ and test/; choose one of {', '.join(SPLITS)}")
        folder = path / ("train" if split == "train" else "test")
        if not folder.is_dir():
            raise DataError(f"{folder}: missing (needed for split {split!r})")
        faces = _cached(folder, _folder_records, use_cache)
        return faces if split in ("train", "test") else _split_by_prefix(faces, split, folder)
    raise DataError(
        f"{path}: expected a fer2013.csv, a folder with train/ and test/, "
        f"or a folder of class folders ({', '.join(EMOTIONS)})"
    )


def _ferplus_split(root: Path, split: str | None, use_cache: bool) -> FaceSet:
    """A split of a FER+ root: train, public_test (``FER2013Valid``) or private_test / test
    (``FER2013Test``)."""
    if split is None:
        raise DataError(f"{root}: holds FER+ folders; choose one of {', '.join(SPLITS)}")
    folder = root / FERPLUS_FOLDERS["private_test" if split == "test" else split]
    if not (folder / FERPLUS_LABEL_FILE).is_file():
        raise DataError(f"{folder / FERPLUS_LABEL_FILE}: missing (needed for split {split!r})")
    return _cached(folder, _ferplus_folder_records, use_cache)


def has_split(path: str | os.PathLike, split: str) -> bool:
    """Whether ``load(path, split)`` would find faces (used to pick a default validation split)."""
    try:
        return len(load(path, split)) > 0
    except DataError:
        return False


def validation_split(path: str | os.PathLike) -> str:
    """The split to validate on: PublicTest where the data set tells it apart, else all of test."""
    return "public_test" if has_split(path, "public_test") else "test"


def _split_by_prefix(faces: FaceSet, split: str, path: Path) -> FaceSet:
    if split == "train":
        mask = np.char.startswith(faces.names.astype(str), "Training_")
    elif split == "test":
        mask = ~np.char.startswith(faces.names.astype(str), "Training_")
    else:
        mask = np.char.startswith(faces.names.astype(str), _SPLIT_PREFIX[split])
    if not mask.any():
        raise DataError(f"{path}: split {split!r} is empty (no {_SPLIT_PREFIX.get(split, '')}* faces)")
    return faces.select(mask, f"{path} [{split}]")


def _is_class_folder_dir(path: Path) -> bool:
    return any((path / name).is_dir() for name in EMOTIONS)


def _visible_entries(folder: Path) -> list[os.DirEntry]:
    with os.scandir(folder) as entries:
        return sorted((e for e in entries if not e.name.startswith(".")), key=lambda e: e.name)


def _class_files(root: Path) -> list[tuple[Path, int, os.stat_result]]:
    """(file, label, stat) for every file under ``root/<class>/``; unknown class folders are errors."""
    files = []
    for entry in _visible_entries(root):
        if not entry.is_dir():
            continue
        label = EMOTION_INDEX.get(entry.name.lower())
        if label is None:
            raise DataError(
                f"{entry.path}: unknown class folder {entry.name!r}; expected {', '.join(EMOTIONS)}"
            )
        for item in _visible_entries(Path(entry.path)):
            if item.is_file():
                files.append((Path(item.path), label, item.stat()))
    if not files:
        raise DataError(f"{root}: no images in its class folders")
    return files


def _fingerprint(lines: list[str]) -> str:
    digest = hashlib.sha256(f"realtime-fer-cache-v{CACHE_VERSION}\n".encode())
    for line in lines:
        digest.update(line.encode())
        digest.update(b"\n")
    return digest.hexdigest()[:20]


def _file_line(path: Path) -> str:
    stat = path.stat()
    return f"{path.name} {path.resolve()} {stat.st_size} {stat.st_mtime_ns}"


def _listing(path: Path) -> tuple[str, Any]:
    """A fingerprint of what is on disk plus whatever the loader needs to decode it."""
    if path.name == FERPLUS_CSV:
        return _fingerprint(["ferplus-csv", _file_line(path), _file_line(_fer2013_beside(path))]), None
    if path.is_file():
        return _fingerprint([f"csv {_file_line(path)}"]), None
    if (path / FERPLUS_LABEL_FILE).is_file():
        files = {e.name: e.stat() for e in _visible_entries(path) if e.is_file()}
        lines = ["ferplus-folder", *(f"{name} {s.st_size} {s.st_mtime_ns}" for name, s in files.items())]
        return _fingerprint(lines), files
    class_files = _class_files(path)
    lines = [f"{f.relative_to(path)} {label} {s.st_size} {s.st_mtime_ns}" for f, label, s in class_files]
    return _fingerprint(lines), class_files


def _cached(path: Path, records: "RecordReader", use_cache: bool) -> FaceSet:
    """The faces of ``path``, decoded once into the cache and memory-mapped from it.

    Without the cache they are decoded the same way into a temporary folder and read into memory.
    """
    fingerprint, listing = _listing(path)
    if not use_cache:
        with tempfile.TemporaryDirectory() as scratch:
            folder = _build(Path(scratch) / fingerprint, path, listing, records)
            faces = _open(folder, path, fingerprint)
            return replace(faces, images=np.array(faces.images))
    folder = cache_dir() / fingerprint
    try:
        return _open(folder, path, fingerprint)
    except (OSError, ValueError, KeyError):
        shutil.rmtree(folder, ignore_errors=True)  # missing or damaged: rebuilt, never trusted
    return _open(_build(folder, path, listing, records), path, fingerprint)


def _open(folder: Path, path: Path, fingerprint: str) -> FaceSet:
    """A finished cache folder: the images memory-mapped (read on demand), the rest in memory."""
    with np.load(folder / "meta.npz") as meta:
        count = int(meta["count"])
        labels, names, unreadable = meta["labels"], meta["names"], tuple(meta["unreadable"].tolist())
        votes = meta["votes"] if meta["votes"].size else None
    images = np.load(folder / "images.npy", mmap_mode="r")[:count]
    if len(labels) != count or len(names) != count or (votes is not None and len(votes) != count):
        raise ValueError(f"{folder}: inconsistent cache")
    return FaceSet(images, labels, names, str(path), fingerprint, unreadable, votes)


# (face or None if unreadable, label, name, where it came from, FER+ votes or None) per record
Record = tuple[np.ndarray | None, int, str, str, list[int] | None]
RecordReader = Callable[[Path, Any, int], Iterator[Record]]  # (path, its listing, first index)


def _build(folder: Path, path: Path, listing: object, records: RecordReader) -> Path:
    """Decode ``path`` into ``folder`` (``images.npy`` + ``meta.npz``), ``CACHE_CHUNK`` faces at a time.

    Work in progress lives in ``<folder>.partial``: each chunk is flushed to its memory-mapped
    ``images.npy`` before ``progress.npz`` (written atomically) counts it, so an interrupted build
    resumes after its last counted chunk. The finished folder is renamed into place in one step.
    """
    partial = folder.with_name(folder.name + ".partial")
    partial.mkdir(parents=True, exist_ok=True)
    progress_file = partial / "progress.npz"
    try:
        with np.load(progress_file) as stored:
            progress = {key: stored[key].tolist() for key in stored.files}
        images = np.load(partial / "images.npy", mmap_mode="r+")
    except (OSError, ValueError, KeyError):  # nothing usable yet: start from the first record
        capacity = _record_count(path, listing)
        images = np.lib.format.open_memmap(
            partial / "images.npy", "w+", np.uint8, (capacity, INPUT_SIZE, INPUT_SIZE)
        )
        progress = {"done": 0, "count": 0, "labels": [], "names": [], "unreadable": [], "votes": []}
    try:
        for chunk in _chunks(records(path, listing, progress["done"]), CACHE_CHUNK):
            for image, label, name, where, votes in chunk:
                if image is None:
                    progress["unreadable"].append(where)
                    continue
                images[progress["count"]] = image
                progress["labels"].append(label)
                progress["names"].append(name)
                if votes is not None:
                    progress["votes"].append(votes)
                progress["count"] += 1
            images.flush()
            progress["done"] += len(chunk)
            _save_npz(progress_file, progress)
    except DataError:
        del images
        shutil.rmtree(partial, ignore_errors=True)  # bad data: nothing worth resuming
        raise
    del images
    if progress["count"] == 0:
        shutil.rmtree(partial, ignore_errors=True)
        raise DataError(f"{path}: none of its {progress['done']} images could be read")
    _save_npz(partial / "meta.npz", {
        "count": progress["count"],
        "labels": np.array(progress["labels"], np.int64),
        "names": np.array(progress["names"], str),
        "unreadable": np.array(progress["unreadable"], str),
        "votes": np.array(progress["votes"], np.int64).reshape(-1, len(ferplus.VOTE_COLUMNS)),
    })
    progress_file.unlink()
    for bad in progress["unreadable"]:
        warnings.warn(f"unreadable image skipped: {bad}", DataWarning, stacklevel=4)
    os.replace(partial, folder)
    return folder


def _save_npz(path: Path, arrays: dict) -> None:
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, **{key: np.asarray(value) for key, value in arrays.items()})  # type: ignore[arg-type]
    os.replace(tmp, path)


def _chunks(items: Iterator, size: int) -> Iterator[list]:
    while chunk := list(itertools.islice(items, size)):
        yield chunk


def _record_count(path: Path, listing: Any) -> int:
    """How many records ``path`` holds at most: its files, or the lines of its CSV."""
    if (path / FERPLUS_LABEL_FILE).is_file():
        path = path / FERPLUS_LABEL_FILE
    elif listing is not None:
        return len(listing)
    with open(path, "rb") as handle:
        return sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 20), b"")) + 1


def _decode_file(path: Path) -> np.ndarray | None:
    data = np.fromfile(path, dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE) if data.size else None
    return None if image is None else resize_face(image, INPUT_SIZE)


def _folder_records(root: Path, files, start: int):
    """(face or None, label, name, file) for each file from ``start`` on, decoded on every core."""
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        for begin in range(start, len(files), CACHE_CHUNK):  # a chunk at a time: bounded memory
            todo = files[begin : begin + CACHE_CHUNK]
            decoded = pool.map(_decode_file, [file for file, _, _ in todo])
            for (file, label, _), image in zip(todo, decoded, strict=True):
                yield image, label, file.stem, str(file), None


def _csv_records(path: Path, _listing, start: int):
    """(face, label, name, line) for each ``emotion,pixels,Usage`` row from the ``start``-th on; any
    malformed row is an error naming its line."""
    pixels_per_face = INPUT_SIZE * INPUT_SIZE
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"emotion", "pixels"} - set(reader.fieldnames or ())
        if missing:
            raise DataError(f"{path}: header lacks column(s) {', '.join(sorted(missing))}")
        rows = 0
        for line, row in enumerate(itertools.islice(reader, start, None), start=start + 2):
            rows += 1
            where = f"{path}:{line}"
            try:
                emotion = int(row["emotion"])
                values = np.array(row["pixels"].split(), dtype=np.int64)
            except (TypeError, ValueError, AttributeError) as error:
                raise DataError(f"{where}: malformed row ({error})") from None
            if emotion not in CSV_ID_TO_EMOTION:
                raise DataError(f"{where}: emotion id {emotion} is not one of 0..6")
            if values.size != pixels_per_face or values.min() < 0 or values.max() > 255:
                raise DataError(f"{where}: expected {pixels_per_face} pixel values in 0..255")
            usage = (row.get("Usage") or "Training").strip()
            if usage not in _CSV_USAGE_PREFIX:
                raise DataError(f"{where}: unknown Usage {usage!r}")
            face = values.astype(np.uint8).reshape(INPUT_SIZE, INPUT_SIZE)
            yield face, csv_id_to_index(emotion), f"{_CSV_USAGE_PREFIX[usage]}row{line}", where, None
    if start == 0 and rows == 0:
        raise DataError(f"{path}: no rows")


def _fer2013_beside(path: Path) -> Path:
    """The ``fer2013.csv`` whose faces a ``fer2013new.csv`` labels (the same folder)."""
    faces = path.with_name("fer2013.csv")
    if not faces.is_file():
        raise DataError(f"{path}: needs fer2013.csv beside it (the faces its rows label)")
    return faces


def _parse_votes(fields: list[str], where: str) -> list[int]:
    """The ten FER+ vote counts of a label row; a ``DataError`` naming ``where`` when malformed."""
    try:
        votes = [int(field) for field in fields]
    except ValueError as error:
        raise DataError(f"{where}: malformed vote counts ({error})") from None
    if len(votes) != len(ferplus.VOTE_COLUMNS):
        raise DataError(f"{where}: expected {len(ferplus.VOTE_COLUMNS)} vote counts, got {len(votes)}")
    if min(votes) < 0 or sum(votes) == 0:
        raise DataError(f"{where}: vote counts must be >= 0 and not all 0, got {votes}")
    return votes


def _majority_label(votes: list[int]) -> int:
    return int(ferplus.majority_labels(np.array([votes]))[0])


def _parse_box(text: str, where: str) -> tuple[int, int, int, int]:
    """A FER+ face box ``"(x, y, w, h)"``."""
    try:
        x, y, w, h = (int(v) for v in text.strip().strip("()").split(","))
    except ValueError:
        raise DataError(f"{where}: malformed face box {text!r} (expected \"(x, y, w, h)\")") from None
    if min(x, y) < 0 or min(w, h) <= 0:
        raise DataError(f"{where}: face box {text!r} is empty or off the image")
    return x, y, w, h


def _decode_ferplus_face(path: Path, box: tuple[int, int, int, int]) -> np.ndarray | None:
    data = np.fromfile(path, dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE) if data.size else None
    if image is None:
        return None
    x, y, w, h = box
    face = image[y : y + h, x : x + w]
    return resize_face(face if face.size else image, INPUT_SIZE)


def _ferplus_folder_records(folder: Path, files: dict, start: int):
    """(face, majority label, name, file, votes) for each row of a FER+ folder's ``label.csv`` from the
    ``start``-th on; a malformed row or a missing image is an error naming its line."""
    label_file = folder / FERPLUS_LABEL_FILE
    prefix = _FERPLUS_PREFIX.get(folder.name, "")
    rows = []
    with open(label_file, newline="") as handle:
        for line, row in enumerate(csv.reader(handle), start=1):
            where = f"{label_file}:{line}"
            if len(row) != 2 + len(ferplus.VOTE_COLUMNS):
                raise DataError(f"{where}: expected name, face box and 10 vote counts; got {len(row)} fields")
            if row[0] not in files:
                raise DataError(f"{where}: image {row[0]!r} is missing from {folder}")
            rows.append((folder / row[0], _parse_box(row[1], where), _parse_votes(row[2:], where), where))
    if not rows:
        raise DataError(f"{label_file}: no rows")
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        for begin in range(start, len(rows), CACHE_CHUNK):
            todo = rows[begin : begin + CACHE_CHUNK]
            decoded = pool.map(lambda row: _decode_ferplus_face(row[0], row[1]), todo)
            for (file, _, votes, where), image in zip(todo, decoded, strict=True):
                yield image, _majority_label(votes), prefix + file.stem, where, votes


def _ferplus_csv_rows(path: Path):
    """(fer2013.csv row, fer2013new.csv row, where) for each FER+-labelled face, in file order: the
    rows whose image name is empty (faces all ten annotators called not a face) are skipped, as
    Microsoft's ``generate_training_data.py`` does."""
    faces_path = _fer2013_beside(path)
    with open(faces_path, newline="") as faces_file, open(path, newline="") as votes_file:
        faces, votes = csv.DictReader(faces_file), csv.reader(votes_file)
        header = next(votes, [])
        if [h.strip() for h in header[:2]] != ["Usage", "Image name"] or len(header) != 12:
            raise DataError(f"{path}: header must be Usage,Image name and the 10 FER+ vote columns")
        for line, pair in enumerate(itertools.zip_longest(faces, votes), start=2):
            face_row, vote_row = pair
            if face_row is None or vote_row is None:
                longer = path if face_row is None else faces_path
                raise DataError(f"{longer}:{line}: fer2013.csv and {FERPLUS_CSV} differ in length")
            if len(vote_row) > 1 and vote_row[1].strip():
                yield face_row, vote_row, f"{path}:{line}"


def _ferplus_csv_records(path: Path, _listing, start: int):
    """(face, majority label, name, line, votes) for each face of ``fer2013.csv`` + ``fer2013new.csv``
    from the ``start``-th on; faces are named by their FER+ image name, as in the folder layout."""
    pixels_per_face = INPUT_SIZE * INPUT_SIZE
    for face_row, vote_row, where in itertools.islice(_ferplus_csv_rows(path), start, None):
        if len(vote_row) != 12:
            raise DataError(f"{where}: expected 12 fields, got {len(vote_row)}")
        usage = vote_row[0].strip()
        if usage not in _CSV_USAGE_PREFIX or usage != (face_row.get("Usage") or "").strip():
            theirs = face_row.get("Usage")
            raise DataError(f"{where}: Usage {usage!r} does not match fer2013.csv's {theirs!r}")
        try:
            values = np.array((face_row.get("pixels") or "").split(), dtype=np.int64)
        except ValueError as error:
            raise DataError(f"{where}: malformed pixels in fer2013.csv ({error})") from None
        if values.size != pixels_per_face or values.min() < 0 or values.max() > 255:
            raise DataError(f"{where}: fer2013.csv's row has not {pixels_per_face} pixel values in 0..255")
        votes = _parse_votes(vote_row[2:], where)
        face = values.astype(np.uint8).reshape(INPUT_SIZE, INPUT_SIZE)
        name = _CSV_USAGE_PREFIX[usage] + Path(vote_row[1].strip()).stem
        yield face, _majority_label(votes), name, where, votes
