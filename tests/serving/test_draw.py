"""Boxes and labels drawn on frames."""

import numpy as np

from realtime_fer.demo import background
from realtime_fer.draw import EMOTION_COLORS, annotate, face_label
from realtime_fer.emotions import EMOTIONS
from realtime_fer.pipeline import Face


def face(box, emotion="happy", confidence=0.8) -> Face:
    scores = {name: (confidence if name == emotion else (1 - confidence) / 6) for name in EMOTIONS}
    return Face(box, emotion, confidence, scores)


def changed(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    return (before != after).any(axis=2)


def test_box_in_the_emotion_colour_and_label_above_it():
    frame = background()
    out = annotate(frame, [face((200, 150, 120, 120), "sad")])
    assert (frame == background()).all()  # the input is left alone
    assert tuple(out[210, 200]) == EMOTION_COLORS["sad"]  # left edge of the box
    diff = changed(frame, out)
    assert diff[120:150, 200:300].mean() > 0.5  # a filled label just above the box
    assert not diff[:110].any()  # and nothing higher up
    assert not diff[160:260, 210:310].any()  # the face itself stays visible


def test_label_goes_inside_when_the_face_touches_the_top():
    frame = background()
    out = annotate(frame, [face((200, 0, 120, 120))])
    assert changed(frame, out)[2:25, 205:300].mean() > 0.5


def test_label_stays_inside_the_frame_at_the_right_edge():
    frame = background((320, 240))
    out = annotate(frame, [face((280, 100, 40, 40), confidence=0.99)])
    diff = changed(frame, out)
    assert diff[80:100, 230:280].mean() > 0.5  # shifted left rather than cut off


def test_bars_go_beside_the_face_and_switch_sides_at_the_edge():
    frame = background()
    right = changed(frame, annotate(frame, [face((100, 150, 120, 120))], bars=True))
    plain = changed(frame, annotate(frame, [face((100, 150, 120, 120))]))
    assert right[150:250, 230:320].any() and not plain[150:250, 230:320].any()
    left = changed(frame, annotate(frame, [face((500, 150, 120, 120))], bars=True))
    assert left[150:250, 400:495].any()


def test_grey_frames_come_back_in_colour():
    out = annotate(background()[..., 0], [face((50, 50, 80, 80))])
    assert out.shape == (480, 640, 3)


def test_labels_on_large_images_grow_with_the_image():
    small, large = background(), background((4000, 3000))
    box = (300, 300, 150, 150)
    label_rows = [changed(f, annotate(f, [face(box)]))[:300, 300:450].any(1).sum() for f in (small, large)]
    assert label_rows[0] >= 15
    # a 4000-px photo shown 1280 px wide shrinks 3x: its label must be about 3x taller to read the same
    assert label_rows[1] >= 2.5 * label_rows[0] and label_rows[1] >= 50


def test_numbered_labels_start_with_the_face_s_place():
    faces = [face((60, 150, 120, 120)), face((360, 150, 120, 120), "sad")]
    assert [face_label(f, n) for n, f in enumerate(faces, 1)] == ["#1 happy 80%", "#2 sad 80%"]
    frame = background()
    plain = changed(frame, annotate(frame, faces))[125:145].any(0)
    numbered = changed(frame, annotate(frame, faces, numbered=True))[125:145].any(0)
    assert numbered.sum() > plain.sum() + 40  # each label is wider by its "#N "
