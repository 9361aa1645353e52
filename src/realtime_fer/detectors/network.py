"""Loading a detector's ONNX network: the one place its weight file is checked and its session made."""

import os
from pathlib import Path

import onnxruntime as ort

from realtime_fer.detectors.frames import DetectorError
from realtime_fer.onnx_session import ProviderError, create_session


def load_network(weights: str | os.PathLike, provider: str, threads: int | None) -> ort.InferenceSession:
    """A session for the detector network at ``weights`` on ``provider``: ``DetectorError`` naming the
    file when it is missing or cannot be loaded, ``ProviderError`` for a provider that is not there."""
    path = Path(weights)
    if not path.is_file():
        raise DetectorError(f"{path}: face detector weights not found")
    try:
        return create_session(path, provider=provider, threads=threads)
    except ProviderError:
        raise
    except Exception as error:  # onnxruntime raises several unrelated types for a bad file
        raise DetectorError(f"{path}: cannot be loaded ({error})") from None
