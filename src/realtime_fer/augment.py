"""Data augmentation on whole batches of tensors, so the cores stay busy with the network."""

import torch
from torch import Tensor


def random_flip(images: Tensor, generator: torch.Generator) -> Tensor:
    """Mirror a random half of an (N, C, H, W) batch left-right."""
    flip = torch.rand(images.shape[0], generator=generator) < 0.5
    return torch.where(flip[:, None, None, None], images.flip(-1), images)


AUGMENTATIONS = {"none": lambda images, generator: images, "flip": random_flip}
