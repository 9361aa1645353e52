"""Training on several processes with PyTorch's DistributedDataParallel, as launched by ``torchrun``.

``torchrun`` starts one process per GPU (or per share of the CPU) and tells each, in the environment,
its ``RANK`` among ``WORLD_SIZE`` processes, its ``LOCAL_RANK`` on its node and where to meet the others.
A process started without it is rank 0 of a world of 1, and every helper here does nothing for it, so the
training loop reads the same either way.

The processes meet over NCCL when they train on CUDA and over gloo on the CPU.
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class World:
    """This process's place among the training processes (rank 0 of 1 when alone)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """The process that prints, and writes checkpoints, logs, plots and the export."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1


ALONE = World()  # a process started without torchrun


def join(device: str) -> tuple[World, str]:
    """(world, device to train on): joins torchrun's process group when there is one.

    Under torchrun ``auto`` and ``cuda`` mean this process's own GPU, ``cuda:LOCAL_RANK``.
    """
    if int(os.environ.get("WORLD_SIZE", "1")) == 1:
        return ALONE, device
    cuda = device in ("auto", "cuda") and torch.cuda.is_available()
    dist.init_process_group("nccl" if cuda else "gloo")
    world = World(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))
    if cuda:
        torch.cuda.set_device(world.local_rank)
        device = f"cuda:{world.local_rank}"
    elif device == "auto":
        device = "cpu"
    return world, device


def leave(world: World, finished: bool) -> None:
    """Leaves the process group; after a finished run, only once every process has finished, so
    that none tears its connections down while another still uses them."""
    if world.distributed:
        if finished:
            dist.barrier()
        dist.destroy_process_group()


@contextmanager
def main_first(world: World) -> Iterator[None]:
    """Rank 0 runs the block first (building the data cache, say), then the others run it."""
    if world.distributed and not world.main:
        dist.barrier()
    yield
    if world.distributed and world.main:
        dist.barrier()


def wrap(model: nn.Module, world: World, device: torch.device, sync_bn: bool) -> nn.Module:
    """``model`` as DistributedDataParallel (rank 0's weights copied to all), or as it is when alone.

    ``sync_bn``: BatchNorm normalises with the statistics of the whole global batch instead of each
    process's share (PyTorch's SyncBatchNorm runs on GPUs only).
    """
    if not world.distributed:
        return model
    if sync_bn:
        if device.type != "cuda":
            raise ValueError("--sync-bn needs CUDA: PyTorch's SyncBatchNorm does not run on the CPU")
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    device_ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=device_ids)


def shard(order: torch.Tensor, world: World, even: bool) -> torch.Tensor:
    """This process's share of an epoch's ``order``: every ``size``-th item from its rank on.

    ``even`` first drops the last ``len(order) % size`` items, so every process gets as many batches
    (a process with one more would wait forever for the others' gradients). Batch ``k`` of all the
    shards together is then batch ``k`` of ``order`` at ``size`` times the batch size.
    """
    if not world.distributed:
        return order
    end = len(order) - len(order) % world.size if even else len(order)
    return order[world.rank : end : world.size]


def sum_over(values: list[float], world: World, device: torch.device) -> list[float]:
    """``values`` summed over all processes (counts and loss sums of an epoch)."""
    if not world.distributed:
        return values
    total = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(total)
    return total.tolist()


def gather(value: object, world: World) -> list:
    """Every process's ``value``, in rank order (for rank 0 to save each one's random state)."""
    if not world.distributed:
        return [value]
    values = [None] * world.size
    dist.all_gather_object(values, value)
    return values


def copy_buffers_from_main(module: nn.Module, world: World) -> None:
    """Rank 0's buffers (BatchNorm running statistics) into every process's ``module``.

    DDP sends them at the start of each forward pass, so after the last training step each process's
    own step has updated them; validation and the saved model must all use rank 0's.
    """
    if world.distributed:
        for buffer in module.buffers():
            dist.broadcast(buffer, 0)
