"""Network architectures (need torch). Importing this package registers every architecture."""

from realtime_fer.architectures import pair, paper, vgg  # noqa: F401  (importing registers them)
from realtime_fer.architectures.registry import (
    create_model,
    identity,
    list_models,
    model_entry,
    register_model,
)
from realtime_fer.architectures.spec import (
    count_macs,
    count_parameters,
    load_trained,
    model_from_json,
    model_to_json,
    summary,
)

__all__ = [
    "count_macs",
    "count_parameters",
    "create_model",
    "identity",
    "list_models",
    "load_trained",
    "model_entry",
    "model_from_json",
    "model_to_json",
    "register_model",
    "summary",
]
