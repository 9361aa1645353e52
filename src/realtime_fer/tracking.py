"""Per-face tracks across the frames of one stream, so labels do not flicker.

A face is matched to the track it overlaps most (greedy IoU matching) and its probabilities (one per
class of the model) are smoothed with an exponential moving average. A track survives frames without
a match, since a detector misses a face now and then, and meanwhile the face may move: a face
overlapping no track enough is matched to an unmatched track whose last box was about as large and not
more than its own side away, so after a gap the face keeps its id and its smoothing instead of
starting anew.
"""

from dataclasses import dataclass

import numpy as np

from realtime_fer.detectors.boxes import iou_matrix


@dataclass
class _Track:
    id: int
    box: np.ndarray
    probabilities: np.ndarray
    missed: int = 0


class Tracker:
    """Stable ids and smoothed probabilities for the faces of consecutive frames.

    ``smoothing`` is the weight kept from the past (0: none; 0.7 reaches 90% of a change in about
    six frames). ``max_missed`` frames without a match end a track (15: half a second at 30 fps).
    Without enough overlap a box may still continue a track whose centre is less than
    ``max_distance`` face sides away and whose side differs by less than a factor ``max_size_ratio``.
    """

    def __init__(
        self,
        smoothing: float = 0.7,
        iou_threshold: float = 0.3,
        max_missed: int = 15,
        max_distance: float = 1.0,
        max_size_ratio: float = 1.5,
    ):
        if not 0.0 <= smoothing < 1.0:
            raise ValueError(f"smoothing must be in [0, 1), got {smoothing}")
        self.smoothing = smoothing
        self.iou_threshold = iou_threshold
        self.max_missed = max_missed
        self.max_distance = max_distance
        self.max_size_ratio = max_size_ratio
        self._tracks: list[_Track] = []
        self._next_id = 1

    def update(self, boxes: np.ndarray, probabilities: np.ndarray) -> tuple[list[int], np.ndarray]:
        """Track ids and smoothed (N, C) probabilities (C classes) for this frame's boxes (N, 4)."""
        boxes = np.asarray(boxes).reshape(-1, 4)
        smoothed = np.array(probabilities, np.float32, ndmin=2)  # a copy: smoothed in place
        if len(smoothed) != len(boxes):
            raise ValueError(f"{len(boxes)} boxes but {len(smoothed)} rows of probabilities")
        ids = [0] * len(boxes)
        seen: set[int] = set()
        if self._tracks and len(boxes):
            affinity = self._affinity(np.stack([t.box for t in self._tracks]), boxes)
            # best first; each track and each box is used once
            for flat in np.argsort(-affinity, axis=None, kind="stable"):
                t, b = np.unravel_index(flat, affinity.shape)
                if affinity[t, b] <= 0:
                    break
                track = self._tracks[t]
                if track.id in seen or ids[b]:
                    continue
                keep = self.smoothing
                smoothed[b] = keep * track.probabilities + (1 - keep) * smoothed[b]
                track.box, track.probabilities = boxes[b].copy(), smoothed[b].copy()
                track.missed = 0
                ids[b] = track.id
                seen.add(track.id)
        for track in self._tracks:
            if track.id not in seen:
                track.missed += 1
        self._tracks = [t for t in self._tracks if t.missed <= self.max_missed]
        for b in np.flatnonzero(np.equal(ids, 0)):
            self._tracks.append(_Track(self._next_id, boxes[b].copy(), smoothed[b].copy()))
            ids[b] = self._next_id
            self._next_id += 1
        return ids, smoothed

    def _affinity(self, tracked: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """(T, B) match preference: IoU where it reaches the threshold; otherwise, for boxes near a
        track and of about its size, a value in (0, threshold) that falls with the distance; else 0."""
        overlap = iou_matrix(tracked, boxes)
        sides_t = tracked[:, 2:4].max(axis=1)[:, None].astype(np.float64)
        sides_b = boxes[:, 2:4].max(axis=1)[None, :].astype(np.float64)
        centres_t = tracked[:, None, :2] + tracked[:, None, 2:4] / 2
        centres_b = boxes[None, :, :2] + boxes[None, :, 2:4] / 2
        distance = np.linalg.norm(centres_t - centres_b, axis=2) / np.maximum(sides_t, sides_b)
        similar = np.maximum(sides_t, sides_b) < self.max_size_ratio * np.minimum(sides_t, sides_b)
        near = similar & (distance < self.max_distance)
        fallback = np.where(near, self.iou_threshold * (1 - distance / self.max_distance), 0.0)
        return np.where(overlap >= self.iou_threshold, overlap, fallback)

    def boxes(self) -> np.ndarray:
        """(N, 4) boxes of the tracks matched in the last update, where their faces were last seen."""
        seen = [t.box for t in self._tracks if t.missed == 0]
        return np.stack(seen) if seen else np.zeros((0, 4))

    def reset(self) -> None:
        """Forget all tracks (a new stream starts again from id 1)."""
        self._tracks.clear()
        self._next_id = 1
