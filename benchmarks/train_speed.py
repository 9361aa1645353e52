"""Training throughput (images/s): our training loop against the paper's own tf.keras training code.

Ours: ``--batches`` training steps (after a warm-up) on random uint8 48x48 faces held in memory, with the
same augmentation, autocast and channels_last as ``realtime-fer train``, at each ``--precision``.

The paper's: its notebook's code on the same CPU: ``ImageDataGenerator(horizontal_flip=True)
.flow_from_directory(...)`` (48x48 grey, batch 64, categorical, shuffled) over a temporary folder of
random 48x48 JPEGs, so each batch is read and decoded from disk as in the paper, then
``model.fit`` of its CNN (``paper_keras.py``: Adam 5e-4, categorical cross-entropy) in fp32, in a
process of its own. Needs TensorFlow (``pip install -r benchmarks/requirements-baselines.txt``);
skipped with a note without.

A last row times the network's convolutions alone, forward and backward at the same batch and
precision, with nothing else in the step: no loop of this network can train faster on this CPU.

All rows project one epoch of FER-2013 (28,709 faces):

    python benchmarks/train_speed.py [--model paper] [--batches 60] [--precision auto fp32]
"""

import argparse
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from common import table, write_results
from paper_keras import import_tensorflow, in_own_process, paper_model
from torch import nn

from realtime_fer.architectures import create_model
from realtime_fer.architectures.spec import probe
from realtime_fer.device import pick_device
from realtime_fer.emotions import EMOTIONS
from realtime_fer.options import TRAIN_PRECISIONS
from realtime_fer.train import TrainConfig, Trainer, make_optimizer, train_epoch

FER_TRAIN_FACES = 28_709
WARMUP_BATCHES = 5
PAPER_BATCH = 64


def ours(model_name: str, precision: str, batches: int) -> dict:
    """Images/s of our training loop for ``batches`` steps after a warm-up."""
    cfg = TrainConfig(data="", arch=model_name, train_precision=precision).resolved()
    device, amp_dtype = pick_device(cfg.device, cfg.train_precision)
    torch.manual_seed(0)
    model = create_model(model_name).to(device, memory_format=torch.channels_last)
    order = torch.Generator().manual_seed(0)
    trainer = Trainer(cfg, model, make_optimizer(cfg, model), device, order, amp_dtype)
    n = cfg.batch_size * batches
    x, y = np.random.default_rng(0).integers(0, 256, (n, 48, 48), np.uint8), torch.randint(0, 7, (n,))
    warmup = cfg.batch_size * WARMUP_BATCHES
    train_epoch(trainer, x[:warmup], y[:warmup])
    start = time.perf_counter()
    train_epoch(trainer, x, y)
    speed = n / (time.perf_counter() - start)
    return torch_row(f"realtime-fer ({model_name})", amp_dtype, cfg.batch_size, cfg.augment, speed)


def torch_row(training: str, amp_dtype: torch.dtype | None, batch: int, augment: str, speed: float) -> dict:
    """A table row for a PyTorch measurement of ``speed`` images/s."""
    return {
        "training": training,
        "framework": f"torch {torch.__version__}",
        "precision": str(amp_dtype or torch.float32).removeprefix("torch."),
        "batch": batch,
        "augment": augment,
        "images_per_s": round(speed, 1),
        "epoch_s": round(FER_TRAIN_FACES / speed, 1),
    }


def convolution_ceiling(model_name: str, precision: str, batches: int) -> dict:
    """Images/s if a training step were its convolutions alone (forward and backward, nothing else):
    a ceiling for any training loop of this network on this CPU, since every loop must run them."""
    cfg = TrainConfig(data="", arch=model_name, train_precision=precision).resolved()
    device, amp_dtype = pick_device(cfg.device, cfg.train_precision)
    model = create_model(model_name)
    face_shapes: dict[nn.Conv2d, torch.Size] = {}  # each convolution's input for one face

    def record_shape(conv: nn.Conv2d, args: tuple[torch.Tensor]) -> None:
        face_shapes[conv] = args[0].shape[1:]

    convs = [module for module in model.modules() if isinstance(module, nn.Conv2d)]
    probe(model, [conv.register_forward_pre_hook(record_shape) for conv in convs])  # on the CPU
    model.to(device, memory_format=torch.channels_last)
    first = convs[0]
    inputs = {  # the first layer's input is the batch of faces: it needs no gradient
        conv: torch.rand(cfg.batch_size, *shape, device=device)
        .to(memory_format=torch.channels_last)
        .requires_grad_(conv is not first)
        for conv, shape in face_shapes.items()
    }

    autocast = torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None)
    with torch.no_grad(), autocast:
        gradients = [torch.ones_like(conv(x)) for conv, x in inputs.items()]  # made once, outside the timing

    def step() -> None:
        with autocast:
            outputs = [conv(x) for conv, x in inputs.items()]
        torch.autograd.backward(outputs, gradients)

    for _ in range(WARMUP_BATCHES):
        step()
    start = time.perf_counter()
    for _ in range(batches):
        step()
    speed = cfg.batch_size * batches / (time.perf_counter() - start)
    training = f"its {len(convs)} convolutions alone ({model_name}): ceiling"
    return torch_row(training, amp_dtype, cfg.batch_size, "none", speed)


def write_jpeg_tree(root: Path, count: int) -> None:
    """``count`` random 48x48 grey JPEGs spread over one folder per class (the Kaggle layout)."""
    rng = np.random.default_rng(0)
    for i in range(count):
        folder = root / EMOTIONS[i % len(EMOTIONS)]
        folder.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(folder / f"Training_{i}.jpg"), rng.integers(0, 256, (48, 48), dtype=np.uint8))


def paper_stack(batches: int) -> dict | None:
    """Images/s of the paper's ``flow_from_directory`` + ``model.fit`` for ``batches`` steps (``None``
    without TensorFlow)."""
    tf = import_tensorflow()
    if tf is None:
        return None
    tf.keras.utils.set_random_seed(0)
    model, _ = paper_model(tf, None)  # trained from scratch, as in the paper
    with tempfile.TemporaryDirectory() as folder:
        write_jpeg_tree(Path(folder), PAPER_BATCH * (batches + WARMUP_BATCHES))
        datagen_train = tf.keras.preprocessing.image.ImageDataGenerator(horizontal_flip=True)
        train_generator = datagen_train.flow_from_directory(
            folder,
            target_size=(48, 48),
            color_mode="grayscale",
            batch_size=PAPER_BATCH,
            class_mode="categorical",
            shuffle=True,
        )
        model.fit(train_generator, steps_per_epoch=WARMUP_BATCHES, epochs=1, verbose=0)  # builds the graph
        start = time.perf_counter()
        model.fit(train_generator, steps_per_epoch=batches, epochs=1, verbose=0)
        speed = PAPER_BATCH * batches / (time.perf_counter() - start)
    return {
        "training": "paper stack (tf.keras, paper)",
        "framework": f"tensorflow {tf.__version__}",
        "precision": "float32",
        "batch": PAPER_BATCH,
        "augment": "flip",
        "images_per_s": round(speed, 1),
        "epoch_s": round(FER_TRAIN_FACES / speed, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="paper")
    parser.add_argument("--batches", type=int, default=60, help="timed batches, after a warm-up")
    parser.add_argument("--precision", nargs="+", default=["auto", "fp32"], choices=TRAIN_PRECISIONS)
    args = parser.parse_args()
    paper = in_own_process(paper_stack, args.batches)
    rows = [paper] if paper else []
    # "auto" is fp32 on a CPU without bf16: measure each resolved precision once
    precisions: dict[torch.dtype | None, str] = {}
    for precision in args.precision:
        precisions.setdefault(pick_device("auto", precision)[1], precision)
    rows += [ours(args.model, precision, args.batches) for precision in precisions.values()]
    rows.append(convolution_ceiling(args.model, args.precision[0], args.batches))
    if paper:
        for row in rows[1:]:
            row["vs_paper"] = round(row["images_per_s"] / paper["images_per_s"], 1)
    print(table(rows, [*rows[0], "vs_paper"]))
    path = write_results(f"train_speed_{args.model}", rows, batches=args.batches)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
