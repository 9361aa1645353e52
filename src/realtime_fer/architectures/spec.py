"""The JSON architecture (``model.json``) and a Keras-style summary with parameter counts."""

import json
from pathlib import Path
from typing import Any, cast

import torch
from torch import nn

from realtime_fer.architectures.registry import create_model, identity, model_entry
from realtime_fer.emotions import EMOTIONS
from realtime_fer.model_folder import SPEC_FILE, WEIGHTS_FILE
from realtime_fer.preprocess import INPUT_SIZE

FORMAT = "realtime-fer/1"


def model_to_json(model: nn.Module) -> dict[str, Any]:
    """Everything needed to rebuild ``model`` and feed it: name, config, classes, input, and how
    it is served (``serving.tta``: the views of each face the recognizer averages, e.g. ``"flip"``)."""
    network = identity(model)
    return {
        "format": FORMAT,
        "architecture": network.name,
        "config": network.config,
        "classes": list(network.classes),
        "input": {"shape": [1, INPUT_SIZE, INPUT_SIZE], "range": [0.0, 1.0], "layout": "NCHW"},
        "output": "probabilities",
        "serving": {"tta": model_entry(network.name).serve_tta},
    }


def model_from_json(spec: dict[str, Any] | str | Path) -> nn.Module:
    """Rebuild an (untrained) model from a ``model.json`` dict or file, like Keras ``model_from_json``."""
    if not isinstance(spec, dict):
        spec = cast(dict[str, Any], json.loads(Path(spec).read_text()))
    if spec.get("format") != FORMAT:
        raise ValueError(f"not a {FORMAT} model spec (format={spec.get('format')!r})")
    return create_model(spec["architecture"], spec.get("classes", EMOTIONS), **spec.get("config", {}))


def load_trained(model_dir: Path) -> nn.Module:
    """Rebuild a model from ``model.json`` + ``weights.pt`` (the paper's JSON + weights route), in eval
    mode."""
    model = model_from_json(model_dir / SPEC_FILE)
    model.load_state_dict(torch.load(model_dir / WEIGHTS_FILE, weights_only=True))
    return model.eval()


def count_parameters(model: nn.Module) -> dict[str, int]:
    """Keras-style counts: BatchNorm running mean/var count as non-trainable parameters."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    frozen = sum(p.numel() for p in model.parameters() if not p.requires_grad)
    frozen += sum(
        b.numel() for name, b in model.named_buffers() if name.endswith(("running_mean", "running_var"))
    )
    return {"total": trainable + frozen, "trainable": trainable, "non_trainable": frozen}


def probe(model: nn.Module, hooks: list, input_size: int = INPUT_SIZE) -> None:
    """One blank face through ``model`` in eval mode (so its forward hooks fire), then the hooks are
    removed and the model's train/eval mode is restored."""
    was_training = model.training
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, 1, input_size, input_size))
    model.train(was_training)
    for hook in hooks:
        hook.remove()


def count_macs(model: nn.Module, input_size: int = INPUT_SIZE) -> int:
    """Multiply-accumulates of one face through the convolutions and linear layers."""
    macs = 0

    def record(module: nn.Module, _inputs, output: torch.Tensor) -> None:
        nonlocal macs
        if isinstance(module, nn.Conv2d):
            per_output = module.in_channels // module.groups * module.kernel_size[0] * module.kernel_size[1]
            macs += output[0].numel() * per_output
        elif isinstance(module, nn.Linear):
            macs += module.in_features * module.out_features

    hooks = [m.register_forward_hook(record) for m in model.modules() if isinstance(m, nn.Conv2d | nn.Linear)]
    probe(model, hooks, input_size)
    return macs


def summary(model: nn.Module, input_size: int = INPUT_SIZE) -> str:
    """A layer table (name, type, output shape, parameters) like Keras ``model.summary()``."""
    rows: list[tuple[str, str, str, int]] = []
    hooks = []
    for name, module in model.named_modules():
        if list(module.children()):
            continue

        def record(mod: nn.Module, _inputs, output, name: str = name) -> None:
            shape = "(None, " + ", ".join(str(d) for d in output.shape[1:]) + ")"
            rows.append((name, type(mod).__name__, shape, count_parameters(mod)["total"]))

        hooks.append(module.register_forward_hook(record))
    probe(model, hooks, input_size)
    counts = count_parameters(model)
    widths = (24, 12, 22, 12)
    line = "-" * sum(widths)
    out = [
        line,
        "".join(
            h.ljust(w) for h, w in zip(("Layer", "Type", "Output shape", "Param #"), widths, strict=True)
        ),
        line,
    ]
    out += ["".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    out += [
        line,
        f"Total params: {counts['total']:,}",
        f"Trainable params: {counts['trainable']:,}",
        f"Non-trainable params: {counts['non_trainable']:,}",
        f"Multiply-accumulates per face: {count_macs(model, input_size):,}",
        line,
    ]
    return "\n".join(out)
