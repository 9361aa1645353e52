"""The values each training option takes, in one place without torch: the CLI offers them on a
serving-only install, and the code that implements each option checks against them."""

from collections.abc import Sequence

OPTIMIZERS = ("adam", "adamw", "sgd")  # train.make_optimizer
SCHEDULES = ("plateau", "onecycle")  # train.make_schedule
AUGMENTS = ("none", "flip", "shift", "strong")  # augment.AUGMENTATIONS
SELECTS = ("best", "last")  # which epoch a run exports: best validation accuracy, or the last
# training arithmetic (device.pick_device): bf16 autocast where the hardware has it (auto), or not.
# Not the served graph's precision (fp32 or int8): that is model_folder.PRECISIONS.
TRAIN_PRECISIONS = ("auto", "fp32", "bf16")


def check_choice(option: str, value: str, choices: Sequence[str]) -> str:
    """``value`` itself when it is one of ``choices``, else a ``ValueError`` naming them."""
    if value not in choices:
        raise ValueError(f"unknown {option} {value!r}; use {', '.join(choices)}")
    return value
