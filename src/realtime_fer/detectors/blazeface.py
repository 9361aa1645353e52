"""MediaPipe's BlazeFace (back-camera model) run with ONNX Runtime.

The network is fully convolutional, and the shipped graph leaves its input size free
(``scripts/build_face_detector.py``), so the frame is resized to a size that suits it rather than
squeezed into the 256x256 square it was trained on: a stream frame's long side becomes 256 px (one
cheap pass), and a still is also searched at finer scales, up to ``max_pixels``, for small faces.

Decoding follows MediaPipe's SSD anchors: one anchor centre per cell of a stride-16 grid (2 anchors
a cell) and of a stride-32 grid (6 a cell); each anchor regresses a box and six keypoints (eyes,
nose tip, mouth, ear tragions) in input pixels relative to its centre.
"""

import math
import os
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from realtime_fer.detectors.boxes import drop_nested, to_pixels, weighted_nms
from realtime_fer.detectors.frames import check_frame, to_rgb
from realtime_fer.detectors.network import load_network
from realtime_fer.onnx_session import DEFAULT_PROVIDER, release_arena

WEIGHTS = Path(__file__).resolve().parent / "weights" / "face_detection_back.onnx"
WEIGHTS_SHA256 = "431a1af1ff5b0b14a86fa719a949d88857791af3df8d3d9ab7e1788965d3486d"
NATIVE_SIDE = 256  # the input side the model was trained at
MULTIPLE = 32  # input sides must be multiples of the coarsest stride
ANCHOR_GRIDS = ((16, 2), (32, 6))  # (stride, anchors per cell), in the order of the outputs
SMALLEST_FACE = 16  # face side (input pixels) it still finds: faces-dlib 42/43 at 16 px, 28/43 at 12
SCALE_STEP = 3.0  # at most this factor between two scales of a still's search
# Finer scales keep only faces smaller than this at their input; larger ones are the coarser pass's
# job, where such a face is 1/SCALE_STEP of it (32 px: found surely; at 64 px, a face 22 px at the
# coarser scale scored 0.59 and was lost). The finer passes' large boxes were mostly animal faces
# (dogs.jpg: a dog's head 176 px at the input scored 0.9).
FINE_MAX_FACE = 96
# The coarsest pass sees the frame inside a mid-grey border this wide (input pixels): a face cut by
# the frame's edge is then a face beside a grey wall, which the network finds (without, it did not)
EDGE_PAD = 16
RAW_SCORE_LIMIT = 80.0  # logits are clipped so the sigmoid stays finite in float32


class BlazeFaceDetector:
    """Face boxes ``[x, y, w, h]`` in a grey, BGR or BGRA frame. Thread-safe.

    ``min_face=None`` (video): one pass with the frame's long side at 256 px, which finds faces
    down to about 1/16 of the long side (40 px in 640x480). ``min_face=20`` (stills): further passes
    at up to ``SCALE_STEP`` finer scales until faces of ``min_face`` pixels are 16 px at the input,
    unless the input would exceed ``max_pixels``, which bounds time and memory for huge images.
    Boxes from all scales are merged by weighted non-maximum suppression, and a box lying inside a
    face twice its size or more is dropped (an eye of a close-up portrait, found at a finer scale).

    ``score_threshold`` 0.6 rather than MediaPipe's 0.5: on ../shared/faces-dlib every human face
    scored at least 0.70 at a still's scales, and heads of dogs up to 0.61.
    """

    name = "blazeface"
    # FER-2013 crops are 1.18x the side of a BlazeFace box and centred 9% of their side higher
    # (medians over 1,479 training faces placed in frames; benchmarks/detector.py measures it)
    framing = (1.18, -0.09)

    def __init__(
        self,
        min_face: int | None = None,
        score_threshold: float = 0.6,
        iou_threshold: float = 0.3,
        max_pixels: int = 2_200_000,  # a 2048x1536 photo searched for 20-px faces: 2.0 MP
        weights: str | os.PathLike = WEIGHTS,
        threads: int | None = 1,
        provider: str = DEFAULT_PROVIDER,
    ):
        if min_face is not None and min_face < 1:
            raise ValueError(f"min_face must be a positive number of pixels, got {min_face}")
        if not 0.0 < score_threshold < 1.0:
            raise ValueError(f"score_threshold must be in (0, 1), got {score_threshold}")
        if max_pixels < NATIVE_SIDE * NATIVE_SIDE:
            raise ValueError(f"max_pixels must be at least {NATIVE_SIDE * NATIVE_SIDE}, got {max_pixels}")
        self.min_face = min_face
        self.score_threshold = score_threshold
        self.iou_threshold = iou_threshold
        self.max_pixels = max_pixels
        self.weights = Path(weights)
        self.session = load_network(self.weights, provider, threads)
        self.input_name = self.session.get_inputs()[0].name

    def scales(self, height: int, width: int) -> list[float]:
        """The resize factors a ``height`` x ``width`` frame is searched at, coarsest first."""
        scales = [NATIVE_SIDE / max(height, width)]
        if self.min_face is None:
            return scales
        finest = min(SMALLEST_FACE / self.min_face, math.sqrt(self.max_pixels / (height * width)))
        while finest > scales[-1] * 1.25:
            scales.append(min(finest, scales[-1] * SCALE_STEP))
        return scales

    def release_memory(self) -> None:
        """Free what the network's session keeps from the largest frames it ran (see
        :func:`onnx_session.release_arena`)."""
        release_arena(self.session)

    def detect(self, frame: np.ndarray) -> np.ndarray:
        """int32 (N, 4) boxes ``[x, y, w, h]`` inside the frame, sorted left to right."""
        boxes, _, _ = self.detect_scored(frame)
        return to_pixels(boxes, frame.shape[1], frame.shape[0])

    def detect_scored(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Float boxes (N, 4) xywh, scores (N,) and keypoints (N, 6, 2) in frame pixels, best first.

        Keypoints: right eye, left eye (of the person), nose tip, mouth, right and left ear tragion.
        """
        check_frame(frame)
        height, width = frame.shape[:2]
        found = [
            self._run(frame, scale, None, EDGE_PAD) if i == 0 else self._run(frame, scale, FINE_MAX_FACE, 0)
            for i, scale in enumerate(self.scales(height, width))
        ]
        boxes, scores, points = (np.concatenate(parts) for parts in zip(*found, strict=True))
        boxes, scores, points = weighted_nms(boxes, scores, points.reshape(-1, 12), self.iou_threshold)
        keep = drop_nested(boxes)
        return boxes[keep], scores[keep], points[keep].reshape(-1, 6, 2)

    def _run(
        self, frame: np.ndarray, scale: float, max_face: float | None, pad: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Detections above the score threshold (and below ``max_face`` input pixels) at one scale,
        the resized frame ``pad`` pixels inside a mid-grey border, in frame pixels."""
        height, width = frame.shape[:2]
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        rgb = to_rgb(cv2.resize(frame, size, interpolation=interpolation))  # shrink first: less to convert
        padded_h, padded_w = (math.ceil((side + 2 * pad) / MULTIPLE) * MULTIPLE for side in rgb.shape[:2])
        tensor = np.zeros((1, 3, padded_h, padded_w), np.float32)  # 0 is mid-grey in [-1, 1]
        inside = (0, slice(None), slice(pad, pad + rgb.shape[0]), slice(pad, pad + rgb.shape[1]))
        tensor[inside] = rgb.transpose(2, 0, 1) * (2 / 255) - 1
        raw, logits = self.session.run(None, {self.input_name: tensor})
        logits = np.clip(logits[0, :, 0], -RAW_SCORE_LIMIT, RAW_SCORE_LIMIT)
        scores = 1 / (1 + np.exp(-logits))
        keep = scores > self.score_threshold
        raw, scores = raw[0, keep], scores[keep]
        centres = _anchors(padded_h, padded_w)[keep] - pad
        boxes = np.concatenate([centres + raw[:, 0:2] - raw[:, 2:4] / 2, raw[:, 2:4]], axis=1)
        points = raw[:, 4:16].reshape(-1, 6, 2) + centres[:, None, :]
        factor = np.array([width / size[0], height / size[1]])  # input pixels to frame pixels
        valid = (boxes[:, 2] > 0) & (boxes[:, 3] > 0)
        if max_face is not None:
            valid &= boxes[:, 2:4].max(axis=1) < max_face
        return (boxes[valid] * np.tile(factor, 2)), scores[valid], (points[valid] * factor)


@lru_cache(maxsize=32)
def _anchors(height: int, width: int) -> np.ndarray:
    """(A, 2) anchor centres ``[x, y]`` in input pixels, in the order of the model's outputs."""
    grids = []
    for stride, per_cell in ANCHOR_GRIDS:
        ys, xs = np.mgrid[0 : height // stride, 0 : width // stride]
        centres = (np.stack([xs, ys], axis=-1).reshape(-1, 2) + 0.5) * stride
        grids.append(np.repeat(centres, per_cell, axis=0))
    anchors = np.concatenate(grids).astype(np.float32)
    anchors.flags.writeable = False
    return anchors
