"""What a prediction is: :class:`Emotion` (one face crop's label and scores) and :class:`Face` (one
face in a frame: its box too). A leaf module: the recognizer, the pipeline and drawing all import it,
and it imports none of them."""

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Emotion:
    """One face's prediction: the winning label, its probability, every class's probability (in the
    model's order) and whether the winning probability is below the recognizer's threshold."""

    label: str
    confidence: float
    scores: dict[str, float]
    uncertain: bool = False


@dataclass
class Face:
    """One face in a frame: ``box`` is ``(x, y, w, h)`` in pixels, ``scores`` has all the model's classes
    (in its order); ``uncertain``: ``confidence`` is below the recognizer's ``uncertain_below``."""

    box: tuple[int, int, int, int]
    emotion: str
    confidence: float
    scores: dict[str, float] = field(repr=False)
    track_id: int | None = None
    uncertain: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: box, emotion, confidence, uncertain, scores (and track_id when tracking)."""
        out: dict[str, Any] = {
            "box": list(self.box),
            "emotion": self.emotion,
            "confidence": round(self.confidence, 4),
            "uncertain": self.uncertain,
            "scores": {name: round(p, 4) for name, p in self.scores.items()},
        }
        if self.track_id is not None:
            out["track_id"] = self.track_id
        return out
