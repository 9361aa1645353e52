"""Box arithmetic shared by the detectors and the tracker: overlap, weighted suppression, pixel boxes."""

import numpy as np


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of every box in ``a`` (N, 4) with every box in ``b`` (M, 4), xywh."""
    ax, ay, aw, ah = np.asarray(a, np.float64).reshape(-1, 1, 4).transpose(2, 0, 1)
    bx, by, bw, bh = np.asarray(b, np.float64).reshape(1, -1, 4).transpose(2, 0, 1)
    width = np.minimum(ax + aw, bx + bw) - np.maximum(ax, bx)
    height = np.minimum(ay + ah, by + bh) - np.maximum(ay, by)
    inter = np.clip(width, 0, None) * np.clip(height, 0, None)
    union = aw * ah + bw * bh - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def weighted_nms(
    boxes: np.ndarray, scores: np.ndarray, points: np.ndarray, iou_threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Merge overlapping detections as BlazeFace does: best score first, each cluster of boxes
    overlapping it by more than ``iou_threshold`` becomes one box, the score-weighted mean of the
    cluster's boxes and ``points`` (N, K), keeping the best score. Returns them best first."""
    order = np.argsort(-scores, kind="stable")
    boxes, scores, points = boxes[order], scores[order], points[order]
    overlap = iou_matrix(boxes, boxes)
    left = np.ones(len(boxes), bool)
    kept_boxes, kept_scores, kept_points = [], [], []
    for i in range(len(boxes)):
        if not left[i]:
            continue
        cluster = left & (overlap[i] > iou_threshold)
        cluster[i] = True
        weights = scores[cluster, None]
        kept_boxes.append((boxes[cluster] * weights).sum(0) / weights.sum())
        kept_points.append((points[cluster] * weights).sum(0) / weights.sum())
        kept_scores.append(scores[i])
        left &= ~cluster
    if not kept_boxes:
        return np.zeros((0, 4)), np.zeros(0), np.zeros((0, points.shape[1]))
    return np.array(kept_boxes), np.array(kept_scores), np.array(kept_points)


def drop_nested(boxes: np.ndarray, ratio: float = 2.0) -> np.ndarray:
    """Which of the xywh ``boxes`` to keep: not one lying wholly inside a box ``ratio`` times its
    side or more. A face's box is tight, so a face within a face is a part of it (an eye, say,
    found at a finer scale of a close-up portrait), never another face."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    x0, y0 = boxes[:, 0], boxes[:, 1]
    x1, y1 = x0 + boxes[:, 2], y0 + boxes[:, 3]
    side = boxes[:, 2:4].max(axis=1)
    inside = (
        (x0[:, None] >= x0[None]) & (y0[:, None] >= y0[None])
        & (x1[:, None] <= x1[None]) & (y1[:, None] <= y1[None])
        & (side[None] >= ratio * side[:, None])
    )  # inside[i, j]: box i lies within the much larger box j
    return ~inside.any(axis=1)


def clip_boxes(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    """int32 (N, 4) ``[x, y, w, h]`` of float xywh ``boxes``, rounded and clipped to the frame."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    x0 = np.clip(np.round(boxes[:, 0]), 0, width)
    y0 = np.clip(np.round(boxes[:, 1]), 0, height)
    x1 = np.clip(np.round(boxes[:, 0] + boxes[:, 2]), 0, width)
    y1 = np.clip(np.round(boxes[:, 1] + boxes[:, 3]), 0, height)
    return np.stack([x0, y0, x1 - x0, y1 - y0], axis=1).astype(np.int32)


def to_pixels(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    """:func:`clip_boxes`, with boxes left empty dropped and the rest sorted left to right."""
    pixels = clip_boxes(boxes, width, height)
    pixels = pixels[(pixels[:, 2] > 0) & (pixels[:, 3] > 0)]
    return pixels[np.argsort(pixels[:, 0], kind="stable")]
