"""The bundled demo faces and the synthetic frames built from them."""

from importlib.resources import files

import cv2
import numpy as np

from realtime_fer.demo import compose_frame, demo_faces, demo_frames, demo_scene
from realtime_fer.emotions import EMOTIONS


def test_a_handful_of_faces_covers_every_class():
    faces = demo_faces()
    assert 7 <= len(faces) <= 14
    assert {emotion for emotion, _ in faces} == set(EMOTIONS)
    for _, face in faces:
        assert face.shape == (48, 48) and face.dtype == np.uint8
        assert not face.flags.writeable  # shared by every caller


def test_only_a_few_small_pngs_are_shipped():
    assets = [item for item in (files("realtime_fer") / "assets").iterdir() if item.is_file()]
    assert all(item.name.endswith(".png") for item in assets)
    assert len(assets) <= 14
    assert sum(len(item.read_bytes()) for item in assets) < 100_000


def test_compose_frame_puts_each_face_in_its_box():
    face = demo_faces()[0][1]
    frame = compose_frame([face], [(100, 50, 96, 96)], size=(320, 240))
    assert frame.shape == (240, 320, 3)
    inside = frame[50:146, 100:196, 0].astype(int)
    # downscaling the upscaled face gives the face back, roughly
    small = inside.reshape(48, 2, 48, 2).mean(axis=(1, 3))
    assert np.abs(small - face).mean() < 6
    assert (frame[:, :100] == frame[:, :100, :1]).all()  # the canvas is grey


def test_a_face_partly_outside_the_frame_is_cut_off():
    face = demo_faces()[0][1]
    frame = compose_frame([face], [(-40, 200, 100, 100)], size=(320, 240))
    assert frame.shape == (240, 320, 3)
    whole = cv2.resize(face, (100, 100), interpolation=cv2.INTER_CUBIC)
    assert (frame[200:240, 0:60, 0] == whole[0:40, 40:100]).all()  # the part inside the frame
    assert (frame[:200] == compose_frame([], [], size=(320, 240))[:200]).all()  # nothing else drawn


def test_demo_frames_move():
    frames = demo_frames()
    first, *_, later = [next(frames) for _ in range(10)]
    assert first.shape == (480, 640, 3) and first.dtype == np.uint8
    assert np.abs(first.astype(int) - later).mean() > 1


def test_demo_scene_reports_where_its_faces_are():
    frame, boxes, emotions = demo_scene(0)
    assert len(boxes) == len(emotions) == 3
    for x, y, w, h in boxes:
        assert x >= 0 and x + w <= 640
        assert y >= 0 and y + h <= 480
    xs = [x for x, *_ in boxes]
    assert xs == sorted(xs)
