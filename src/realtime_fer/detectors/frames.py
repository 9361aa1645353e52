"""What every detector shares about its input: the error for unusable weights, the frame check and
the colour conversions. A leaf module (it imports no other part of the package), so that
:mod:`realtime_fer.detector` can build the detectors that import it."""

import cv2
import numpy as np


class DetectorError(RuntimeError):
    """A detector whose files are missing or cannot be loaded; the message names the file."""


def check_frame(frame: np.ndarray) -> None:
    """``ValueError`` unless ``frame`` is a non-empty uint8 grey (H, W) or (H, W, 1|3|4) image."""
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image array, got {getattr(frame, 'dtype', type(frame).__name__)}")
    if not (frame.ndim == 2 or (frame.ndim == 3 and frame.shape[2] in (1, 3, 4))) or 0 in frame.shape:
        raise ValueError(f"expected a grey (H, W) or BGR / BGRA (H, W, 3|4) image, got shape {frame.shape}")


def to_gray(frame: np.ndarray) -> np.ndarray:
    """The 2-D grey version of a frame :func:`check_frame` accepts (the frame itself when already grey)."""
    if frame.ndim == 2:
        return frame
    if frame.shape[2] == 1:
        return frame[:, :, 0]
    return cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY if frame.shape[2] == 3 else cv2.COLOR_BGRA2GRAY)


def to_rgb(frame: np.ndarray) -> np.ndarray:
    """The 3-channel RGB version of a frame :func:`check_frame` accepts."""
    if frame.ndim == 2 or frame.shape[2] == 1:
        return cv2.cvtColor(frame.reshape(frame.shape[:2]), cv2.COLOR_GRAY2RGB)
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB if frame.shape[2] == 3 else cv2.COLOR_BGRA2RGB)
