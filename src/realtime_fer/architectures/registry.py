"""Architectures register under a name and are built by :func:`create_model` (timm style).

Each entry carries the training defaults that reproduce its recipe, so ``realtime-fer train
--arch NAME`` needs no other flags.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from torch import nn

from realtime_fer.emotions import EMOTIONS


@dataclass(frozen=True)
class ModelEntry:
    name: str
    builder: Callable[..., nn.Module]
    description: str
    serve_tta: str = "none"
    train_defaults: dict[str, Any] = field(default_factory=dict)


_REGISTRY: dict[str, ModelEntry] = {}


def register_model(name: str, description: str, serve_tta: str = "none", **train_defaults: Any):
    """Decorator: register ``builder(**config) -> nn.Module`` under ``name``.

    ``serve_tta``: the test-time augmentation exported models of this architecture are served with
    (``tta.TTA_MODES``).
    """

    def decorate(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _REGISTRY:
            raise ValueError(f"architecture {name!r} is registered twice")
        _REGISTRY[name] = ModelEntry(name, builder, description, serve_tta, train_defaults)
        return builder

    return decorate


def model_entry(name: str) -> ModelEntry:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown architecture {name!r}; known: {', '.join(list_models())}") from None


def list_models() -> list[str]:
    return sorted(_REGISTRY)


def create_model(name: str, classes: Sequence[str] = EMOTIONS, **config: Any) -> nn.Module:
    """Build a registered architecture with an output per class of ``classes``; it remembers its name,
    config and classes for :mod:`spec` (``num_classes`` joins the config where it is not seven)."""
    if tuple(classes) != EMOTIONS:
        config["num_classes"] = len(classes)
    model = model_entry(name).builder(**config)
    # nn.Module's __setattr__ is typed for tensors and modules; identity() reads these back typed
    model.arch_name = name  # type: ignore[assignment]
    model.arch_config = dict(config)  # type: ignore[assignment]
    model.classes = tuple(classes)  # type: ignore[assignment]
    return model


@dataclass(frozen=True)
class Identity:
    """What :func:`create_model` records on a network: its architecture, config and classes."""

    name: str
    config: dict[str, Any]
    classes: tuple[str, ...]


def identity(model: nn.Module) -> Identity:
    """The :class:`Identity` of a network :func:`create_model` built."""
    return Identity(cast(str, model.arch_name), cast(dict, model.arch_config), cast(tuple, model.classes))
