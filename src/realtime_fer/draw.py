"""Drawing results on frames: a box per face, its label and confidence above it, as in the paper; a face
the recognizer is unsure of gets a grey box labelled "uncertain" instead."""

from collections.abc import Iterable

import cv2
import numpy as np

from realtime_fer.face import Face

Color = tuple[int, int, int]  # BGR

# chosen to stay distinguishable from each other and against skin tones
EMOTION_COLORS: dict[str, Color] = {
    "angry": (40, 40, 220),
    "disgust": (40, 150, 40),
    "fear": (170, 60, 170),
    "happy": (0, 210, 255),
    "neutral": (190, 190, 190),
    "sad": (200, 120, 20),
    "surprise": (0, 140, 255),
    "contempt": (170, 170, 0),
}
UNCERTAIN_COLOR: Color = (128, 128, 128)  # darker than neutral's grey, and written in white
UNCERTAIN_LABEL = "uncertain"
_FONT = cv2.FONT_HERSHEY_SIMPLEX
_BAR_LENGTH = 60
_SHOWN_WIDTH = 1280  # images larger than this are shown scaled down: draw larger to stay readable


def annotate(
    frame: np.ndarray, faces: Iterable[Face], bars: bool = False, numbered: bool = False
) -> np.ndarray:
    """A BGR copy of ``frame`` with every face drawn; ``bars`` adds each face's probabilities,
    ``numbered`` starts each label with the face's place in ``faces`` (as the web page's face list)."""
    out = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR) if frame.ndim == 2 else frame.copy()
    for number, face in enumerate(faces, 1):
        draw_face(out, face, bars, number if numbered else None)
    return out


def draw_face(frame: np.ndarray, face: Face, bars: bool = False, number: int | None = None) -> None:
    """Draw one face on a BGR frame in place; on frames over 1280 px, everything grows with the frame."""
    x, y, w, h = face.box
    color = face_color(face)
    zoom = max(1.0, max(frame.shape[:2]) / _SHOWN_WIDTH)
    scale = float(np.clip(w / 220, 0.45, 0.9)) * zoom
    thickness = max(1, round(scale * 2.2))
    cv2.rectangle(frame, (x, y), (x + w, y + h), color, max(2, round(2 * zoom)))
    _label(frame, face_label(face, number), (x, y), color, scale, thickness)
    if bars:
        _bars(frame, face, (x, y, w, h), zoom)


def face_color(face: Face) -> Color:
    """The colour of a face's box and label: its emotion's, or grey when it is uncertain."""
    return UNCERTAIN_COLOR if face.uncertain else EMOTION_COLORS.get(face.emotion, (255, 255, 255))


def face_label(face: Face, number: int | None = None) -> str:
    """``"happy 87%"``, or ``"uncertain"``; with a ``number``, ``"#2 happy 87%"``."""
    label = UNCERTAIN_LABEL if face.uncertain else f"{face.emotion} {face.confidence:.0%}"
    return label if number is None else f"#{number} {label}"


def _label(
    frame: np.ndarray, text: str, corner: tuple[int, int], color: Color, scale: float, thickness: int
) -> None:
    """Text on a filled box just above ``corner``, or just inside the face when there is no room."""
    (tw, th), baseline = cv2.getTextSize(text, _FONT, scale, thickness)
    pad = round(4 * max(1.0, scale))
    box_w, box_h = tw + 2 * pad, th + baseline + 2 * pad
    x = int(np.clip(corner[0] - 1, 0, max(0, frame.shape[1] - box_w)))
    top = corner[1] - box_h if corner[1] >= box_h else corner[1]
    cv2.rectangle(frame, (x, top), (x + box_w, top + box_h), color, cv2.FILLED)
    cv2.putText(
        frame, text, (x + pad, top + pad + th), _FONT, scale, _ink(color), thickness, cv2.LINE_AA
    )


def _bars(frame: np.ndarray, face: Face, box: tuple[int, int, int, int], zoom: float) -> None:
    """A small horizontal bar per class beside the face (right if it fits, else left), ``zoom`` times
    larger, in the order of its scores (the model's)."""
    x, y, w, _ = box
    row, pad, name_w, bar_length = (round(size * zoom) for size in (14, 4, 30, _BAR_LENGTH))
    panel_w, panel_h = name_w + bar_length + 2 * pad, row * len(face.scores) + 2 * pad
    left = x + w + 4 if x + w + 4 + panel_w <= frame.shape[1] else x - 4 - panel_w
    left = int(np.clip(left, 0, max(0, frame.shape[1] - panel_w)))
    top = int(np.clip(y, 0, max(0, frame.shape[0] - panel_h)))
    # darken rather than cover, so the scene stays visible behind the panel
    region = frame[top : top + panel_h, left : left + panel_w]
    region[:] = (region * 0.35).astype(frame.dtype)
    for i, (name, probability) in enumerate(face.scores.items()):
        y0 = top + pad + i * row
        inset = round(3 * zoom)
        text_at = (left + pad, y0 + row - inset)
        cv2.putText(frame, name[:3], text_at, _FONT, 0.38 * zoom, (235, 235, 235), round(zoom), cv2.LINE_AA)
        length = round(bar_length * float(probability))
        bar_x = left + pad + name_w
        bar = ((bar_x, y0 + inset), (bar_x + length, y0 + row - inset))
        cv2.rectangle(frame, *bar, EMOTION_COLORS[name], cv2.FILLED)


def _ink(color: Color) -> Color:
    """Black text on light colours, white on dark ones."""
    b, g, r = color
    return (0, 0, 0) if 0.114 * b + 0.587 * g + 0.299 * r > 140 else (255, 255, 255)
