"""The training loop: one readable function, defaults taken from the model's registry entry.

A run folder holds ``checkpoints/last.pt`` (everything needed to resume), ``checkpoints/best.pt``
(best validation accuracy), ``history.csv`` and ``curves.png`` (refreshed every epoch, the
paper's live plot). At the end the best checkpoint is exported next to them (see :mod:`export`).

The same loop runs in one process or in several under ``torchrun`` (see :mod:`distributed`): each
process then trains on its shard of every global batch, and rank 0 alone prints and writes the run folder.
Faces stay uint8 in the (memory-mapped) data cache and become float32 one batch at a time.
"""

import csv
import os
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from realtime_fer import data, distributed
from realtime_fer.augment import augmentation, mixup
from realtime_fer.device import pick_device
from realtime_fer.distill import Teachers, distillation_loss
from realtime_fer.distributed import ALONE, World
from realtime_fer.models import create_model, model_entry, model_to_json
from realtime_fer.options import OPTIMIZERS, SCHEDULES, check_choice
from realtime_fer.preprocess import to_model_input

HISTORY_FIELDS = (
    "epoch", "lr", "train_loss", "train_acc", "val_loss", "val_acc", "seconds", "images_per_s",
    "teacher_share",
)


# Options a registry entry need not mention: the paper's choices where it made one, else "off".
RECIPE_DEFAULTS = {
    "weight_decay": 0.0,
    "label_smoothing": 0.0,
    "mixup": 0.0,
    "ema": 0.0,
    "select": "best",
    "holdout": 0.0,
    "teacher": "",  # comma-separated model names or folders; empty: no distillation
    "teacher_tta": "none",
    "distill_weight": 0.5,
    "temperature": 2.0,
}


@dataclass
class TrainConfig:
    """Options of ``realtime-fer train``; ``None`` takes the model's registered default."""

    data: str
    model: str = "paper"
    out: str | None = None
    epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    optimizer: str | None = None
    weight_decay: float | None = None
    schedule: str | None = None
    augment: str | None = None
    label_smoothing: float | None = None
    mixup: float | None = None
    ema: float | None = None
    select: str | None = None
    holdout: float | None = None
    teacher: str | None = None
    teacher_tta: str | None = None
    distill_weight: float | None = None
    temperature: float | None = None
    seed: int = 0
    device: str = "auto"
    train_precision: str = "auto"  # autocast: options.TRAIN_PRECISIONS (not the served graph's)
    val_split: str | None = None
    resume: bool = False
    sync_bn: bool = False  # under torchrun on GPUs: BatchNorm statistics of the whole global batch
    command: str = ""  # the command line that started the run, recorded in metrics.json

    @classmethod
    def from_record(cls, record: dict) -> "TrainConfig":
        """The config a checkpoint or ``metrics.json`` recorded; older runs said ``precision`` for
        ``train_precision``."""
        record = dict(record)
        if "precision" in record:
            record["train_precision"] = record.pop("precision")
        return cls(**record)

    def resolved(self) -> "TrainConfig":
        """A copy with every ``None`` filled from the registry entry of ``model`` (reads no data:
        a ``val_split`` left ``None`` is chosen where the data is loaded, in :func:`train`)."""
        defaults = model_entry(self.model).train_defaults
        values = {
            k: (defaults.get(k, RECIPE_DEFAULTS.get(k)) if v is None else v) for k, v in asdict(self).items()
        }
        values["out"] = values["out"] or f"runs/{self.model}"
        if values["holdout"]:
            values["val_split"] = "train_holdout"
        return TrainConfig(**values)


def make_optimizer(cfg: TrainConfig, model: nn.Module) -> torch.optim.Optimizer:
    """``cfg.optimizer`` (one of :data:`options.OPTIMIZERS`) over ``model``'s parameters."""
    check_choice("optimizer", cfg.optimizer, OPTIMIZERS)
    if cfg.optimizer == "adam":  # Keras' Adam epsilon, as in the paper
        return torch.optim.Adam(model.parameters(), lr=cfg.lr, eps=1e-7, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.SGD(
        model.parameters(), lr=cfg.lr, momentum=0.9, nesterov=True, weight_decay=cfg.weight_decay
    )


def make_schedule(cfg: TrainConfig, optimizer: torch.optim.Optimizer, steps_per_epoch: int):
    """(scheduler, steps per batch?) for ``cfg.schedule`` (one of :data:`options.SCHEDULES`): the
    paper's plateau schedule steps once an epoch on the validation loss, onecycle every batch."""
    check_choice("schedule", cfg.schedule, SCHEDULES)
    if cfg.schedule == "plateau":  # the paper: ReduceLROnPlateau(val_loss, 0.1, patience 2, min 1e-5)
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="min", factor=0.1, patience=2, min_lr=1e-5
        ), False
    return torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=cfg.lr, total_steps=cfg.epochs * steps_per_epoch, pct_start=0.15
    ), True


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


def batches(n: int, batch_size: int, generator: torch.Generator | None = None, world: World = ALONE):
    """This process's index tensors for one pass over ``range(n)``, shuffled when a generator is given.

    Under torchrun each process takes its shard of the pass (:func:`distributed.shard`) in batches of
    ``batch_size / world.size``: batch ``k`` of all the processes together is batch ``k`` of one process.
    """
    order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
    yield from distributed.shard(order, world, even=generator is not None).split(batch_size // world.size)


def batch_inputs(images: np.ndarray, index: torch.Tensor) -> torch.Tensor:
    """Float network input for the faces at ``index`` of uint8 ``images`` (read from the cache here)."""
    return torch.from_numpy(to_model_input(images[index.numpy()]))


def mixed_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    label_smoothing: float,
    partner: torch.Tensor | None = None,
    lam: torch.Tensor | None = None,
) -> torch.Tensor:
    """Cross-entropy; after mixup each face counts ``lam`` of its own label, the rest its partner's."""
    if partner is None:
        return F.cross_entropy(logits, targets, label_smoothing=label_smoothing)
    own = F.cross_entropy(logits, targets, label_smoothing=label_smoothing, reduction="none")
    other = F.cross_entropy(logits, targets[partner], label_smoothing=label_smoothing, reduction="none")
    lam = lam.to(logits.device)
    return (lam * own + (1 - lam) * other).mean()


def run_epoch(
    model,
    x,
    y,
    cfg,
    device,
    amp_dtype,
    optimizer=None,
    generator=None,
    desc="",
    batch_schedule=None,
    ema=None,
    teachers: Teachers | None = None,
    world: World = ALONE,
    augment_generator=None,
) -> dict:
    """One pass over uint8 faces ``x`` and labels ``y``; trains when an optimizer is given. Returns
    loss, accuracy and speed, over all processes under torchrun.

    ``generator`` orders the pass (the same on every process); ``augment_generator`` draws the
    augmentation and mixup (each process its own; by default ``generator``, as in one process).
    With ``teachers`` the training loss mixes the label loss with the distillation loss
    (``cfg.distill_weight`` of it), and ``teacher_share`` is the fraction of the time spent in them.
    """
    training = optimizer is not None
    model.train(training)
    augment = augmentation(cfg.augment)
    augment_generator = generator if augment_generator is None else augment_generator
    total_loss, correct, seen, start, teacher_seconds = 0.0, 0, 0, time.perf_counter(), 0.0
    progress = tqdm(
        list(batches(len(y), cfg.batch_size if training else 256 * world.size, generator, world)),
        desc=desc,
        unit="batch",
        leave=False,
        disable=not (training and world.main) or None,
        dynamic_ncols=True,
    )
    for index in progress:
        inputs, targets = batch_inputs(x, index), y[index]
        partner, lam = None, None
        if training:
            inputs = augment(inputs, augment_generator)
            if cfg.mixup:
                inputs, partner, lam = mixup(inputs, cfg.mixup, augment_generator)
        soft_targets = None
        if training and teachers is not None:
            teacher_start = time.perf_counter()
            soft_targets = teachers.probabilities(inputs, cfg.temperature)
            teacher_seconds += time.perf_counter() - teacher_start
        inputs = inputs.to(device, memory_format=torch.channels_last)
        targets = targets.to(device)
        with (
            torch.set_grad_enabled(training),
            torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None),
        ):
            logits = model(inputs)
            smoothing = cfg.label_smoothing if training else 0.0
            loss = mixed_loss(logits.float(), targets, smoothing, partner, lam)
            if soft_targets is not None:
                distilled = distillation_loss(logits, soft_targets, cfg.temperature)
                loss = (1 - cfg.distill_weight) * loss + cfg.distill_weight * distilled
        if training:
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if batch_schedule is not None:
                batch_schedule.step()
            if ema is not None:
                ema.update_parameters(model)
        total_loss += loss.item() * len(targets)
        correct += (logits.argmax(1) == targets).sum().item()
        seen += len(targets)
        speed = seen / (time.perf_counter() - start)
        progress.set_postfix(
            loss=f"{total_loss / seen:.3f}", acc=f"{correct / seen:.3f}", img_s=f"{speed:.0f}"
        )
    seconds = time.perf_counter() - start
    total_loss, correct, seen = distributed.sum_over([total_loss, correct, seen], world, device)
    return {
        "loss": total_loss / seen,
        "acc": correct / seen,
        "seconds": seconds,
        "images_per_s": seen / seconds,
        "teacher_share": teacher_seconds / seconds,
    }


def save_atomic(obj, path: Path) -> None:
    """torch.save via a temporary file, so an interrupt never leaves a half-written checkpoint."""
    tmp = path.with_suffix(".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def write_history(history: list[dict], out: Path) -> None:
    with open(out / "history.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=HISTORY_FIELDS)
        writer.writeheader()
        writer.writerows(history)
    plot_curves(history, out / "curves.png")


def plot_curves(history: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [row["epoch"] for row in history]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, metric, title in ((axes[0], "loss", "Loss"), (axes[1], "acc", "Accuracy")):
        ax.plot(epochs, [row[f"train_{metric}"] for row in history], "o-", label="train")
        ax.plot(epochs, [row[f"val_{metric}"] for row in history], "o-", label="validation")
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def load_splits(cfg: TrainConfig) -> tuple[data.FaceSet, data.FaceSet]:
    """(train, validation): validation is ``cfg.val_split``, or a stratified holdout of train."""
    train_set = data.load(cfg.data, "train")
    if cfg.holdout:
        return holdout_split(train_set, cfg.holdout, cfg.seed)
    return train_set, data.load(cfg.data, cfg.val_split)


def make_ema(model: nn.Module, decay: float):
    """An exponential moving average of the weights (and BatchNorm statistics), or None."""
    if not decay:
        return None
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)


def make_teachers(cfg: TrainConfig, device: torch.device, amp_dtype: torch.dtype | None) -> Teachers | None:
    """The teachers ``cfg.teacher`` names (comma-separated), or None when it names none."""
    names = [name.strip() for name in cfg.teacher.split(",") if name.strip()]
    if not names:
        return None
    if not 0.0 <= cfg.distill_weight <= 1.0 or cfg.temperature <= 0:
        raise ValueError("distill_weight must be in [0, 1] and temperature > 0")
    return Teachers(names, cfg.teacher_tta, device, amp_dtype)


def train(cfg: TrainConfig) -> Path:
    """Train ``cfg.model`` on ``cfg.data``; export the selected epoch into ``cfg.out``. Returns ``cfg.out``.

    ``select="best"`` (the paper) keeps the epoch with the best validation accuracy;
    ``select="last"`` keeps the final weights, so the validation set never picks the model.
    Under torchrun every process calls this; ``cfg.batch_size`` is the global batch.
    """
    world, device_name = distributed.join(cfg.device)
    try:
        return _train(cfg, world, device_name)
    finally:
        distributed.leave(world)


def _train(cfg: TrainConfig, world: World, device_name: str) -> Path:
    with distributed.main_first(world):  # rank 0 builds the data cache, the others then read it
        cfg = cfg.resolved()
        if cfg.val_split is None:  # the data's own: public_test where the test split has halves
            cfg = replace(cfg, val_split=data.validation_split(cfg.data))
        train_set, val_set = load_splits(cfg)
    if cfg.batch_size % world.size:
        raise SystemExit(
            f"realtime-fer train: error: --batch-size {cfg.batch_size} does not split evenly over "
            f"{world.size} processes"
        )
    out = Path(cfg.out)
    checkpoints = out / "checkpoints"
    if world.main:
        checkpoints.mkdir(parents=True, exist_ok=True)
    device, amp_dtype = pick_device(device_name, cfg.train_precision)
    x_train, y_train = train_set.images, torch.from_numpy(train_set.labels)
    x_val, y_val = val_set.images, torch.from_numpy(val_set.labels)
    log = print if world.main else _silent
    log(
        f"train: {len(train_set)} faces, validation ({cfg.val_split}): {len(val_set)} faces; "
        f"device {device}, precision {amp_dtype or 'fp32'}, {torch.get_num_threads()} threads"
        + (f", {world.size} processes" if world.distributed else ""),
        flush=True,
    )

    torch.manual_seed(cfg.seed)
    generator = torch.Generator().manual_seed(cfg.seed)  # the order of each epoch: one for all processes
    model = create_model(cfg.model).to(device, memory_format=torch.channels_last)
    network = distributed.wrap(model, world, device, cfg.sync_bn)  # what trains: DDP under torchrun
    model = getattr(network, "module", network)
    augment_generator = generator
    if world.distributed:  # each process draws its own augmentation and dropout
        augment_generator = torch.Generator().manual_seed(cfg.seed + 1 + world.rank)
        torch.manual_seed(cfg.seed + 1 + world.rank)
    optimizer = make_optimizer(cfg, model)
    steps_per_epoch = -(-(len(y_train) // world.size) // (cfg.batch_size // world.size))
    schedule, per_batch = make_schedule(cfg, optimizer, steps_per_epoch)
    ema = make_ema(model, cfg.ema)
    teachers = make_teachers(cfg, device, amp_dtype)
    scored = ema.module if ema is not None else model  # the weights that are validated and exported
    history: list[dict] = []
    best_acc, start_epoch, train_seconds = -1.0, 1, 0.0
    if cfg.resume and (checkpoints / "last.pt").exists():
        state = torch.load(checkpoints / "last.pt", weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        if ema is not None:
            ema.load_state_dict(state["ema"])
        generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        ranks = state.get("ranks") or []
        if world.distributed and len(ranks) == world.size:
            augment_generator.set_state(ranks[world.rank]["augment"])
            torch.set_rng_state(ranks[world.rank]["torch_rng"])
        elif world.distributed or ranks:
            log(f"note: resuming on {world.size} process(es) a run saved from {len(ranks) or 1}: "
                "the random augmentation does not continue as it would have")
        history, best_acc, train_seconds = state["history"], state["best_acc"], state["train_seconds"]
        start_epoch = state["epoch"] + 1
        log(f"resuming after epoch {state['epoch']} (best validation accuracy {best_acc:.4f})")

    try:
        for epoch in range(start_epoch, cfg.epochs + 1):
            epoch_start = time.perf_counter()
            lr = optimizer.param_groups[0]["lr"]
            fit = run_epoch(
                network,
                x_train,
                y_train,
                cfg,
                device,
                amp_dtype,
                optimizer,
                generator,
                desc=f"epoch {epoch}/{cfg.epochs}",
                batch_schedule=schedule if per_batch else None,
                ema=ema,
                teachers=teachers,
                world=world,
                augment_generator=augment_generator,
            )
            distributed.copy_buffers_from_main(scored, world)
            val = run_epoch(scored, x_val, y_val, cfg, device, amp_dtype, world=world)
            if not per_batch:
                schedule.step(val["loss"])
            history.append(
                {
                    "epoch": epoch,
                    "lr": lr,
                    "train_loss": round(fit["loss"], 5),
                    "train_acc": round(fit["acc"], 5),
                    "val_loss": round(val["loss"], 5),
                    "val_acc": round(val["acc"], 5),
                    "seconds": round(fit["seconds"], 1),
                    "images_per_s": round(fit["images_per_s"], 1),
                    "teacher_share": round(fit["teacher_share"], 3),
                }
            )
            improved = val["acc"] > best_acc
            best_acc = max(best_acc, val["acc"])
            train_seconds += time.perf_counter() - epoch_start
            ranks = distributed.gather(
                {"augment": augment_generator.get_state(), "torch_rng": torch.get_rng_state()}, world
            )
            if world.main:
                write_history(history, out)
                if improved or cfg.select == "last":
                    save_atomic(
                        {
                            "spec": model_to_json(scored),
                            "model": scored.state_dict(),
                            "epoch": epoch,
                            "val_acc": val["acc"],
                        },
                        checkpoints / "best.pt",
                    )
                save_atomic(
                    {
                        "model": model.state_dict(),
                        "optimizer": optimizer.state_dict(),
                        "schedule": schedule.state_dict(),
                        "ema": ema.state_dict() if ema is not None else None,
                        "generator": generator.get_state(),
                        "torch_rng": torch.get_rng_state(),
                        "ranks": ranks if world.distributed else None,
                        "history": history,
                        "best_acc": best_acc,
                        "train_seconds": train_seconds,
                        "epoch": epoch,
                        "config": asdict(cfg),
                    },
                    checkpoints / "last.pt",
                )
            log(
                f"epoch {epoch}/{cfg.epochs}: loss {fit['loss']:.4f} acc {fit['acc']:.4f} | "
                f"val loss {val['loss']:.4f} acc {val['acc']:.4f}{' *' if improved else ''} | "
                f"lr {lr:.1e} | {fit['seconds']:.1f} s, {fit['images_per_s']:.0f} images/s"
                + (f", {fit['teacher_share']:.0%} in teachers" if teachers else ""),
                flush=True,
            )
    except KeyboardInterrupt:
        log(
            f"\ninterrupted: {checkpoints / 'best.pt'} holds the selected epoch so far; "
            f"continue with --resume, or run `realtime-fer export {out}`"
        )
        raise SystemExit(130) from None

    if world.main:
        from realtime_fer.export import export_run

        export_run(out)
    return out


def _silent(*args, **kwargs) -> None:
    """``print`` for the processes other than rank 0."""
