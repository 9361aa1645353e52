"""The one place ONNX Runtime sessions are made: which execution provider runs a graph, and how.

``provider`` is one of :data:`PROVIDERS`: ``cpu``, an accelerator by its short name (``cuda`` and
``tensorrt`` with ``pip install onnxruntime-gpu``, ``coreml``, ``directml``, ``openvino``, ``rocm``),
or ``auto``: the first accelerator of :data:`AUTO_ORDER` the installed ONNX Runtime offers, else the
CPU. A provider that is not there is a :class:`ProviderError` naming those that are.
"""

import os

import numpy as np
import onnxruntime as ort

from realtime_fer.choices import check_choice

EXECUTION_PROVIDERS = {  # short name -> ONNX Runtime's name
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
    "coreml": "CoreMLExecutionProvider",
    "directml": "DmlExecutionProvider",
    "openvino": "OpenVINOExecutionProvider",
    "rocm": "ROCMExecutionProvider",
}
PROVIDERS = ("auto", *EXECUTION_PROVIDERS)
# auto's preference; CUDA before TensorRT, whose first session builds an engine for minutes
AUTO_ORDER = ("cuda", "tensorrt", "coreml", "directml", "openvino", "rocm")
DEFAULT_PROVIDER = "auto"


class ProviderError(ValueError):
    """An execution provider that is unknown or not offered by the installed ONNX Runtime."""


def available_providers() -> list[str]:
    """The short names of the providers the installed ONNX Runtime offers (``cpu`` always)."""
    offered = set(ort.get_available_providers())
    return [name for name, ep in EXECUTION_PROVIDERS.items() if ep in offered or name == "cpu"]


def resolve_provider(provider: str = DEFAULT_PROVIDER) -> str:
    """The short name ``provider`` stands for here: itself when available, auto's pick for ``auto``."""
    check_choice("provider", provider, PROVIDERS, ProviderError)
    available = available_providers()
    if provider == "auto":
        return next((name for name in AUTO_ORDER if name in available), "cpu")
    if provider not in available:
        hint = " (pip install onnxruntime-gpu)" if provider in ("cuda", "tensorrt") else ""
        raise ProviderError(
            f"provider {provider!r} is not available in this ONNX Runtime{hint}; available: "
            f"{', '.join(['auto', *available])}"
        )
    return provider


def create_session(
    path: str | os.PathLike, *, provider: str = DEFAULT_PROVIDER, threads: int | None = None
) -> ort.InferenceSession:
    """A session for the graph at ``path`` on ``provider`` (the CPU covering any operator it lacks).

    ``threads``: intra-op threads (None: ONNX Runtime's default, one per core). Idle threads never
    spin-wait after a call, on the cores the next frame's face detection needs: with spinning, one-face
    frames ran ~10% slower end to end, six-face ones ~30%. ``ProviderError`` for a provider that is
    not available, before the file is read; ONNX Runtime's own errors for a bad file.
    """
    name = resolve_provider(provider)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads or 0
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    chosen = [EXECUTION_PROVIDERS[name]] + (["CPUExecutionProvider"] if name != "cpu" else [])
    session = ort.InferenceSession(str(path), options, providers=chosen)
    if provider != "auto" and session.get_providers()[0] != chosen[0]:
        # ONNX Runtime falls back to the CPU when an accelerator's libraries fail to load
        raise ProviderError(f"provider {provider!r} could not be started (see ONNX Runtime's log above)")
    return session


def release_arena(session: ort.InferenceSession) -> None:
    """Hand back what ``session``'s CPU memory arena holds beyond its current runs: it keeps the
    buffers of the largest input it ever ran (hundreds of MB after a 2048-px still), which made
    later runs of that size ~30% faster than allocating afresh but never went back. One run on the
    smallest input (dynamic sides 32, a batch of 1) with arena shrinkage frees them."""
    feed = {}
    for node in session.get_inputs():
        shape = [
            dim if isinstance(dim, int) else 1 if axis == 0 else 32 for axis, dim in enumerate(node.shape)
        ]
        feed[node.name] = np.zeros(shape, np.float32)
    options = ort.RunOptions()
    options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
    session.run(None, feed, options)


def session_provider(session: ort.InferenceSession) -> str:
    """The short name of the provider that runs ``session``'s graph first."""
    first = session.get_providers()[0]
    return next((name for name, ep in EXECUTION_PROVIDERS.items() if ep == first), first)
