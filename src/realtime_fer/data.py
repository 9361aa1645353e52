"""FER-2013 loading from the Kaggle folder layout or the original ``fer2013.csv``, with a cache.

Either layout becomes a :class:`FaceSet`: uint8 faces (N, 48, 48), canonical labels and a name per
face. Names keep the Kaggle prefixes (``Training_``, ``PublicTest_``, ``PrivateTest_``) so both halves
of the test set are addressable in both layouts. Decoded arrays are cached under
``$REALTIME_FER_CACHE`` (default ``~/.cache/realtime-fer``), keyed by a fingerprint of the files.
"""

import csv
import hashlib
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from realtime_fer.emotions import CSV_ID_TO_EMOTION, EMOTION_INDEX, EMOTIONS, csv_id_to_index
from realtime_fer.preprocess import INPUT_SIZE, resize_face

CACHE_VERSION = "1"
SPLITS = ("train", "test", "public_test", "private_test")
_SPLIT_PREFIX = {"public_test": "PublicTest_", "private_test": "PrivateTest_"}
_CSV_USAGE_PREFIX = {"Training": "Training_", "PublicTest": "PublicTest_", "PrivateTest": "PrivateTest_"}


class DataError(ValueError):
    """The data set on disk is not in a layout we can read; the message names the path or row."""


class DataWarning(UserWarning):
    """A single image could not be read and was skipped (it is named and counted)."""


@dataclass(frozen=True)
class FaceSet:
    """Decoded faces: ``images`` uint8 (N, 48, 48), ``labels`` int64 (N,), ``names`` str (N,)."""

    images: np.ndarray
    labels: np.ndarray
    names: np.ndarray
    source: str
    fingerprint: str
    unreadable: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.labels)

    def class_counts(self) -> dict[str, int]:
        counts = np.bincount(self.labels, minlength=len(EMOTIONS))
        return {name: int(n) for name, n in zip(EMOTIONS, counts, strict=True)}

    def select(self, mask: np.ndarray, source: str) -> "FaceSet":
        return FaceSet(
            self.images[mask],
            self.labels[mask],
            self.names[mask],
            source,
            self.fingerprint,
            self.unreadable,
        )


def cache_dir() -> Path:
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "realtime-fer"
    return Path(os.environ.get("REALTIME_FER_CACHE", default))


def load(path: str | os.PathLike, split: str | None = None, use_cache: bool = True) -> FaceSet:
    """Load a split from a Kaggle root (``train/``, ``test/``), a class-folder directory or a CSV.

    ``split`` is one of :data:`SPLITS`; it is required for a root or a CSV. For a single
    class-folder directory it may be ``public_test`` / ``private_test`` to keep one half.
    """
    path = Path(path)
    if split is not None and split not in SPLITS:
        raise DataError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    if path.is_file():
        if split is None:
            raise DataError(f"{path}: a CSV holds several splits; choose one of {', '.join(SPLITS)}")
        return _split_by_prefix(_cached(path, _load_csv, use_cache), split, path)
    if not path.is_dir():
        raise DataError(f"{path}: no such file or directory")
    if _is_class_folder_dir(path):
        faces = _cached(path, _load_class_folders, use_cache)
        return faces if split in (None, "train", "test") else _split_by_prefix(faces, split, path)
    if (path / "train").is_dir() or (path / "test").is_dir():
        if split is None:
            raise DataError(f"{path}: holds train/ and test/; choose one of {', '.join(SPLITS)}")
        folder = path / ("train" if split == "train" else "test")
        if not folder.is_dir():
            raise DataError(f"{folder}: missing (needed for split {split!r})")
        faces = _cached(folder, _load_class_folders, use_cache)
        return faces if split in ("train", "test") else _split_by_prefix(faces, split, folder)
    raise DataError(
        f"{path}: expected a fer2013.csv, a folder with train/ and test/, "
        f"or a folder of class folders ({', '.join(EMOTIONS)})"
    )


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


def _listing(path: Path) -> tuple[str, object]:
    """A fingerprint of what is on disk plus whatever the loader needs to decode it."""
    if path.is_file():
        stat = path.stat()
        return _fingerprint([f"csv {path.resolve()} {stat.st_size} {stat.st_mtime_ns}"]), None
    files = _class_files(path)
    lines = [f"{f.relative_to(path)} {label} {s.st_size} {s.st_mtime_ns}" for f, label, s in files]
    return _fingerprint(lines), files


def _cached(path: Path, loader, use_cache: bool) -> FaceSet:
    fingerprint, listing = _listing(path)
    cache_file = cache_dir() / f"{fingerprint}.npz"
    if use_cache and cache_file.exists():
        try:
            with np.load(cache_file) as stored:
                return FaceSet(
                    stored["images"],
                    stored["labels"],
                    stored["names"],
                    str(path),
                    fingerprint,
                    tuple(stored["unreadable"].tolist()),
                )
        except (OSError, ValueError, KeyError):
            cache_file.unlink(missing_ok=True)  # a damaged cache is rebuilt, never trusted
    faces = loader(path, listing, fingerprint)
    for bad in faces.unreadable:
        warnings.warn(f"unreadable image skipped: {bad}", DataWarning, stacklevel=3)
    if use_cache:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_file.with_suffix(".tmp.npz")
        np.savez(
            tmp,
            images=faces.images,
            labels=faces.labels,
            names=faces.names,
            unreadable=np.array(faces.unreadable, dtype=str),
        )
        os.replace(tmp, cache_file)
    return faces


def _decode_file(path: Path) -> np.ndarray | None:
    data = np.fromfile(path, dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE) if data.size else None
    return None if image is None else resize_face(image, INPUT_SIZE)


def _load_class_folders(root: Path, files, fingerprint: str) -> FaceSet:
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        decoded = list(pool.map(_decode_file, (f for f, _, _ in files), chunksize=256))
    keep = [i for i, image in enumerate(decoded) if image is not None]
    unreadable = tuple(str(files[i][0]) for i, image in enumerate(decoded) if image is None)
    if not keep:
        raise DataError(f"{root}: none of its {len(files)} images could be read")
    images = np.stack([decoded[i] for i in keep])
    labels = np.array([files[i][1] for i in keep], dtype=np.int64)
    names = np.array([files[i][0].stem for i in keep], dtype=str)
    return FaceSet(images, labels, names, str(root), fingerprint, unreadable)


def _load_csv(path: Path, _listing, fingerprint: str) -> FaceSet:
    """Parse ``emotion,pixels,Usage`` rows; any malformed row is an error naming its line."""
    pixels_per_face = INPUT_SIZE * INPUT_SIZE
    images, labels, names = [], [], []
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"emotion", "pixels"} - set(reader.fieldnames or ())
        if missing:
            raise DataError(f"{path}: header lacks column(s) {', '.join(sorted(missing))}")
        for line, row in enumerate(reader, start=2):
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
            images.append(values.astype(np.uint8).reshape(INPUT_SIZE, INPUT_SIZE))
            labels.append(csv_id_to_index(emotion))
            names.append(f"{_CSV_USAGE_PREFIX[usage]}row{line}")
    if not images:
        raise DataError(f"{path}: no rows")
    return FaceSet(
        np.stack(images),
        np.array(labels, dtype=np.int64),
        np.array(names, dtype=str),
        str(path),
        fingerprint,
    )
