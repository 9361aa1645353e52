"""Frame sources: video files written here, the demo, and sources that cannot be opened."""

import threading
import time

import cv2
import numpy as np
import pytest

from realtime_fer import sources
from realtime_fer.sources import SourceError, open_source


def write_video(path, frames: int = 12, fps: float = 10.0, size=(160, 120)):
    """A video whose frame ``i`` is a flat grey of brightness ``20 * i``."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    assert writer.isOpened()
    for i in range(frames):
        writer.write(np.full((size[1], size[0], 3), 20 * i, np.uint8))
    writer.release()
    return path


def test_a_video_file_is_read_frame_by_frame_and_ends_cleanly(tmp_path):
    path = write_video(tmp_path / "clip.avi")
    with open_source(str(path)) as source:
        assert source.fps == pytest.approx(10.0)
        assert source.frame_count == 12
        frames = list(source)
        assert list(source) == []  # exhausted, and still no error
    assert len(frames) == 12
    assert all(frame.shape == (120, 160, 3) for frame in frames)
    brightness = [float(frame.mean()) for frame in frames]
    assert brightness == pytest.approx([20 * i for i in range(12)], abs=3)
    assert source.closed


def test_closing_stops_the_iteration(tmp_path):
    source = open_source(str(write_video(tmp_path / "clip.avi")))
    seen = 0
    for _ in source:
        seen += 1
        if seen == 3:
            source.close()
    assert seen == 3
    source.close()  # twice is fine


def test_a_missing_file_is_a_source_error(tmp_path):
    with pytest.raises(SourceError, match="nope.mp4.*not found"):
        open_source(str(tmp_path / "nope.mp4"))


def test_a_camera_that_cannot_be_opened_is_a_source_error():
    with pytest.raises(SourceError, match="cannot open camera 97"):
        open_source("97")


def test_a_file_that_is_no_video_is_a_clear_error(tmp_path):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 100)
    with pytest.raises(SourceError, match="cannot open video file .*junk.mp4"):
        open_source(str(junk))


def test_a_device_lost_mid_read_ends_the_stream():
    class VanishingCamera:
        def __init__(self):
            self.reads = 0

        def read(self):
            self.reads += 1
            if self.reads > 2:
                raise cv2.error("device unplugged")
            return True, np.zeros((4, 4, 3), np.uint8)

    assert len(list(sources._read(VanishingCamera(), threading.Lock()))) == 2


def test_the_demo_source_is_endless_and_paced_when_asked():
    with open_source("demo") as source:
        assert source.fps == sources.DEMO_FPS and source.frame_count is None
        frames = iter(source)
        assert next(frames).shape == (480, 640, 3)
        start = time.monotonic()
        for _ in range(50):
            next(frames)
    assert time.monotonic() - start < 3  # not paced
    with open_source("demo", realtime=True) as source:
        frames = iter(source)
        start = time.monotonic()
        for _ in range(4):
            next(frames)
        assert time.monotonic() - start >= 3 / sources.DEMO_FPS - 0.01
