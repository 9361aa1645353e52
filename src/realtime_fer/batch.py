"""Many images and videos at once: ``realtime-fer batch INPUT... --out DIR [--workers N]``.

Each input file gets its own folder under ``DIR`` (a video: its report, see :mod:`realtime_fer.report`;
an image: ``faces.csv`` and ``summary.json``) and a ``done.json`` written last, so a batch run again
skips the files it finished and does only the rest. A file that fails is an error row in
``index.csv`` and never stops the others. At the end ``DIR`` gets ``index.csv`` (file, kind, faces,
frames, status, error) and every file's ``faces.csv`` and ``tracks.csv`` in one, with a ``file`` column
first. ``--workers N`` runs N processes, each with its own pipeline; ``--engine dask`` runs the same
task per file on a Dask cluster's workers (:mod:`realtime_fer.engines`). The tasks get absolute paths,
so any worker that sees this file system can run them.
"""

import csv
import glob
import json
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from realtime_fer.engines import submitted
from realtime_fer.report import atomic_open, write_json

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})
VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv"})
INDEX_FIELDS = ("file", "kind", "faces", "frames", "status", "error")
DONE = "done.json"


class BatchError(ValueError):
    """An input that names nothing: a missing path or a glob that matches no file."""


@dataclass(frozen=True)
class Settings:
    """What every worker builds its pipelines from."""

    model: str
    detector: str
    tta: str | None = None
    uncertain_below: float | None = None
    min_face: int | None = None  # the detector's, for stills and for video (None: each one's default)
    threshold: float | None = None
    provider: str = "auto"


def kind_of(path: Path) -> str | None:
    """``image``, ``video`` or ``None`` (neither), by the file's extension."""
    suffix = path.suffix.lower()
    return "image" if suffix in IMAGE_SUFFIXES else "video" if suffix in VIDEO_SUFFIXES else None


def collect(inputs: Iterable[str], kinds: tuple[str, ...] = ("image", "video")) -> list[Path]:
    """The files ``inputs`` name, sorted and once each: files as given, folders searched recursively
    and globs (``*``, ``?``, ``[``; ``**`` for any depth) expanded to the images and videos in them.
    Raises :class:`BatchError` for a path that does not exist or a glob that matches nothing."""
    found: set[Path] = set()
    for spec in inputs:
        if glob.has_magic(spec):
            matches = [Path(m) for m in glob.glob(spec, recursive=True)]
            files = [m for m in matches if m.is_file() and kind_of(m) in kinds]
            files += [f for m in matches if m.is_dir() for f in _search(m, kinds)]
            if not files:
                raise BatchError(f"{spec}: matches no {' or '.join(kinds)} file")
        elif Path(spec).is_dir():
            files = list(_search(Path(spec), kinds))
        elif Path(spec).is_file():
            files = [Path(spec)]
        else:
            raise BatchError(f"{spec}: no such file or folder")
        found.update(files)
    return sorted(found)


def _search(folder: Path, kinds: tuple[str, ...]) -> Iterator[Path]:
    return (p for p in folder.rglob("*") if p.is_file() and kind_of(p) in kinds)


def output_names(files: list[Path]) -> dict[Path, str]:
    """A folder name per file: its path below the files' common folder, ``/`` written as ``__``
    (the same for the same inputs, so a rerun finds its earlier outputs)."""
    resolved = [f.resolve() for f in files]
    root = Path(os.path.commonpath([r.parent for r in resolved])) if resolved else Path()
    return {f: "__".join(r.relative_to(root).parts) for f, r in zip(files, resolved, strict=True)}


_PIPELINES: dict[Settings, tuple] = {}


def _pipelines(settings: Settings) -> tuple:
    """This process's (still, video) pipelines, built once: one model session for both."""
    if settings not in _PIPELINES:
        from realtime_fer.detector import create_detector
        from realtime_fer.pipeline import FaceEmotionPipeline
        from realtime_fer.recognizer import EmotionRecognizer

        s = settings
        recognizer = EmotionRecognizer(
            s.model, tta=s.tta, uncertain_below=s.uncertain_below, provider=s.provider
        )
        detectors = [
            create_detector(s.detector, video, s.min_face, s.threshold, s.provider) for video in (False, True)
        ]
        _PIPELINES[settings] = (
            FaceEmotionPipeline(recognizer, detectors[0]),
            FaceEmotionPipeline(recognizer, detectors[1], tracking=True),
        )
    return _PIPELINES[settings]


def run_one(path: str, kind: str | None, out_dir: str, settings: Settings) -> dict[str, Any]:
    """Analyse one file into ``out_dir``; its ``index.csv`` row. Any failure becomes the row's error."""
    row = {"file": path, "kind": kind or "", "faces": "", "frames": "", "status": "error", "error": ""}
    try:
        if kind is None:
            raise ValueError("not an image or video file name")
        still, video = _pipelines(settings)
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        summary = _image(path, out_dir, still) if kind == "image" else _video(path, out_dir, video)
        row.update(faces=summary["faces"], frames=summary["frames"], status="done")
        write_json(Path(out_dir) / DONE, row)  # last: the mark of a finished file
    except Exception as error:  # one bad file is recorded, never stops the batch
        row["error"] = " ".join(str(error).split()) or type(error).__name__
        with suppress(OSError):  # the folder made for it, if it stayed empty
            Path(out_dir).rmdir()
    return row


def _video(path: str, out_dir: str, pipeline) -> dict[str, Any]:
    from realtime_fer.video import analyse_video

    return analyse_video(path, out_dir, pipeline=pipeline)


def _image(path: str, out_dir: str, pipeline) -> dict[str, Any]:
    import cv2
    import numpy as np

    from realtime_fer.report import FaceTable

    image = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError("not an image OpenCV can read")
    faces = pipeline.process(image)
    table = FaceTable(Path(out_dir) / "faces.csv", pipeline.recognizer.classes)
    table.add(0, 0.0, image, faces)
    table.close()
    summary = {"input": path, "frames": 1, "faces": len(faces), "model": pipeline.recognizer.name,
               "detector": pipeline.detector.name, "classes": list(pipeline.recognizer.classes)}
    write_json(Path(out_dir) / "summary.json", summary)
    return summary


@dataclass
class BatchResult:
    """Files done in this run, skipped as done before, and failed."""

    done: int = 0
    skipped: int = 0
    failed: int = 0


def run_batch(
    inputs: Iterable[str], out: str | os.PathLike, settings: Settings, workers: int = 1,
    progress: bool = False, engine: str = "local", address: str | None = None,
) -> BatchResult:
    """Analyse every file ``inputs`` name into ``out`` (see the module's docstring), on ``engine``
    (:mod:`realtime_fer.engines`; ``address``: a running Dask scheduler). With ``workers`` above 1 or on
    Dask the processes are spawned, so a script calling this needs ``if __name__ == "__main__":``."""
    from tqdm import tqdm

    out = Path(out)
    # never the batch's own outputs (timeline.png) when DIR lies inside an input folder
    files = [f for f in collect(inputs) if not f.resolve().is_relative_to(out.resolve())]
    out.mkdir(parents=True, exist_ok=True)
    _pipelines(settings)  # a model or detector that cannot load stops the batch here, once
    folders = {f: out / name for f, name in output_names(files).items()}
    rows: dict[Path, dict[str, Any]] = {}
    result = BatchResult()
    for f in files:
        if (folders[f] / DONE).is_file():
            rows[f] = json.loads((folders[f] / DONE).read_text())
            result.skipped += 1
    todo = [f for f in files if f not in rows]
    tasks = {f: (str(f.absolute()), kind_of(f), str(folders[f].absolute()), settings) for f in todo}
    here = not tasks or engine == "local" and workers == 1  # nothing to do starts no workers
    running = nullcontext((f, run_one(*task)) for f, task in tasks.items()) if here else _parallel(
        tasks, engine, workers, address)
    with running as finished, tqdm(total=len(todo), unit="file", disable=not progress) as bar:
        for f, row in finished:
            rows[f] = row
            result.done += row["status"] == "done"
            result.failed += row["status"] != "done"
            bar.update()
    index = [{**rows[f], "file": str(f)} for f in files]  # named as the inputs name it
    _write_index(out / "index.csv", index)
    _combine(out, [(f, folders[f]) for f, row in zip(files, index, strict=True) if row["status"] == "done"])
    return result


@contextmanager
def _parallel(tasks: dict[Path, tuple], engine: str, workers: int,
              address: str | None) -> Iterator[Iterator[tuple[Path, dict[str, Any]]]]:
    """(file, row) as each finishes on ``engine``; a task whose worker died is an error row."""
    with submitted(run_one, tasks, engine, workers, address) as finished:
        yield ((f, _row(f, future)) for f, future in finished)


def _row(f: Path, future) -> dict[str, Any]:
    try:
        return future.result()
    except Exception as error:  # e.g. a decoder crash took the process: record it, go on
        return {"file": str(f), "kind": kind_of(f) or "", "faces": "", "frames": "", "status": "error",
                "error": f"worker process failed: {error!r}"}


def _write_index(path: Path, rows: list[dict[str, Any]]) -> None:
    with atomic_open(path) as handle:
        writer = csv.DictWriter(handle, INDEX_FIELDS)
        writer.writeheader()
        writer.writerows({k: row.get(k, "") for k in INDEX_FIELDS} for row in rows)


def _combine(out: Path, done: list[tuple[Path, Path]]) -> None:
    """``out/faces.csv`` and ``out/tracks.csv``: every finished file's, with a ``file`` column first."""
    for name in ("faces.csv", "tracks.csv"):
        parts = [(f, folder / name) for f, folder in done if (folder / name).is_file()]
        header: list[str] | None = None
        with atomic_open(out / name) as handle:
            writer = csv.writer(handle)
            for f, part in parts:
                with open(part, newline="") as source:
                    reader = csv.reader(source)
                    columns = next(reader)
                    if header is None:
                        header = columns
                        writer.writerow(["file", *header])
                    if columns != header:
                        raise BatchError(f"{part}: other columns than the rest (another model?)")
                    writer.writerows([str(f), *values] for values in reader)
