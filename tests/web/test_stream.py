"""/video_feed read back as MJPEG, one shared reader per source, and sources that fail."""

import time

import cv2
import numpy as np
import pytest

from realtime_fer.web import create_app, services
from tests.web.conftest import encode, one_face_frame, write_clip

BOUNDARY = b"--frame"


def parse_mjpeg(body: bytes) -> tuple[list[bytes], bool]:
    """The JPEG parts of a multipart/x-mixed-replace body, and whether it ended with ``--frame--``."""
    parts, pos = [], 0
    while pos < len(body):
        if body.startswith(BOUNDARY + b"--", pos):
            return parts, True
        assert body.startswith(BOUNDARY + b"\r\n", pos), body[pos : pos + 40]
        head_end = body.index(b"\r\n\r\n", pos)
        lines = body[pos + len(BOUNDARY) + 2 : head_end].decode().split("\r\n")
        headers = dict(line.split(": ", 1) for line in lines)
        assert headers["Content-Type"] == "image/jpeg"
        start = head_end + 4
        end = start + int(headers["Content-Length"])
        parts.append(body[start:end])
        assert body[end : end + 2] == b"\r\n"
        pos = end + 2
    return parts, False


def decode(jpeg: bytes) -> np.ndarray:
    frame = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert frame is not None
    return frame


def wait_for(predicate, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_video_feed_streams_a_file_until_it_ends(config, tmp_path):
    clip = write_clip(tmp_path / "clip.avi", frames=20, fps=25)
    client = create_app({**config, "SOURCE": str(clip)}).test_client()
    response = client.get("/video_feed")
    assert response.status_code == 200
    assert response.mimetype == "multipart/x-mixed-replace"
    assert response.mimetype_params["boundary"] == "frame"
    # reading the whole body returns only because the stream ends with the file
    parts, closed = parse_mjpeg(response.get_data())
    assert closed
    assert 2 <= len(parts) <= 20
    source = one_face_frame().astype(int)
    for jpeg in parts:
        frame = decode(jpeg)
        assert frame.shape == (480, 640, 3)
        # the box and label drawn on the face change thousands of pixels; JPEG noise alone, none
        assert (np.abs(frame - source).max(axis=2) > 40).sum() > 2000
    status = client.get("/api/stream_status").json
    assert status["state"] == "ended" and status["error"] is None
    assert status["frames"] >= len(parts)


def test_viewers_share_one_reader_that_stops_when_nobody_watches(config, monkeypatch):
    opened = []
    real_open = services.open_source

    def counting_open(spec, realtime=False):
        opened.append(spec)
        return real_open(spec, realtime)

    monkeypatch.setattr(services, "open_source", counting_open)
    client = create_app(config).test_client()  # the demo source
    first = client.get("/video_feed", buffered=False)
    second = client.get("/video_feed", buffered=False)
    assert first.status_code == second.status_code == 200
    for response in (first, second):
        chunks = response.response
        for _ in range(3):
            assert next(chunks).startswith(BOUNDARY + b"\r\n")
    status = client.get("/api/stream_status").json
    assert status["viewers"] == 2 and status["state"] == "running"
    assert opened == ["demo"]

    first.close()
    second.close()
    assert client.get("/api/stream_status").json["viewers"] == 0
    # released STREAM_IDLE_SECONDS after the last viewer left, and reopened for the next one
    assert wait_for(lambda: client.get("/api/stream_status").json["state"] == "idle")
    third = client.get("/video_feed", buffered=False)
    assert third.status_code == 200
    third.close()
    assert opened == ["demo", "demo"]


def test_the_status_has_the_latest_frame_s_faces_and_fps_while_someone_watches(client):
    assert client.get("/api/stream_status").json | {"frames": 0} == {
        "source": "demo", "state": "idle", "error": None, "viewers": 0, "frames": 0, "fps": None, "faces": []
    }
    watching = client.get("/video_feed", buffered=False)
    chunks = watching.response
    for _ in range(5):
        next(chunks)
    status = client.get("/api/stream_status").json
    assert status["state"] == "running" and 0 < status["fps"] <= 20  # the demo plays at 15 fps
    assert len(status["faces"]) == 3  # the demo's three, tracked
    for face in status["faces"]:
        assert set(face) == {"box", "emotion", "confidence", "uncertain", "scores", "track_id"}
    watching.close()
    assert wait_for(lambda: client.get("/api/stream_status").json["state"] == "idle")
    assert client.get("/api/stream_status").json["faces"] == []


@pytest.mark.parametrize(("source", "message"), [
    ("missing.mp4", "not found"),
    ("9", "cannot open camera 9"),
])
def test_unopenable_source_leaves_the_rest_of_the_app_working(config, tmp_path, source, message):
    if source.endswith(".mp4"):
        source = str(tmp_path / source)
    client = create_app({**config, "SOURCE": source}).test_client()
    response = client.get("/video_feed")
    assert response.status_code == 503
    assert message in response.json["error"]
    status = client.get("/api/stream_status").json
    assert status["state"] == "failed" and message in status["error"]
    assert client.get("/stream").status_code == 200
    assert client.get("/healthz").status_code == 200
    predicted = client.post("/api/predict", data=encode(one_face_frame()), content_type="image/jpeg")
    assert len(predicted.json["faces"]) == 1


def test_viewer_limit(config):
    client = create_app({**config, "STREAM_MAX_VIEWERS": 1}).test_client()
    first = client.get("/video_feed", buffered=False)
    assert first.status_code == 200
    second = client.get("/video_feed")
    assert second.status_code == 503
    assert "viewer" in second.json["error"]
    first.close()
