"""FER+ crowd labels: ten annotators' votes per face turned into training targets, as the FER+ paper
(Barsoum et al. 2016, arXiv 1608.01041) and Microsoft's ``src/ferplus.py`` define them.

Votes come in FER+'s column order (:data:`VOTE_COLUMNS`); targets come out in this project's eight-class
order (:data:`emotions.FERPLUS_CLASSES`). :func:`vote_targets` owns the whole processing:

- a vote count of 1 is dropped as an outlier;
- ``majority``: the face counts when one column holds more than half of the remaining votes;
- ``probability`` / ``crossentropy``: the largest columns are taken in turn (ties together) until they
  hold 75% of the votes, at most three of them; fewer than half the votes kept, or more than three
  columns, discards the face; an unknown / not-a-face column among the largest stops the search;
- ``multi_target``: every column with at least 30% of the votes, the face discarded when they hold
  half the votes or less;
- a face whose strongest target is unknown or not-a-face is left out (of training and of scoring); the
  eight emotions' share is renormalised to sum to 1.

The targets of ``probability`` are the distribution a one-hot label is drawn from for every batch
(in training); those of ``multi_target`` are the set of accepted classes, ``1 - 1e-3`` each
and ``1e-3`` elsewhere, as Microsoft's code has it.
"""

import numpy as np

from realtime_fer.choices import check_choice
from realtime_fer.emotions import FERPLUS_CLASSES

# The columns of a FER+ label row, in their order, under this project's class names.
VOTE_COLUMNS: tuple[str, ...] = (
    "neutral", "happy", "surprise", "sad", "angry", "disgust", "fear", "contempt", "unknown", "not_face",
)
LABEL_MODES = ("majority", "probability", "crossentropy", "multi_target")
_EMOTION_COLUMNS = len(VOTE_COLUMNS) - 2  # unknown and not-a-face are the last two
_TO_CLASSES = [VOTE_COLUMNS.index(name) for name in FERPLUS_CLASSES]
MULTI_TARGET_SHARE = 0.3
MULTI_TARGET_EPSILON = 1e-3
UNLABELED = -1  # the hard label of a face the majority protocol leaves out


def check_votes(votes: np.ndarray) -> np.ndarray:
    """``votes`` as an int64 (N, 10) array; ``ValueError`` for a wrong shape, a negative count or a
    face without a vote."""
    votes = np.asarray(votes)
    if votes.ndim != 2 or votes.shape[1] != len(VOTE_COLUMNS):
        raise ValueError(f"expected {len(VOTE_COLUMNS)} vote counts a face, got shape {votes.shape}")
    if (votes < 0).any():
        raise ValueError("vote counts cannot be negative")
    if (votes.sum(1) == 0).any():
        raise ValueError(f"face {int(np.flatnonzero(votes.sum(1) == 0)[0])} has no votes")
    return votes.astype(np.int64)


def _processed(raw: list[float], mode: str) -> list[float] | None:
    """One face's ten columns after FER+'s clean-up for ``mode``, normalised; ``None`` when the face is
    discarded or its strongest column is unknown / not-a-face."""
    votes = [0.0 if count <= 1 else float(count) for count in raw]  # a single vote is an outlier
    total = sum(votes)
    kept = [0.0] * len(votes)
    if mode == "majority":
        peak = max(votes)
        if peak <= 0.5 * total:
            return None
        kept[votes.index(peak)] = peak
    elif mode in ("probability", "crossentropy"):
        share, count, emotion_only = 0.0, 0, True
        while share < 0.75 * total and count < 3 and emotion_only:
            peak = max(votes)
            for i, value in enumerate(votes):
                if value != peak:
                    continue
                kept[i], votes[i] = peak, 0.0
                share += peak
                count += 1
                if i >= _EMOTION_COLUMNS:  # unknown / not-a-face ties with the largest: stop here
                    emotion_only = False
                    if sum(kept) > peak:  # an emotion came before it: unknown / not-a-face dropped
                        kept[i] = 0.0
                        count -= 1
                    break
        if sum(kept) <= 0.5 * total or count > 3:
            return None
    else:  # multi_target (vote_targets checked the mode)
        kept = [value if value >= MULTI_TARGET_SHARE * total else 0.0 for value in votes]
        if sum(kept) <= 0.5 * total:
            return None
    if int(np.argmax(kept)) >= _EMOTION_COLUMNS:
        return None
    return kept


def vote_targets(votes: np.ndarray, mode: str) -> tuple[np.ndarray, np.ndarray]:
    """(keep (N,) bool, targets (N, 8) float32 in :data:`FERPLUS_CLASSES` order) of FER+ vote counts
    (N, 10) under label ``mode`` (:data:`LABEL_MODES`); the targets of faces left out are zero."""
    check_choice("label mode", mode, LABEL_MODES)
    votes = check_votes(votes)
    keep = np.zeros(len(votes), bool)
    targets = np.zeros((len(votes), len(FERPLUS_CLASSES)), np.float32)
    for row, raw in enumerate(votes.tolist()):
        kept = _processed(raw, mode)
        if kept is None:
            continue
        emotions: np.ndarray = np.array(kept, np.float64)[_TO_CLASSES]
        if mode == "multi_target":
            emotions = (1 - MULTI_TARGET_EPSILON) * (emotions > 0) + MULTI_TARGET_EPSILON
        else:
            emotions /= emotions.sum()
        keep[row], targets[row] = True, emotions
    return keep, targets


def majority_labels(votes: np.ndarray) -> np.ndarray:
    """The majority-protocol class index of each face (:data:`FERPLUS_CLASSES`), :data:`UNLABELED`
    where that protocol leaves the face out: the labels FER+ accuracy is quoted on."""
    keep, targets = vote_targets(votes, "majority")
    return np.where(keep, targets.argmax(1), UNLABELED).astype(np.int64)


def vote_distribution(votes: np.ndarray) -> np.ndarray:
    """The raw share of each emotion's votes (N, 8), unknown and not-a-face left out: what a
    predicted distribution is compared with. A face with only unknown / not-a-face votes gets zeros."""
    votes = check_votes(votes)[:, _TO_CLASSES].astype(np.float64)
    totals = votes.sum(1, keepdims=True)
    return (votes / np.maximum(totals, 1)).astype(np.float32)

