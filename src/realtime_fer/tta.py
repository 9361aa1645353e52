"""Test-time augmentation: the views of each face that are classified and averaged (no torch).

"none": the face alone. "flip": the face and its mirror image. "ten": the face and four copies
shifted by ``TTA_SHIFT`` pixels (up, down, left, right; edges repeated), each also mirrored.
"""

import numpy as np

from realtime_fer.choices import check_choice

# Training's affine jitter shifts faces uniformly within +-4.8 px (standard deviation 2.8 px), so
# 3 px is a typical training shift.
TTA_SHIFT = 3
# how reports name each mode after the precision, e.g. "int8 + flip TTA"
TTA_NAMES = {"none": "", "flip": " + flip TTA", "ten": " + ten-view TTA"}
TTA_MODES = tuple(TTA_NAMES)  # from the fewest views to the most
TTA_VIEWS = {"none": 1, "flip": 2, "ten": 10}  # how many views of each face a mode classifies
# Live video (the stream, the webcam page) classifies every face of every frame and smooths each
# face's probabilities over frames, so it serves at most this view set: ten views of six faces cost
# ~20 ms a frame on the development machine and 60-100 ms on a slower Xeon, beyond a 30 fps camera.
VIDEO_TTA = "flip"


def check_tta(tta: str, what: str = "tta") -> str:
    """``tta`` itself when it is one of :data:`TTA_MODES`, else a ``ValueError`` naming them."""
    return check_choice(what, tta, TTA_MODES)


def video_tta(tta: str) -> str:
    """The view set live video serves for a model served with ``tta``: ``tta`` or ``VIDEO_TTA``, the
    one with fewer views."""
    return min(tta, VIDEO_TTA, key=TTA_MODES.index)


def tta_views(inputs: np.ndarray, tta: str) -> np.ndarray:
    """The views of an (N, 1, H, W) batch that ``tta`` classifies, stacked view by view: (V*N, 1, H, W)."""
    if tta == "none":
        return inputs
    views = [inputs]
    if tta == "ten":
        s = TTA_SHIFT
        height, width = inputs.shape[-2:]
        padded = np.pad(inputs, ((0, 0), (0, 0), (s, s), (s, s)), mode="edge")
        for dy, dx in ((-s, 0), (s, 0), (0, -s), (0, s)):
            views.append(padded[..., s + dy : s + dy + height, s + dx : s + dx + width])
    views += [view[..., ::-1] for view in views]
    return np.ascontiguousarray(np.concatenate(views))
