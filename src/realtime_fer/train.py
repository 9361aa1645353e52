"""Training: :func:`train` runs the epochs of an architecture's recipe (defaults from its registry
entry), each one :func:`train_epoch` and one :func:`validate`.

It writes a run folder (:mod:`run_folder`: checkpoints to resume from and to export, the history and
its curves, refreshed every epoch like the paper's live plot); the caller then exports the selected
epoch next to them (:func:`export.export_run`).

The same loop runs in one process or in several under ``torchrun`` (see :mod:`distributed`): each
process then trains on its shard of every global batch, and rank 0 alone prints and writes the run folder.
Faces stay uint8 in the (memory-mapped) data cache and become float32 one batch at a time.
"""

import csv
import os
import time
import warnings
from dataclasses import InitVar, asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm import tqdm

from realtime_fer import data, distributed, ferplus, run_folder
from realtime_fer.architectures import create_model, identity, model_entry, model_to_json
from realtime_fer.augment import augmentation, mixup
from realtime_fer.choices import check_choice
from realtime_fer.device import autocast, pick_device
from realtime_fer.distill import Teachers, distillation_loss
from realtime_fer.distributed import ALONE, World
from realtime_fer.model_folder import SPEC_FILE, WEIGHTS_FILE, ModelError, read_json, resolve_model_dir
from realtime_fer.options import OPTIMIZERS, SCHEDULES
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
    "teacher_views": 0,  # 0: all of teacher_tta's views for every face; k: k of them drawn at random
    "distill_weight": 0.5,
    "temperature": 2.0,
    "labels": "crossentropy",  # FER+ data only: how the votes become targets (ferplus.LABEL_MODES)
    "serve_tta": "",  # the TTA the export is served with; empty: the architecture's (its registry entry)
    "init": "",  # a model folder, shipped model or run whose weights the run starts from; empty: none
}


# A field left to the recipe: ``None`` until :meth:`TrainConfig.resolved` fills it in (typed as the
# value it then holds, so the code that runs a resolved config is checked against that).
FROM_RECIPE: Any = None


@dataclass
class TrainConfig:
    """Options of ``realtime-fer train``; a field left ``FROM_RECIPE`` takes the default of the
    architecture's recipe (its registry entry), else ``RECIPE_DEFAULTS``. ``model=`` is the old
    name of ``arch`` (it still works, with a deprecation note)."""

    data: str
    arch: str = "paper"
    out: str = FROM_RECIPE  # default runs/<arch>
    epochs: int = FROM_RECIPE
    batch_size: int = FROM_RECIPE
    lr: float = FROM_RECIPE
    optimizer: str = FROM_RECIPE
    weight_decay: float = FROM_RECIPE
    schedule: str = FROM_RECIPE
    augment: str = FROM_RECIPE
    label_smoothing: float = FROM_RECIPE
    mixup: float = FROM_RECIPE
    ema: float = FROM_RECIPE
    select: str = FROM_RECIPE
    holdout: float = FROM_RECIPE
    teacher: str = FROM_RECIPE
    teacher_tta: str = FROM_RECIPE
    teacher_views: int = FROM_RECIPE
    distill_weight: float = FROM_RECIPE
    temperature: float = FROM_RECIPE
    labels: str = FROM_RECIPE
    init: str = FROM_RECIPE
    serve_tta: str = FROM_RECIPE
    seed: int = 0
    device: str = "auto"
    train_precision: str = "auto"  # autocast: options.TRAIN_PRECISIONS (not the served graph's)
    val_split: str | None = None
    resume: bool = False
    sync_bn: bool = False  # under torchrun on GPUs: BatchNorm statistics of the whole global batch
    command: str = ""  # the command line that started the run, recorded in metrics.json
    model: InitVar[str | None] = None

    def __post_init__(self, model: str | None) -> None:
        if model is not None:
            note = "TrainConfig(model=...) is now TrainConfig(arch=...)"
            warnings.warn(note, DeprecationWarning, stacklevel=3)
            self.arch = model

    @classmethod
    def field_names(cls) -> frozenset[str]:
        """The options a config holds (not the old spelling ``model``)."""
        return frozenset(f.name for f in fields(cls))

    @classmethod
    def from_record(cls, record: dict) -> "TrainConfig":
        """The config a checkpoint or ``metrics.json`` recorded; older runs said ``precision`` for
        ``train_precision`` and ``model`` for ``arch``."""
        record = dict(record)
        if "precision" in record:
            record["train_precision"] = record.pop("precision")
        if "model" in record:
            record["arch"] = record.pop("model")
        return cls(**record)

    def resolved(self) -> "TrainConfig":
        """A copy with every ``FROM_RECIPE`` field filled from the registry entry of ``arch`` (reads
        no data: a ``val_split`` left ``None`` is chosen where the data is loaded, in :func:`train`)."""
        defaults = model_entry(self.arch).train_defaults
        values = {
            k: (defaults.get(k, RECIPE_DEFAULTS.get(k)) if v is None else v) for k, v in asdict(self).items()
        }
        values["out"] = values["out"] or f"runs/{self.arch}"
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


def face_losses(logits: torch.Tensor, targets: torch.Tensor, label_smoothing: float, multi_target: bool):
    """Each face's loss: cross-entropy to its class index or target distribution; for FER+'s
    ``multi_target`` targets, minus the log of the largest probability among the accepted classes
    (Microsoft's multi-target loss: any one of them is a right answer)."""
    if multi_target:
        return -(logits.softmax(1) * targets).amax(1).clamp_min(1e-12).log()
    return F.cross_entropy(logits, targets, label_smoothing=label_smoothing, reduction="none")


def mixed_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    label_smoothing: float,
    partner: torch.Tensor | None = None,
    lam: torch.Tensor | None = None,
    multi_target: bool = False,
) -> torch.Tensor:
    """The mean of :func:`face_losses`; after mixup each face counts ``lam`` of its own target, the rest
    its partner's. ``targets``: class indices (N,) or distributions (N, classes)."""
    own = face_losses(logits, targets, label_smoothing, multi_target)
    if partner is None or lam is None:
        return own.mean()
    other = face_losses(logits, targets[partner], label_smoothing, multi_target)
    lam = lam.to(logits.device)
    return (lam * own + (1 - lam) * other).mean()


def class_indices(targets: torch.Tensor) -> torch.Tensor:
    """The class of each face: the index itself, or the largest entry of a target distribution."""
    return targets if targets.ndim == 1 else targets.argmax(1)


@dataclass
class Trainer:
    """What one training epoch uses and updates: the network, its optimizer and the run's randomness."""

    cfg: TrainConfig
    network: nn.Module  # what trains: the model, or its DDP wrapper under torchrun
    optimizer: torch.optim.Optimizer
    device: torch.device
    order: torch.Generator  # shuffles each epoch, the same on every process
    amp_dtype: torch.dtype | None = None  # autocast to this; None: fp32
    augment: torch.Generator | None = None  # augmentation and mixup, each process its own; None: order
    batch_schedule: Any = None  # a learning-rate schedule stepped after every batch
    ema: AveragedModel | None = None  # averaged weights, updated after every batch
    teachers: Teachers | None = None
    world: World = ALONE

    @property
    def draws(self) -> torch.Generator:
        """What augmentation and mixup draw from: ``augment``, else ``order``."""
        return self.order if self.augment is None else self.augment


class Tally:
    """Loss, accuracy and speed of one pass, summed over torchrun's processes at the end."""

    def __init__(self) -> None:
        self.loss, self.correct, self.seen, self.start = 0.0, 0, 0, time.perf_counter()

    def add(self, loss: torch.Tensor, logits: torch.Tensor, targets: torch.Tensor) -> dict[str, str]:
        """Counts a batch; returns the running figures for a progress bar."""
        self.loss += loss.item() * len(targets)
        self.correct += int((logits.argmax(1) == class_indices(targets)).sum().item())
        self.seen += len(targets)
        speed = self.seen / (time.perf_counter() - self.start)
        mean_loss, accuracy = self.loss / self.seen, self.correct / self.seen
        return {"loss": f"{mean_loss:.3f}", "acc": f"{accuracy:.3f}", "img_s": f"{speed:.0f}"}

    def result(self, world: World, device: torch.device) -> dict:
        seconds = time.perf_counter() - self.start
        loss, correct, seen = distributed.sum_over([self.loss, self.correct, self.seen], world, device)
        return {"loss": loss / seen, "acc": correct / seen, "seconds": seconds,
                "images_per_s": seen / seconds}


def train_epoch(trainer: Trainer, faces: np.ndarray, labels: torch.Tensor, desc: str = "") -> dict:
    """One training pass over uint8 faces (N, 48, 48) and their labels (class indices, or FER+ target
    distributions), this process's shard of it under torchrun: augmentation, mixup, the teachers'
    targets, a step a batch. Returns loss,
    accuracy, seconds and images/s over all processes, and ``teacher_share``, the fraction of the
    time spent in the teachers."""
    t, cfg = trainer, trainer.cfg
    t.network.train()
    augment = augmentation(cfg.augment)
    draws = t.draws
    tally, teacher_seconds = Tally(), 0.0
    progress = tqdm(
        list(batches(len(labels), cfg.batch_size, t.order, t.world)),
        desc=desc,
        unit="batch",
        leave=False,
        disable=not t.world.main or None,
        dynamic_ncols=True,
    )
    for index in progress:
        inputs, targets = augment(batch_inputs(faces, index), draws), labels[index]
        if cfg.labels == "probability" and targets.ndim == 2:  # FER+: a class drawn from the votes
            targets = F.one_hot(torch.multinomial(targets, 1, generator=draws)[:, 0], targets.shape[1])
            targets = targets.float()
        partner, lam = None, None
        if cfg.mixup:
            inputs, partner, lam = mixup(inputs, cfg.mixup, draws)
        soft_targets = None
        if t.teachers is not None:
            teacher_start = time.perf_counter()
            soft_targets = t.teachers.probabilities(inputs, cfg.temperature, draws)
            teacher_seconds += time.perf_counter() - teacher_start
        inputs = inputs.to(t.device, memory_format=torch.channels_last)
        targets = targets.to(t.device)
        with autocast(t.device, t.amp_dtype):
            logits = t.network(inputs)
            multi_target = cfg.labels == "multi_target" and targets.ndim == 2
            loss = mixed_loss(logits.float(), targets, cfg.label_smoothing, partner, lam, multi_target)
            if soft_targets is not None:
                distilled = distillation_loss(logits, soft_targets, cfg.temperature)
                loss = (1 - cfg.distill_weight) * loss + cfg.distill_weight * distilled
        t.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        t.optimizer.step()
        if t.batch_schedule is not None:
            t.batch_schedule.step()
        if t.ema is not None:
            t.ema.update_parameters(t.network)
        progress.set_postfix(tally.add(loss, logits, targets))
    result = tally.result(t.world, t.device)
    return {**result, "teacher_share": teacher_seconds / result["seconds"]}


@torch.no_grad()
def validate(
    model: nn.Module,
    faces: np.ndarray,
    labels: torch.Tensor,
    device: torch.device,
    amp_dtype: torch.dtype | None = None,
    world: World = ALONE,
) -> dict:
    """Loss (plain cross-entropy) and accuracy of ``model`` on uint8 faces and their labels, in eval
    mode, each process taking its shard under torchrun; seconds and images/s as in training."""
    model.eval()
    tally = Tally()
    for index in batches(len(labels), 256 * world.size, world=world):
        inputs = batch_inputs(faces, index).to(device, memory_format=torch.channels_last)
        targets = labels[index].to(device)
        with autocast(device, amp_dtype):
            logits = model(inputs)
            loss = mixed_loss(logits.float(), targets, 0.0)
        tally.add(loss, logits, targets)
    return tally.result(world, device)


def save_atomic(obj, path: Path) -> None:
    """torch.save via a temporary file, so an interrupt never leaves a half-written checkpoint."""
    tmp = path.with_suffix(".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def write_history(history: list[dict], out: Path) -> None:
    with open(out / run_folder.HISTORY_FILE, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=HISTORY_FIELDS)
        writer.writeheader()
        writer.writerows(history)
    plot_curves(history, out / run_folder.CURVES_FILE)


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


def training_targets(cfg: TrainConfig, train_set: data.FaceSet) -> tuple[data.FaceSet, torch.Tensor]:
    """The faces a run trains on and their targets: FER-2013's class indices, or for FER+ the faces
    ``cfg.labels`` keeps with their vote targets (:func:`ferplus.vote_targets`)."""
    if train_set.votes is None:
        return train_set, torch.from_numpy(train_set.labels)
    check_choice("label mode", cfg.labels, ferplus.LABEL_MODES)
    keep, targets = ferplus.vote_targets(train_set.votes, cfg.labels)
    if cfg.labels == "majority":
        targets = targets.argmax(1)
    kept = train_set.select(keep, f"{train_set.source} [{cfg.labels}]")
    return kept, torch.from_numpy(targets[keep])


def read_init(init: str) -> tuple[dict, dict]:
    """(model.json spec, PyTorch state dict) of what ``--init`` names: a run folder (its selected
    checkpoint), a model folder with ``weights.pt``, or a shipped model's name."""
    path = Path(init)
    if run_folder.is_run(path):
        selected = torch.load(run_folder.selected_checkpoint(path), weights_only=False)
        return selected["spec"], selected["model"]
    folder = resolve_model_dir(init)
    if not (folder / WEIGHTS_FILE).is_file():
        raise ModelError(f"{folder / WEIGHTS_FILE}: missing; --init needs a model's PyTorch weights")
    return read_json(folder / SPEC_FILE), torch.load(folder / WEIGHTS_FILE, weights_only=True)


def warm_start(model: nn.Module, init: str, log=print) -> None:
    """Load ``init``'s weights (:func:`read_init`) into ``model``, which must be the same architecture.

    Where the classes differ, the rows of the output layer are matched by class name: a class both
    know keeps its trained row, a new one (FER+'s contempt, say) keeps its fresh initialisation."""
    spec, state = read_init(init)
    network = identity(model)
    if spec["architecture"] != network.name:
        raise ValueError(f"--init {init} is a {spec['architecture']!r} network, not {network.name!r}")
    old_classes = list(spec.get("classes", []))
    rows = [(row, old_classes.index(name)) for row, name in enumerate(network.classes) if name in old_classes]
    own = model.state_dict()
    for key, value in state.items():
        if key not in own:
            raise ValueError(f"--init {init}: {key} is not a weight of {network.name!r}")
        mine = own[key]
        sizes = (len(old_classes), len(network.classes))
        per_class = value.ndim > 0 and (value.shape[0], mine.shape[0]) == sizes
        if old_classes != list(network.classes) and per_class and value.shape[1:] == mine.shape[1:]:
            for row, old_row in rows:  # the output layer: rows matched by class name
                mine[row] = value[old_row]
        elif value.shape == mine.shape:
            own[key] = value
        else:
            raise ValueError(f"--init {init}: {key} is {tuple(value.shape)}, not {tuple(mine.shape)}")
    model.load_state_dict(own)
    new = [name for name in network.classes if name not in old_classes]
    log(f"init: weights of {init}" + (f" (new output rows: {', '.join(new)})" if new else ""), flush=True)


def make_ema(model: nn.Module, decay: float) -> AveragedModel | None:
    """An exponential moving average of the weights (and BatchNorm statistics), or None."""
    if not decay:
        return None
    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)


def make_teachers(cfg: TrainConfig, device: torch.device, amp_dtype: torch.dtype | None) -> Teachers | None:
    """The teachers ``cfg.teacher`` names (comma-separated), or None when it names none."""
    names = [name.strip() for name in cfg.teacher.split(",") if name.strip()]
    if not names:
        return None
    if not 0.0 <= cfg.distill_weight <= 1.0 or cfg.temperature <= 0:
        raise ValueError("distill_weight must be in [0, 1] and temperature > 0")
    return Teachers(names, cfg.teacher_tta, device, amp_dtype, cfg.teacher_views)


@dataclass
class TrainedRun:
    """A finished run: its folder, and the data it trained and validated on (for the export)."""

    out: Path
    train_set: data.FaceSet
    val_set: data.FaceSet


def train(cfg: TrainConfig) -> TrainedRun | None:
    """Train the architecture ``cfg.arch`` on ``cfg.data`` into the run folder ``cfg.out``; the caller
    exports it (:func:`export.export_run`). Returns the run on the process that writes it, ``None`` on
    the others.

    ``select="best"`` (the paper) keeps the epoch with the best validation accuracy in
    ``checkpoints/selected.pt``; ``select="last"`` keeps each epoch's weights there in turn, so the
    validation set never picks the model. With ``ema`` those are the averaged weights.
    Under torchrun every process calls this; ``cfg.batch_size`` is the global batch.
    """
    world, device_name = distributed.join(cfg.device)
    finished = False
    try:
        trained = _train(cfg, world, device_name)
        finished = True
        return trained
    finally:
        distributed.leave(world, finished)


def _train(cfg: TrainConfig, world: World, device_name: str) -> TrainedRun | None:
    with distributed.main_first(world):  # rank 0 builds the data cache, the others then read it
        cfg = cfg.resolved()
        if cfg.val_split is None:  # the data's own: public_test where the test split has halves
            cfg = replace(cfg, val_split=data.validation_split(cfg.data))
        train_set, val_set = run_folder.load_splits(cfg.data, cfg.val_split, cfg.holdout, cfg.seed)
    train_set, y_train = training_targets(cfg, train_set)
    if cfg.batch_size % world.size:
        raise SystemExit(
            f"realtime-fer train: error: --batch-size {cfg.batch_size} does not split evenly over "
            f"{world.size} processes"
        )
    out = Path(cfg.out)
    checkpoints = run_folder.checkpoints(out)
    if world.main:
        checkpoints.mkdir(parents=True, exist_ok=True)
    device, amp_dtype = pick_device(device_name, cfg.train_precision)
    x_train = train_set.images
    x_val, y_val = val_set.images, torch.from_numpy(val_set.labels)
    log = print if world.main else _silent
    log(
        f"train: {len(train_set)} faces, validation ({cfg.val_split}): {len(val_set)} faces; "
        f"device {device}, precision {amp_dtype or 'fp32'}, {torch.get_num_threads()} threads"
        + (f", {world.size} processes" if world.distributed else ""),
        flush=True,
    )

    torch.manual_seed(cfg.seed)
    order = torch.Generator().manual_seed(cfg.seed)  # the order of each epoch: one for all processes
    model = create_model(cfg.arch, train_set.classes)
    if cfg.init and not (cfg.resume and (checkpoints / run_folder.LAST_CHECKPOINT).exists()):
        warm_start(model, cfg.init, log)
    model = model.to(device, memory_format=torch.channels_last)  # type: ignore[call-overload]  # stubs lack it
    network = distributed.wrap(model, world, device, cfg.sync_bn)  # what trains: DDP under torchrun
    model = getattr(network, "module", network)
    augment = order
    if world.distributed:  # each process draws its own augmentation and dropout
        augment = torch.Generator().manual_seed(cfg.seed + 1 + world.rank)
        torch.manual_seed(cfg.seed + 1 + world.rank)
    optimizer = make_optimizer(cfg, model)
    steps_per_epoch = -(-(len(y_train) // world.size) // (cfg.batch_size // world.size))
    schedule, per_batch = make_schedule(cfg, optimizer, steps_per_epoch)
    trainer = Trainer(
        cfg, network, optimizer, device, order, amp_dtype, augment,
        batch_schedule=schedule if per_batch else None,
        ema=make_ema(model, cfg.ema),
        teachers=make_teachers(cfg, device, amp_dtype),
        world=world,
    )
    # the weights validated and exported
    scored = model if trainer.ema is None else cast(nn.Module, trainer.ema.module)
    state: dict[str, Any] = {"history": [], "best_acc": -1.0, "train_seconds": 0.0, "epoch": 0}
    if cfg.resume and (checkpoints / run_folder.LAST_CHECKPOINT).exists():
        state = resume(trainer, model, schedule, checkpoints, log)
    history, best_acc, train_seconds = state["history"], state["best_acc"], state["train_seconds"]

    try:
        for epoch in range(state["epoch"] + 1, cfg.epochs + 1):
            epoch_start = time.perf_counter()
            lr = optimizer.param_groups[0]["lr"]
            fit = train_epoch(trainer, x_train, y_train, desc=f"epoch {epoch}/{cfg.epochs}")
            distributed.copy_buffers_from_main(scored, world)
            val = validate(scored, x_val, y_val, device, amp_dtype, world)
            if not per_batch:
                schedule.step(val["loss"])
            history.append(history_row(epoch, lr, fit, val))
            improved = val["acc"] > best_acc
            best_acc = max(best_acc, val["acc"])
            train_seconds += time.perf_counter() - epoch_start
            random_states = {"augment": augment.get_state(), "torch_rng": torch.get_rng_state()}
            ranks = distributed.gather(random_states, world)
            if world.main:
                write_history(history, out)
                if improved or cfg.select == "last":
                    selected = {"spec": model_to_json(scored), "model": scored.state_dict(), "epoch": epoch,
                                "val_acc": val["acc"]}
                    save_atomic(selected, checkpoints / run_folder.SELECTED_CHECKPOINT)
                save_atomic(
                    {
                        "model": model.state_dict(),
                        "optimizer": optimizer.state_dict(),
                        "schedule": schedule.state_dict(),
                        "ema": trainer.ema.state_dict() if trainer.ema is not None else None,
                        "generator": order.get_state(),
                        "torch_rng": torch.get_rng_state(),
                        "ranks": ranks if world.distributed else None,
                        "history": history,
                        "best_acc": best_acc,
                        "train_seconds": train_seconds,
                        "epoch": epoch,
                        "config": asdict(cfg),
                    },
                    checkpoints / run_folder.LAST_CHECKPOINT,
                )
            log(
                f"epoch {epoch}/{cfg.epochs}: loss {fit['loss']:.4f} acc {fit['acc']:.4f} | "
                f"val loss {val['loss']:.4f} acc {val['acc']:.4f}{' *' if improved else ''} | "
                f"lr {lr:.1e} | {fit['seconds']:.1f} s, {fit['images_per_s']:.0f} images/s"
                + (f", {fit['teacher_share']:.0%} in teachers" if trainer.teachers else ""),
                flush=True,
            )
    except KeyboardInterrupt:
        log(
            f"\ninterrupted: {checkpoints / run_folder.SELECTED_CHECKPOINT} holds the selected epoch so far; "
            f"continue with --resume, or run `realtime-fer export {out}`"
        )
        raise SystemExit(130) from None
    return TrainedRun(out, train_set, val_set) if world.main else None


def resume(trainer: Trainer, model: nn.Module, schedule, checkpoints: Path, log) -> dict:
    """Restore a run from ``checkpoints/last.pt``: weights, optimizer, schedule, EMA and every random
    state. Returns the checkpoint (its history, best accuracy, time and epoch)."""
    state = torch.load(checkpoints / run_folder.LAST_CHECKPOINT, weights_only=False)
    world = trainer.world
    model.load_state_dict(state["model"])
    trainer.optimizer.load_state_dict(state["optimizer"])
    schedule.load_state_dict(state["schedule"])
    if trainer.ema is not None:
        trainer.ema.load_state_dict(state["ema"])
    trainer.order.set_state(state["generator"])
    torch.set_rng_state(state["torch_rng"])
    ranks = state.get("ranks") or []
    if world.distributed and len(ranks) == world.size:
        trainer.draws.set_state(ranks[world.rank]["augment"])
        torch.set_rng_state(ranks[world.rank]["torch_rng"])
    elif world.distributed or ranks:
        log(f"note: resuming on {world.size} process(es) a run saved from {len(ranks) or 1}: "
            "the random augmentation does not continue as it would have")
    old = checkpoints / run_folder.OLD_SELECTED_CHECKPOINT
    if world.main and old.is_file() and not (checkpoints / run_folder.SELECTED_CHECKPOINT).is_file():
        os.replace(old, checkpoints / run_folder.SELECTED_CHECKPOINT)
    log(f"resuming after epoch {state['epoch']} (best validation accuracy {state['best_acc']:.4f})")
    return state


def history_row(epoch: int, lr: float, fit: dict, val: dict) -> dict:
    """One line of ``history.csv``."""
    return {
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


def _silent(*args, **kwargs) -> None:
    """``print`` for the processes other than rank 0."""
