"""A per-video report: ``faces.csv`` (a row per face and frame), ``tracks.csv`` (a row per tracked
person), ``summary.json`` and ``timeline.png`` (each track's expression probabilities over time).

    from realtime_fer.video import analyse_video
    summary = analyse_video("talk.mp4", "talk-report")   # the same as `realtime-fer video talk.mp4 --report`

Times come from the container's timestamps. A frame lasts until the next one starts, so a track's
``seconds`` and its ``share_<class>`` (of its time spent with that label; they sum to 1) hold for
variable frame rates too. Every file is written under a temporary name and then renamed, so a
report file that exists is complete.
"""

import csv
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import cv2
import numpy as np

FACE_FIELDS = ("frame", "time_s", "track_id", "x", "y", "w", "h", "emotion", "confidence")
THUMBNAIL = 64
TIMELINE_TRACKS = 12  # the longest tracks drawn; tracks.csv has them all
TIMELINE_POINTS = 600


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary path beside ``path`` (same extension) that replaces it when the block ends
    without an error; after an error it is removed and ``path`` is left as it was."""
    path = Path(path)
    tmp = temporary_name(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def temporary_name(path: Path) -> Path:
    """Where ``path`` is written before it is renamed: a hidden name, unique to this process."""
    return path.with_name(f".{path.stem}.tmp{os.getpid()}{path.suffix}")


@contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w") -> Iterator[IO]:
    """``open(path, mode)`` whose file appears under ``path`` only once it is complete."""
    with atomic_path(path) as tmp, open(tmp, mode, newline="" if "b" not in mode else None) as handle:
        yield handle


def write_json(path: str | os.PathLike, data: Any) -> None:
    """``data`` as indented JSON, atomically."""
    with atomic_open(path) as handle:
        handle.write(json.dumps(data, indent=2) + "\n")


def face_fields(classes: tuple[str, ...]) -> tuple[str, ...]:
    """A face's columns: frame, time, track, box, label, confidence, a probability per class,
    ``uncertain``."""
    return (*FACE_FIELDS, *classes, "uncertain")


def frame_face_fields(classes: tuple[str, ...]) -> tuple[str, ...]:
    """The columns of a video's ``faces.csv`` (and ``video --csv``): :func:`face_fields`, then ``tta``,
    the views the frame was classified with (a camera's or stream's: as many as the frame rate left),
    and ``detected``: whether the detector ran on the frame (``false``: ``--detect-every`` skipped it,
    the faces are where they were last seen)."""
    return (*face_fields(classes), "tta", "detected")


def face_values(face, classes: tuple[str, ...]) -> list:
    """A face's box, label, confidence, class probabilities and uncertain flag, formatted for a CSV."""
    return [
        *face.box,
        face.emotion,
        f"{face.confidence:.4f}",
        *(f"{face.scores[e]:.4f}" for e in classes),
        "true" if face.uncertain else "false",
    ]


class FaceTable:
    """``faces.csv`` written as the frames come, under a temporary name until :meth:`close`."""

    def __init__(self, path: str | os.PathLike, classes: tuple[str, ...]):
        self.classes = classes
        self.path = Path(path)
        self._tmp = temporary_name(self.path)
        self._handle = open(self._tmp, "w", newline="")  # noqa: SIM115 (closed by close())
        self._writer = csv.writer(self._handle)
        self._writer.writerow(frame_face_fields(classes))

    def add(
        self, index: int, time_s: float, frame: np.ndarray, faces: list, tta: str = "", detected: bool = True
    ) -> None:
        """The frame's faces, ``tta``: the views the frame was classified with, and whether it was
        ``detected``."""
        for face in faces:
            track = face.track_id if face.track_id is not None else ""
            values = face_values(face, self.classes)
            self._writer.writerow([index, f"{time_s:.3f}", track, *values, tta, str(detected).lower()])

    def close(self, complete: bool = True) -> None:
        """Publish the table (``complete``) or drop it (after an error)."""
        self._handle.close()
        if complete:
            os.replace(self._tmp, self.path)
        else:
            self._tmp.unlink(missing_ok=True)


@dataclass
class _Track:
    frames: list[int] = field(default_factory=list)
    scores: list[np.ndarray] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    uncertain: list[bool] = field(default_factory=list)
    thumbnail: np.ndarray | None = None
    thumbnail_side: int = 0


class Report:
    """Collects a video's tracked faces frame by frame and writes the report folder at the end."""

    def __init__(self, out_dir: str | os.PathLike, classes: tuple[str, ...]):
        self.out = Path(out_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        self.classes = classes
        self.times: list[float] = []
        self.tracks: dict[int, _Track] = {}
        self.faces = FaceTable(self.out / "faces.csv", classes)

    def add(
        self, index: int, time_s: float, frame: np.ndarray, faces: list, tta: str = "", detected: bool = True
    ) -> None:
        """Frame ``index`` (0, 1, ...; every frame of the video, with faces or not), classified with
        the views ``tta`` names, ``detected`` or not (:meth:`FaceTable.add`)."""
        self.faces.add(index, time_s, frame, faces, tta, detected)
        self.times.append(time_s)
        for face in faces:
            if face.track_id is None:
                raise ValueError("a report needs tracked faces (a pipeline with tracking=True)")
            track = self.tracks.setdefault(face.track_id, _Track())
            track.frames.append(index)
            track.scores.append(np.array([face.scores[e] for e in self.classes], np.float32))
            track.labels.append(self.classes.index(face.emotion))
            track.uncertain.append(face.uncertain)
            if face.box[2] > track.thumbnail_side:  # the largest view of the face
                track.thumbnail, track.thumbnail_side = _thumbnail(frame, face.box), face.box[2]

    def close(self, summary: dict[str, Any], complete: bool = True) -> dict[str, Any]:
        """Write ``tracks.csv``, ``timeline.png`` and ``summary.json`` (``summary`` plus the report's
        own figures) after ``faces.csv``; returns the summary. Not ``complete``: drop it all."""
        self.faces.close(complete)
        if not complete:
            return summary
        rows = self.track_rows()
        with atomic_open(self.out / "tracks.csv") as handle:
            writer = csv.DictWriter(handle, track_fields(self.classes))
            writer.writeheader()
            writer.writerows(rows)
        drawn = self.timeline(self.out / "timeline.png", rows)
        summary = {
            **summary,
            "classes": list(self.classes),
            "tracks": len(rows),
            "faces": sum(row["frames"] for row in rows),
            "duration_s": round(float(self.times[-1] + self.durations()[-1]), 3) if self.times else 0.0,
            "files": ["faces.csv", "tracks.csv", "timeline.png", "summary.json"],
            "timeline_tracks": drawn,
            "expression_seconds": {
                e: round(sum(row["seconds"] * row[f"share_{e}"] for row in rows), 3) for e in self.classes
            },
        }
        write_json(self.out / "summary.json", summary)
        return summary

    def durations(self) -> np.ndarray:
        """How long each frame is shown: until the next frame's time (the last: the median gap)."""
        times = np.asarray(self.times, np.float64)
        gaps = np.clip(np.diff(times), 0.0, None)
        last = float(np.median(gaps)) if len(gaps) else 0.0
        return np.append(gaps, last)

    def track_rows(self) -> list[dict[str, Any]]:
        """A ``tracks.csv`` row per track, in order of first appearance."""
        durations, times = self.durations(), self.times
        rows = []
        for track_id, track in sorted(self.tracks.items(), key=lambda item: (item[1].frames[0], item[0])):
            weights = durations[track.frames]
            if weights.sum() <= 0:  # a single frame, or timestamps that do not advance: count frames
                weights = np.ones(len(track.frames))
            weights = weights / weights.sum()
            scores = np.stack(track.scores)
            shares = np.bincount(track.labels, weights, minlength=len(self.classes))
            row: dict[str, Any] = {
                "track_id": track_id,
                "first_s": round(times[track.frames[0]], 3),
                "last_s": round(times[track.frames[-1]], 3),
                "frames": len(track.frames),
                "seconds": round(float(durations[track.frames].sum()), 3),
                "dominant": self.classes[int(np.argmax(shares))],
                "uncertain_share": round(float(np.dot(weights, track.uncertain)), 4),
            }
            means = weights @ scores
            row.update({f"mean_{e}": round(float(v), 4) for e, v in zip(self.classes, means, strict=True)})
            row.update({f"share_{e}": round(float(v), 4) for e, v in zip(self.classes, shares, strict=True)})
            rows.append(row)
        return rows

    def timeline(self, path: Path, rows: list[dict[str, Any]]) -> list[int]:
        """Draw the longest tracks' probabilities over the video's time (stacked, a colour per class)
        beside a thumbnail of each face; returns the track ids drawn, top to bottom."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        chosen = sorted(rows, key=lambda row: -row["seconds"])[:TIMELINE_TRACKS]
        chosen.sort(key=lambda row: (row["first_s"], row["track_id"]))
        ids = [row["track_id"] for row in chosen]
        times = np.asarray(self.times)
        end = float(times[-1] + self.durations()[-1]) if len(times) else 1.0
        figure, axes = plt.subplots(
            max(len(ids), 1), 2, figsize=(11, 0.4 + 1.3 * max(len(ids), 1)), squeeze=False,
            gridspec_kw={"width_ratios": [1, 9]},
        )
        colours = plt.get_cmap("tab10")(range(10))
        for (thumb_axis, axis), track_id in zip(axes[: len(ids)], ids, strict=True):
            track = self.tracks[track_id]
            if track.thumbnail is not None:
                thumb_axis.imshow(track.thumbnail[..., ::-1])
            thumb_axis.set_axis_off()
            thumb_axis.set_title(f"track {track_id}", fontsize=9)
            grid, stacked = _on_grid(times, track.frames, np.stack(track.scores))
            axis.stackplot(grid, stacked.T, colors=colours[: len(self.classes)], labels=self.classes)
            axis.set_xlim(0, max(end, 1e-3))
            axis.set_ylim(0, 1)
            axis.set_yticks([0, 1])
            axis.tick_params(labelsize=8)
        if not ids:
            axes[0, 0].set_axis_off()
            axes[0, 1].text(0.5, 0.5, "no faces tracked", ha="center", va="center")
        axes[0, 1].legend(loc="lower left", bbox_to_anchor=(0, 1.02), ncol=len(self.classes), fontsize=8,
                          frameon=False)
        axes[-1, 1].set_xlabel("time (s)")
        figure.tight_layout()
        with atomic_path(path) as tmp:
            figure.savefig(tmp, dpi=80, metadata={"Description": f"tracks: {' '.join(map(str, ids))}"})
        plt.close(figure)
        return ids


def track_fields(classes: tuple[str, ...]) -> tuple[str, ...]:
    """The columns of ``tracks.csv``."""
    return (
        "track_id", "first_s", "last_s", "frames", "seconds", "dominant", "uncertain_share",
        *(f"mean_{e}" for e in classes), *(f"share_{e}" for e in classes),
    )


def _thumbnail(frame: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    x, y, w, h = box
    height, width = frame.shape[:2]
    face = frame[max(y, 0) : min(y + h, height), max(x, 0) : min(x + w, width)]
    if face.ndim == 2:
        face = cv2.cvtColor(face, cv2.COLOR_GRAY2BGR)
    return cv2.resize(face[..., :3], (THUMBNAIL, THUMBNAIL), interpolation=cv2.INTER_AREA)


def _on_grid(times: np.ndarray, frames: list[int], scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The track's scores at every frame of the video (zero where it is not seen), averaged into at
    most :data:`TIMELINE_POINTS` bins so that long videos draw quickly."""
    full = np.zeros((len(times), scores.shape[1]), np.float32)
    full[frames] = scores
    bins = np.array_split(np.arange(len(times)), min(len(times), TIMELINE_POINTS))
    return np.array([times[b].mean() for b in bins]), np.stack([full[b].mean(axis=0) for b in bins])
