"""Knowledge distillation (Hinton et al. 2015): trained teachers' softened probabilities as a second
target for the student, next to the labels.

Teachers are shipped model folders (``accurate``) or any exported run folder; they see the student's
own augmented batch, each through the views ``tta`` names (as :func:`tta.tta_views` builds
them), and their probabilities are averaged over views and teachers.

``views`` below all of them draws that many of the views for each face at random: the average over
a random subset is an unbiased estimate of the average over all, and the loss's gradient is linear
in the target, so training follows the all-view target on average at a fraction of its cost.
"""

import os
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from realtime_fer.architectures import load_trained
from realtime_fer.device import autocast
from realtime_fer.model_folder import resolve_model_dir
from realtime_fer.tta import TTA_VIEWS, check_tta, tta_views


class Teachers:
    """Frozen networks whose averaged probabilities (at ``temperature``) the student learns from."""

    def __init__(
        self,
        models: Sequence[str | os.PathLike],
        tta: str,
        device: torch.device,
        amp_dtype: torch.dtype | None,
        views: int = 0,
    ) -> None:
        if not models:
            raise ValueError("distillation needs at least one teacher")
        check_tta(tta, "teacher TTA")
        if not 0 <= views <= TTA_VIEWS[tta]:
            raise ValueError(f"teacher views must be 0 (all) to {TTA_VIEWS[tta]} for {tta!r}; got {views}")
        self.networks = []
        for model in models:
            network = load_trained(resolve_model_dir(model))
            network.to(device, memory_format=torch.channels_last)  # type: ignore[call-overload]  # stubs lack it
            network.requires_grad_(False)
            self.networks.append(network)
        self.tta = tta
        self.views = views or TTA_VIEWS[tta]
        self.device = device
        self.amp_dtype = amp_dtype

    @torch.no_grad()
    def probabilities(
        self, inputs: Tensor, temperature: float, generator: torch.Generator | None = None
    ) -> Tensor:
        """float32 (N, classes): softmax(logits / temperature), averaged over views and teachers;
        ``self.views`` of the views for each face, drawn with ``generator`` when that is not all."""
        views = torch.from_numpy(tta_views(inputs.numpy(), self.tta))  # view by view: (V*N, 1, H, W)
        if self.views < TTA_VIEWS[self.tta]:
            n = len(inputs)
            drawn = torch.rand(n, TTA_VIEWS[self.tta], generator=generator).argsort(1)[:, : self.views]
            views = views[(drawn * n + torch.arange(n)[:, None]).T.reshape(-1)]  # still view by view
        views = views.to(self.device, memory_format=torch.channels_last)
        total = torch.zeros(())
        with autocast(self.device, self.amp_dtype):
            for network in self.networks:
                logits = network(views).float() / temperature
                total = total + torch.softmax(logits, 1).reshape(-1, len(inputs), logits.shape[1]).mean(0)
        return total / len(self.networks)


def distillation_loss(student_logits: Tensor, teacher_probabilities: Tensor, temperature: float) -> Tensor:
    """KL(teacher || student) at ``temperature``, scaled by T^2 so its gradients keep their size."""
    log_student = F.log_softmax(student_logits.float() / temperature, 1)
    return F.kl_div(log_student, teacher_probabilities, reduction="batchmean") * temperature**2
