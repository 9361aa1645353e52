"""Per-face tracks across the frames of one stream, so labels do not flicker.

A face is matched to last frame's face it overlaps most (greedy IoU matching) and its seven
probabilities are smoothed with an exponential moving average. A track survives a few frames
without a match, because a Haar cascade misses a face now and then.
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
    six frames). ``max_missed`` frames without a match end a track.
    """

    def __init__(self, smoothing: float = 0.7, iou_threshold: float = 0.3, max_missed: int = 5):
        if not 0.0 <= smoothing < 1.0:
            raise ValueError(f"smoothing must be in [0, 1), got {smoothing}")
        self.smoothing = smoothing
        self.iou_threshold = iou_threshold
        self.max_missed = max_missed
        self._tracks: list[_Track] = []
        self._next_id = 1

    def update(self, boxes: np.ndarray, probabilities: np.ndarray) -> tuple[list[int], np.ndarray]:
        """Track ids and smoothed (N, 7) probabilities for this frame's boxes (N, 4)."""
        boxes = np.asarray(boxes).reshape(-1, 4)
        smoothed = np.array(probabilities, np.float32, ndmin=2)  # a copy: smoothed in place
        if len(smoothed) != len(boxes):
            raise ValueError(f"{len(boxes)} boxes but {len(smoothed)} rows of probabilities")
        ids = [0] * len(boxes)
        seen: set[int] = set()
        if self._tracks and len(boxes):
            overlap = iou_matrix(np.stack([t.box for t in self._tracks]), boxes)
            # best overlaps first; each track and each box is used once
            for flat in np.argsort(-overlap, axis=None, kind="stable"):
                t, b = np.unravel_index(flat, overlap.shape)
                if overlap[t, b] < self.iou_threshold:
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

    def reset(self) -> None:
        """Forget all tracks (a new stream starts again from id 1)."""
        self._tracks.clear()
        self._next_id = 1
