"""Fixtures for the web app, flaskr style: ``app`` from the factory, ``client`` to drive it.

Images come from the bundled demo faces (``demo.compose_frame``), so no data set or camera is needed.
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np
import pytest
import waitress

from realtime_fer import demo
from realtime_fer.model_folder import DEFAULT_MODEL
from realtime_fer.web import create_app
from realtime_fer.web.server import create_server

MODEL = DEFAULT_MODEL  # the shipped default model
FACE_BOX = (220, 140, 200, 200)  # where one_face_frame puts its face: x, y, w, h


def one_face_frame() -> np.ndarray:
    """A 640x480 BGR frame with one upscaled FER-2013 face at :data:`FACE_BOX`."""
    _, face = demo.demo_faces()[6]  # a "happy" face the Haar cascade finds
    return demo.compose_frame([face], [FACE_BOX])


def encode(frame: np.ndarray, ext: str = ".jpg") -> bytes:
    ok, data = cv2.imencode(ext, frame)
    assert ok
    return data.tobytes()


def write_clip(path: Path, frames: int, fps: float = 25.0) -> Path:
    """A short MJPEG AVI of the one-face frame (OpenCV writes it without any codec library)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, demo.FRAME_SIZE)
    assert writer.isOpened()
    for _ in range(frames):
        writer.write(one_face_frame())
    writer.release()
    return path


@contextmanager
def serving(app) -> Iterator[str]:
    """The app under the real waitress server on a free port of 127.0.0.1; yields its URL."""
    with running(app) as server:
        yield f"http://127.0.0.1:{server.effective_port}"


@contextmanager
def running(app):
    """The app under the real waitress server on a free port of 127.0.0.1; yields the server."""
    server = create_server(app, "127.0.0.1", 0)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        # waitress has no stop(): close every socket from its loop's own thread (closing them
        # from here races with its select()), and the loop ends when none is left
        server.trigger.pull_trigger(lambda: [d.close() for d in list(server._map.values())])
        thread.join(timeout=5)
        server.task_dispatcher.shutdown(timeout=5)


@pytest.fixture
def config() -> dict:
    """The test settings; tests needing others build their app with ``create_app({**config, ...})``."""
    return {
        "TESTING": True,
        "MODEL": MODEL,
        "SOURCE": "demo",
        "STREAM_IDLE_SECONDS": 0.2,
        "STREAM_TIMEOUT_SECONDS": 5.0,
    }


@pytest.fixture
def app(config):
    return create_app(config)


@pytest.fixture
def client(app):
    return app.test_client()


class FakeServer:
    def __init__(self, app, host, port, threads, **options):
        self.app, self.host, self.port, self.threads, self.options = app, host, port, threads, options
        self.effective_port = port
        self.ran = self.closed = False

    def run(self):
        self.ran = True

    def close(self):
        self.closed = True


@pytest.fixture
def servers(monkeypatch) -> list[FakeServer]:
    """Servers the command created, recorded instead of bound."""
    created = []

    def fake(app, host, port, threads, **options):
        created.append(FakeServer(app, host, port, threads, **options))
        return created[-1]

    monkeypatch.setattr(waitress, "create_server", fake)
    return created
