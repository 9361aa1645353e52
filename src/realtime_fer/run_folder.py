"""A training run's folder, one owner for :mod:`train` (which writes it) and :mod:`export` (which reads it)::

    RUN/checkpoints/last.pt       everything needed to resume (weights, optimizer, random states, config)
    RUN/checkpoints/selected.pt   the epoch ``--select`` keeps: what the export exports (older runs: best.pt)
    RUN/history.csv, curves.png   one row an epoch, and its plot (refreshed every epoch)

The export then adds the model folder's files beside them (:mod:`model_folder`). The faces a run trained
and validated on are rebuilt from its recorded config by :func:`load_splits`.
"""

from pathlib import Path

import numpy as np

from realtime_fer import data

CHECKPOINTS = "checkpoints"
LAST_CHECKPOINT = "last.pt"
SELECTED_CHECKPOINT = "selected.pt"
OLD_SELECTED_CHECKPOINT = "best.pt"  # its name in runs from before, whichever epoch it held
HISTORY_FILE = "history.csv"
CURVES_FILE = "curves.png"


def is_run(path: Path) -> bool:
    """Whether ``path`` is a run folder (it has ``checkpoints/``)."""
    return (path / CHECKPOINTS).is_dir()


def checkpoints(run: Path) -> Path:
    """``RUN/checkpoints``."""
    return run / CHECKPOINTS


def last_checkpoint(run: Path) -> Path:
    """``RUN/checkpoints/last.pt``."""
    return checkpoints(run) / LAST_CHECKPOINT


def selected_checkpoint(run: Path) -> Path:
    """The checkpoint of the epoch a run exports: ``selected.pt``, or ``best.pt`` in runs from before
    it had that name (which held the last epoch too when ``select="last"``)."""
    selected = checkpoints(run) / SELECTED_CHECKPOINT
    old = checkpoints(run) / OLD_SELECTED_CHECKPOINT
    return old if old.is_file() and not selected.is_file() else selected


def holdout_split(faces: data.FaceSet, fraction: float, seed: int) -> tuple[data.FaceSet, data.FaceSet]:
    """A stratified ``fraction`` of ``faces`` held out for tuning (so the test set stays unseen)."""
    rng = np.random.default_rng(seed)
    held = np.zeros(len(faces), bool)
    for label in np.unique(faces.labels):
        members = rng.permutation(np.flatnonzero(faces.labels == label))
        held[members[: round(len(members) * fraction)]] = True
    return faces.select(~held, f"{faces.source} [train - holdout]"), faces.select(
        held, f"{faces.source} [holdout]"
    )


def load_splits(
    data_path: str, val_split: str | None, holdout: float = 0.0, seed: int = 0
) -> tuple[data.FaceSet, data.FaceSet]:
    """(train, validation) of a run: validation is ``val_split``, or with ``holdout`` a stratified
    holdout of train. FER+ validation faces are those the majority protocol keeps (the faces its
    accuracy is quoted on)."""
    train_set = data.load(data_path, "train")
    if holdout:
        train_set, val_set = holdout_split(train_set, holdout, seed)
    else:
        val_set = data.load(data_path, val_split)
    return train_set, val_set.scored()
