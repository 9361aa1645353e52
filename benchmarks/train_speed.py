"""Training throughput (images/s) of a registered model with the project's training loop.

Times ``--batches`` training steps (after a warm-up) on random 48x48 faces, with the same
augmentation, autocast and channels_last as ``realtime-fer train``, and projects one epoch of
FER-2013 (28,709 faces).

    python benchmarks/train_speed.py [--model paper] [--batches 60]
"""

import argparse
import time

import torch
from common import table, write_results

from realtime_fer.device import pick_device
from realtime_fer.models import create_model
from realtime_fer.train import TrainConfig, make_optimizer, run_epoch

FER_TRAIN_FACES = 28_709


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="paper")
    parser.add_argument("--batches", type=int, default=60)
    parser.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16"))
    args = parser.parse_args()
    cfg = TrainConfig(data="", model=args.model, val_split="unused", precision=args.precision).resolved()
    device, amp_dtype = pick_device(cfg.device, cfg.precision)
    torch.manual_seed(0)
    model = create_model(args.model).to(device, memory_format=torch.channels_last)
    optimizer = make_optimizer(cfg, model)
    generator = torch.Generator().manual_seed(0)
    n = cfg.batch_size * args.batches
    x, y = torch.rand(n, 1, 48, 48), torch.randint(0, 7, (n,))
    run_epoch(
        model, x[: cfg.batch_size * 5], y[: cfg.batch_size * 5], cfg, device, amp_dtype, optimizer, generator
    )
    start = time.perf_counter()
    run_epoch(model, x, y, cfg, device, amp_dtype, optimizer, generator)
    speed = n / (time.perf_counter() - start)
    row = {
        "model": args.model,
        "precision": str(amp_dtype or "fp32"),
        "batch": cfg.batch_size,
        "augment": cfg.augment,
        "images_per_s": round(speed, 1),
        "epoch_s": round(FER_TRAIN_FACES / speed, 1),
    }
    print(table([row], list(row)))
    print(f"wrote {write_results(f'train_speed_{args.model}', [row], batches=args.batches)}")


if __name__ == "__main__":
    main()
