"""CenterFace (Star-Clouds, MIT) run with ONNX Runtime: the detector for stills and for video.

An anchor-free network: at stride 4 it predicts a face-centre heat map, each centre's box size (log
scale) and offset, and five landmarks. The shipped graph leaves its input size free
(``scripts/build_centerface.py``), so a frame is searched in one pass at the scale that makes a
``min_face``-pixel face ``SMALLEST_FACE`` px at the input, within ``max_pixels``. Two graphs ship:
``centerface.onnx`` (float32, for stills) and ``centerface.int8.onnx`` (int8, for video: faster, and
on ../shared's photos just as good at the video scale, one clear face fewer at the still's; see
``benchmarks/detector.py``).
"""

import math
import os
from pathlib import Path

import cv2
import numpy as np

from realtime_fer.detectors.boxes import drop_nested, to_pixels, weighted_nms
from realtime_fer.detectors.frames import check_frame, to_rgb
from realtime_fer.detectors.network import load_network
from realtime_fer.onnx_session import DEFAULT_PROVIDER, release_arena

WEIGHTS = Path(__file__).resolve().parent / "weights" / "centerface.onnx"
WEIGHTS_SHA256 = "a55914d0f3472fa07baa66f09b4056301e5f771ffa6717faf2322707965fefc1"
INT8_WEIGHTS = WEIGHTS.with_name("centerface.int8.onnx")
INT8_WEIGHTS_SHA256 = "e43c779ca6146c37ba134b7142bc3b7cc65d6ca78a043d622e6b69587c2fcce9"
OUTPUTS = ("537", "538", "539", "540")  # heat map, log box size, centre offset, landmarks
STRIDE = 4
MULTIPLE = 32  # input sides must be multiples of the coarsest stride
SMALLEST_FACE = 20  # face side (input pixels) a min_face-pixel face is scaled to
# A still's input is at most a 1024x768 image's pixels: a 2048x1536 still costs about a third of
# what the 2.2 megapixels before did, and is searched for faces from 40 px instead of 20; on
# ../shared/faces-wider (1024 px wide) the recall was the same (benchmarks/detector.py, both rows)
MAX_PIXELS = 1024 * 768


class CenterFaceDetector:
    """Face boxes ``[x, y, w, h]`` in a grey, BGR or BGRA frame. Thread-safe.

    ``min_face``: the smallest face side searched for, in frame pixels (boxes smaller than 0.8 of it
    are dropped: on ../shared they were mostly background heads WIDER does not box, or nothing).
    ``score_threshold`` 0.4 rather than CenterFace's 0.5: on ../shared/faces-wider it finds 60 rather than
    59 of the 63 clear faces of 40 px or more, for 10 boxes matching no face instead of 6, and still
    one box on no-faces/ and none but the 43 faces on faces-dlib/. ``max_pixels`` bounds the input.
    ``weights``: the graph, :data:`WEIGHTS` (float32) or :data:`INT8_WEIGHTS` (int8, what video runs).
    """

    name = "centerface"
    # FER-2013 crops are 1.07x the side of a CenterFace box and centred 2% of their side higher
    # (medians over 400 training faces placed in frames: score_fer_frames of benchmarks/detector.py)
    framing = (1.07, -0.02)

    def __init__(
        self,
        min_face: int = 20,
        score_threshold: float = 0.4,
        iou_threshold: float = 0.3,
        max_pixels: int = MAX_PIXELS,
        weights: str | os.PathLike = WEIGHTS,
        threads: int | None = 1,
        provider: str = DEFAULT_PROVIDER,
    ):
        if min_face < 1:
            raise ValueError(f"min_face must be a positive number of pixels, got {min_face}")
        if not 0.0 < score_threshold < 1.0:
            raise ValueError(f"score_threshold must be in (0, 1), got {score_threshold}")
        self.min_face = min_face
        self.score_threshold = score_threshold
        self.iou_threshold = iou_threshold
        self.max_pixels = max_pixels
        self.weights = Path(weights)
        self.session = load_network(self.weights, provider, threads)
        self.input_name = self.session.get_inputs()[0].name

    def scale(self, height: int, width: int) -> float:
        """The resize factor a ``height`` x ``width`` frame is searched at."""
        return min(SMALLEST_FACE / self.min_face, math.sqrt(self.max_pixels / (height * width)))

    def release_memory(self) -> None:
        """Free what the network's session keeps from the largest frames it ran (see
        :func:`onnx_session.release_arena`)."""
        release_arena(self.session)

    def input_tensor(self, frame: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
        """The network's input for a checked ``frame`` and the (width, height) it was resized to."""
        height, width = frame.shape[:2]
        scale = self.scale(height, width)
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        resized = frame if size == (width, height) else cv2.resize(frame, size, interpolation=interpolation)
        rgb = to_rgb(resized)
        padded_h, padded_w = (math.ceil(side / MULTIPLE) * MULTIPLE for side in rgb.shape[:2])
        tensor = np.zeros((1, 3, padded_h, padded_w), np.float32)
        tensor[0, :, : rgb.shape[0], : rgb.shape[1]] = rgb.transpose(2, 0, 1)  # 0-255, as trained
        return tensor, size

    def detect(self, frame: np.ndarray) -> np.ndarray:
        """int32 (N, 4) boxes ``[x, y, w, h]`` inside the frame, sorted left to right."""
        boxes, _, _ = self.detect_scored(frame)
        return to_pixels(boxes, frame.shape[1], frame.shape[0])

    def detect_scored(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Float boxes (N, 4) xywh, scores (N,) and landmarks (N, 5, 2) in frame pixels, best first.

        Landmarks: the eyes, the nose tip and the mouth corners, as the image shows them left to right.
        """
        check_frame(frame)
        height, width = frame.shape[:2]
        tensor, size = self.input_tensor(frame)
        heat, log_size, offset, marks = self.session.run(list(OUTPUTS), {self.input_name: tensor})
        ys, xs = np.nonzero(heat[0, 0] > self.score_threshold)
        scores = heat[0, 0, ys, xs].astype(np.float64)
        h = np.exp(log_size[0, 0, ys, xs]) * STRIDE
        w = np.exp(log_size[0, 1, ys, xs]) * STRIDE
        cx = (xs + offset[0, 1, ys, xs] + 0.5) * STRIDE
        cy = (ys + offset[0, 0, ys, xs] + 0.5) * STRIDE
        boxes = np.stack([cx - w / 2, cy - h / 2, w, h], axis=1).astype(np.float64)
        # landmarks are (y, x) pairs relative to the box's corner, in box sides
        points = np.stack([marks[0, 1::2, ys, xs] * w[:, None] + boxes[:, :1],
                           marks[0, 0::2, ys, xs] * h[:, None] + boxes[:, 1:2]], axis=2)
        factor = np.array([width / size[0], height / size[1]])
        boxes, points = boxes * np.tile(factor, 2), points * factor
        boxes, scores, points = weighted_nms(boxes, scores, points.reshape(-1, 10), self.iou_threshold)
        keep = drop_nested(boxes) & (boxes[:, 2:4].max(axis=1) >= 0.8 * self.min_face)
        return boxes[keep], scores[keep], points[keep].reshape(-1, 5, 2)
