"""``realtime-fer`` with one more model, ``linear`` (the pixels straight into a linear layer: no
BatchNorm, no dropout), so that a distributed run can be compared with a single-process one to rounding.

tests/test_distributed.py runs it under ``torchrun`` and imports it for the single-process run. With
``$STEP_LOG`` set, each process writes its optimizer steps into ``$STEP_LOG/rank<RANK>`` at exit.
"""

import atexit
import os
import sys
from pathlib import Path

from torch import nn
from torch.optim.optimizer import register_optimizer_step_post_hook

from realtime_fer.architectures.registry import register_model
from realtime_fer.cli import main


@register_model(
    "linear", "softmax regression on the pixels (tests)",
    epochs=2, batch_size=12, lr=0.01, optimizer="sgd", schedule="plateau", augment="none",
)
def linear() -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(48 * 48, 7))


def _log_steps(folder: Path) -> None:
    steps = []
    register_optimizer_step_post_hook(lambda optimizer, args, kwargs: steps.append(1))
    rank = os.environ.get("RANK", "0")
    atexit.register(lambda: (folder / f"rank{rank}").write_text(f"{len(steps)}\n"))


if __name__ == "__main__":
    if os.environ.get("STEP_LOG"):
        _log_steps(Path(os.environ["STEP_LOG"]))
    sys.exit(main())
