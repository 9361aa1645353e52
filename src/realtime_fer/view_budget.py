"""Live video's budget: how many views of each face a frame can afford and still keep the source's
frame rate, chosen frame by frame from what classifying has been measured to cost.

A frame with ``n`` faces classified with ``v`` views costs about ``n * v * ms_per_view`` besides the
rest of the frame (detection, crops, tracking): :class:`ViewBudget` serves the most views, up to the
view set asked for, that fit in :data:`HEADROOM` of the frame's time (the rest is for drawing and
encoding), and never fewer than one. Recorded files are not budgeted: they get every view.
"""

import threading

from realtime_fer.tta import TTA_MODES, TTA_VIEWS

DEFAULT_FPS = 30.0  # a camera or stream that does not say its frame rate
HEADROOM = 0.8  # share of a frame's time that detection and classification may take
SMOOTHING = 0.8  # weight the running costs keep at each frame (about the last five frames)


class ViewBudget:
    """Chooses each live frame's TTA (:meth:`choose`) from the costs of earlier frames (:meth:`record`).

    ``ms_per_view`` seeds the cost of classifying one view of one face (e.g. the recognizer's
    measured ``serving_choice``); unknown, the first frame gets the views asked for and is timed.
    Shared by the threads of one app: its running costs are updated under a lock.
    """

    def __init__(self, fps: float | None = None, ms_per_view: float | None = None):
        self.fps = fps or DEFAULT_FPS
        self.frame_ms = 1000.0 / self.fps
        self.ms_per_view = ms_per_view
        self.other_ms: float | None = None  # the rest of a frame: detection, crops, tracking
        self.last_tta: str | None = None
        self._lock = threading.Lock()

    @classmethod
    def seeded(cls, fps: float | None, serving_choice: dict) -> "ViewBudget":
        """A budget for a source of ``fps`` frames/s, its cost seeded from a recognizer's
        ``serving_choice`` (the ms of one face with its views, where they were measured)."""
        ms, views = serving_choice.get("ms_per_face"), serving_choice.get("views")
        seed = ms[serving_choice["precision"]] / views if ms and views else None
        return cls(fps, seed)

    def choose(self, faces: int, most: str) -> str:
        """The TTA for a frame with ``faces`` faces: the one with the most views, up to ``most``'s,
        whose cost fits the frame; ``"none"`` (one view) when even that does not."""
        allowed = TTA_MODES[: TTA_MODES.index(most) + 1]
        with self._lock:
            cost, spare = self.ms_per_view, self.frame_ms * HEADROOM - (self.other_ms or 0.0)
        fits = [t for t in allowed if cost is None or faces * TTA_VIEWS[t] * cost <= spare]
        self.last_tta = fits[-1] if fits else "none"
        return self.last_tta

    def record(self, faces: int, tta: str, classify_ms: float, other_ms: float) -> None:
        """What a frame cost: ``classify_ms`` for ``faces`` faces with ``tta``'s views, and ``other_ms``."""
        with self._lock:
            self.other_ms = _smoothed(self.other_ms, other_ms)
            if faces:
                self.ms_per_view = _smoothed(self.ms_per_view, classify_ms / (faces * TTA_VIEWS[tta]))

    def state(self) -> dict:
        """The budget as reports show it: frame rate kept, running costs and the last frame's TTA."""
        with self._lock:
            cost = None if self.ms_per_view is None else round(self.ms_per_view, 3)
            other = None if self.other_ms is None else round(self.other_ms, 3)
            return {"fps": self.fps, "ms_per_view": cost, "other_ms": other, "last_tta": self.last_tta}


def _smoothed(known: float | None, new: float) -> float:
    return new if known is None else SMOOTHING * known + (1 - SMOOTHING) * new
