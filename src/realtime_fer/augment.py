"""Data augmentation on whole batches of tensors, so the cores stay busy with the network.

Every function takes an (N, C, H, W) float batch and a ``torch.Generator`` (for reproducibility)
and returns a batch of the same shape.
"""

import math
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from realtime_fer.choices import check_choice
from realtime_fer.options import AUGMENTS

Augmentation = Callable[[Tensor, torch.Generator], Tensor]


def _uniform(n: int, low: float, high: float, generator: torch.Generator) -> Tensor:
    return low + (high - low) * torch.rand(n, generator=generator)


def random_flip(images: Tensor, generator: torch.Generator) -> Tensor:
    """Mirror a random half of the batch left-right."""
    flip = torch.rand(images.shape[0], generator=generator) < 0.5
    return torch.where(flip[:, None, None, None], images.flip(-1), images)


def random_affine(
    images: Tensor,
    generator: torch.Generator,
    degrees: float = 15.0,
    scale: tuple[float, float] = (0.85, 1.15),
    translate: float = 0.1,
) -> Tensor:
    """Rotate, zoom and shift every face by its own random amount (one grid_sample for the batch)."""
    n = images.shape[0]
    angle = torch.deg2rad(_uniform(n, -degrees, degrees, generator))
    zoom = _uniform(n, *scale, generator)
    shift = _uniform(2 * n, -2 * translate, 2 * translate, generator).view(n, 2)  # grid spans [-1, 1]
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack(
        [torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1
    )
    grid = F.affine_grid(theta.to(images.dtype), list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)


def random_erasing(
    images: Tensor,
    generator: torch.Generator,
    p: float = 0.5,
    area: tuple[float, float] = (0.02, 0.2),
    aspect: tuple[float, float] = (0.3, 3.3),
) -> Tensor:
    """Replace one random rectangle of noise in a random ``p`` of the faces (Zhong et al. 2017)."""
    n, _, height, width = images.shape
    target = _uniform(n, *area, generator) * height * width
    ratio = torch.exp(_uniform(n, math.log(aspect[0]), math.log(aspect[1]), generator))
    h = (target * ratio).sqrt().round().clamp(1, height)
    w = (target / ratio).sqrt().round().clamp(1, width)
    top = (torch.rand(n, generator=generator) * (height - h + 1)).floor()
    left = (torch.rand(n, generator=generator) * (width - w + 1)).floor()
    rows, cols = torch.arange(height), torch.arange(width)
    inside_rows = (rows[None] >= top[:, None]) & (rows[None] < (top + h)[:, None])
    inside_cols = (cols[None] >= left[:, None]) & (cols[None] < (left + w)[:, None])
    chosen = torch.rand(n, generator=generator) < p
    mask = (inside_rows[:, :, None] & inside_cols[:, None, :] & chosen[:, None, None])[:, None]
    noise = torch.rand(images.shape, generator=generator, dtype=images.dtype)
    return torch.where(mask, noise, images)


def shift(images: Tensor, generator: torch.Generator) -> Tensor:
    """Flip and move every face by up to 10% of its side, no rotation or zoom: light enough to
    fine-tune a network that already learned the faces under :func:`strong`."""
    return random_affine(random_flip(images, generator), generator, degrees=0.0, scale=(1.0, 1.0))


def strong(images: Tensor, generator: torch.Generator) -> Tensor:
    """Flip, affine jitter and random erasing: the recipe of the compact and modern models."""
    return random_erasing(random_affine(random_flip(images, generator), generator), generator)


def mixup(images: Tensor, alpha: float, generator: torch.Generator) -> tuple[Tensor, Tensor, Tensor]:
    """Blend every face with a random partner from the batch (Zhang et al. 2018).

    Returns the blended batch, the partner indices and each face's own weight ``lam`` drawn from
    Beta(alpha, alpha); the loss weighs the face's label by ``lam`` and the partner's by ``1 - lam``.
    """
    n = images.shape[0]
    partner = torch.randperm(n, generator=generator)
    lam = _beta(n, alpha, generator)
    weight = lam.to(images.dtype)[:, None, None, None]
    return weight * images + (1 - weight) * images[partner], partner, lam


def _beta(n: int, alpha: float, generator: torch.Generator) -> Tensor:
    """n samples of Beta(alpha, alpha), reproducible from ``generator`` (torch has no seeded Beta)."""
    seed = int(torch.randint(2**62, (1,), generator=generator))
    return torch.from_numpy(np.random.default_rng(seed).beta(alpha, alpha, n)).float()


AUGMENTATIONS: dict[str, Augmentation] = {
    "none": lambda images, generator: images,
    "flip": random_flip,
    "shift": shift,
    "strong": strong,
}


def augmentation(name: str) -> Augmentation:
    """The batch augmentation ``--augment name`` stands for (one of :data:`options.AUGMENTS`)."""
    return AUGMENTATIONS[check_choice("augmentation", name, AUGMENTS)]
