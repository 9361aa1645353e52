"""The one conversion from grey face images to network input, shared by training and serving."""

from collections.abc import Sequence

import cv2
import numpy as np

INPUT_SIZE = 48


def resize_face(gray: np.ndarray, size: int = INPUT_SIZE) -> np.ndarray:
    """A 2-D uint8 grey face resized to ``size`` x ``size`` (area filter when shrinking)."""
    if gray.ndim != 2:
        raise ValueError(f"expected a 2-D grey image, got shape {gray.shape}")
    if gray.shape == (size, size):
        return gray
    shrinking = gray.shape[0] > size or gray.shape[1] > size
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return cv2.resize(gray, (size, size), interpolation=interpolation)


def to_model_input(faces: np.ndarray | Sequence[np.ndarray], size: int = INPUT_SIZE) -> np.ndarray:
    """uint8 grey faces, (N, H, W) or a list of 2-D crops, to float32 (N, 1, size, size) in [0, 1].

    Normalisation beyond [0, 1] lives inside each network, so this is all any caller needs.
    """
    if isinstance(faces, np.ndarray) and faces.ndim == 3 and faces.shape[1:] == (size, size):
        batch = faces
    else:
        batch = (
            np.stack([resize_face(face, size) for face in faces])
            if len(faces)
            else (np.zeros((0, size, size), np.uint8))
        )
    return (batch.astype(np.float32) * (1.0 / 255.0))[:, None, :, :]
