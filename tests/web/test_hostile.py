"""Hostile uploads: decoding bombs refused before decoding, a bounded number of analyses at once
(503 with Retry-After beyond), and a property-based fuzz of the upload path."""

import io
import threading
import time

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from realtime_fer.web import create_app, images
from realtime_fer.web.gate import Gate, Overloaded
from tests.web import nasty
from tests.web.conftest import encode, one_face_frame

MAX_PIXELS = 25_000_000


def test_the_scan_bomb_is_refused_before_decoding(client):
    bomb = nasty.scan_bomb()
    assert 180_000 < len(bomb) < 200_000  # the 189 KB file
    response = client.post("/api/predict", data=bomb, content_type="image/jpeg")
    assert response.status_code == 413
    assert "more than 64 scans" in response.json["error"]


def test_a_normal_progressive_jpeg_is_accepted(client):
    jpeg = encode(one_face_frame(), ".jpg")
    progressive = nasty.encode(one_face_frame(), ".jpg", cv2.IMWRITE_JPEG_PROGRESSIVE, 1)
    assert progressive.count(b"\xff\xda") == 10 and jpeg.count(b"\xff\xda") == 1
    response = client.post("/api/predict", data=progressive, content_type="image/jpeg")
    assert response.status_code == 200 and len(response.json["faces"]) == 1


def test_scans_are_counted_up_to_the_limit():
    progressive = nasty.encode(np.zeros((64, 64, 3), np.uint8), ".jpg", cv2.IMWRITE_JPEG_PROGRESSIVE, 1)
    at_limit = images.MAX_JPEG_SCANS - 10 + 1  # 10 scans, the last one repeated
    end = progressive.rindex(b"\xff\xd9")
    last = progressive[progressive.rindex(b"\xff\xda") : end]
    assert images.decode(progressive[:end] + last * (at_limit - 1) + progressive[end:], MAX_PIXELS).shape
    with pytest.raises(images.ImageError, match="more than 64 scans") as caught:
        images.decode(progressive[:end] + last * at_limit + progressive[end:], MAX_PIXELS)
    assert caught.value.status == 413


@pytest.mark.parametrize("kind", ["webp", "png", "cut-jpeg"])
def test_tiny_files_claiming_25_megapixels_are_refused(kind):
    bomb = nasty.pixel_bombs()[kind]
    assert len(bomb) < 25_000
    with pytest.raises(images.ImageError, match="5000x5000 pixels from") as caught:
        images.check(bomb, MAX_PIXELS)
    assert caught.value.status == 413


def test_a_large_real_photo_size_is_not_mistaken_for_a_bomb():
    noise = np.random.default_rng(0).integers(0, 256, (1500, 3000, 3), dtype=np.uint8)
    jpeg = nasty.encode(noise, ".jpg", cv2.IMWRITE_JPEG_QUALITY, 20)  # 4.5 MP, far under 256 px/byte
    assert images.check(jpeg, MAX_PIXELS)[:3] == ("JPEG", 3000, 1500)


# --- bounded work ---------------------------------------------------------------------------------


def test_gate_refuses_at_once_when_full_and_after_the_wait_otherwise():
    gate = Gate(workers=1, queue=1, wait_seconds=0.05)
    with gate.slot():
        with pytest.raises(Overloaded, match="within 0.05 s"), gate.slot():  # queued, then timed out
            pass
        held = threading.Event()
        release = threading.Event()

        def wait_in_queue():
            try:
                with gate.slot():
                    pass
            except Overloaded:
                pass
            held.set()
            release.wait(5)

        gate.wait_seconds = 5
        waiter = threading.Thread(target=wait_in_queue)
        waiter.start()
        while gate._inside < 2:  # the waiter is queued behind our slot
            time.sleep(0.001)
        with pytest.raises(Overloaded, match="1 waiting"), gate.slot():  # the queue is full: no wait at all
            pass
    assert held.wait(5)  # our slot went to the waiter
    release.set()
    waiter.join(5)
    with gate.slot():  # and everything was given back
        pass


def test_a_busy_server_answers_503_with_retry_after(config):
    app = create_app({**config, "ANALYSIS_WORKERS": 1, "ANALYSIS_QUEUE": 0})
    client = app.test_client()
    with app.extensions["realtime_fer"].gate.slot():
        response = client.post("/api/predict", data=encode(one_face_frame()), content_type="image/jpeg")
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "1"
        assert "busy" in response.json["error"]
        assert client.get("/healthz").status_code == 200  # cheap requests never wait for a slot
        # a bad upload is refused from its header, without waiting either
        assert client.post("/api/predict", data=b"junk", content_type="image/jpeg").status_code == 400
    ok = client.post("/api/predict", data=encode(one_face_frame()), content_type="image/jpeg")
    assert ok.status_code == 200


# --- fuzz -----------------------------------------------------------------------------------------

SEEDS = nasty.seed_images()
EDITS = st.lists(
    st.tuples(st.sampled_from(nasty.MUTATIONS), st.floats(0, 1), st.integers(0, 255)), min_size=1, max_size=6
)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(seed=st.sampled_from(SEEDS), edits=EDITS)
def test_fuzzed_uploads_decode_or_are_refused_cleanly(seed, edits):
    data = nasty.mutate(seed, edits)
    try:
        frame = images.decode(data, MAX_PIXELS)
    except images.ImageError as error:
        assert error.status in (400, 413)
        return
    assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3
    assert frame.shape[0] * frame.shape[1] <= MAX_PIXELS


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.sampled_from(SEEDS), edits=EDITS, raw=st.booleans())
def test_fuzzed_uploads_never_get_a_5xx(client, seed, edits, raw):
    data = nasty.mutate(seed, edits)
    if raw:
        response = client.post("/api/predict", data=data, content_type="application/octet-stream")
    else:
        form = {"image": (io.BytesIO(data), "x.bin")}
        response = client.post("/api/predict", data=form, content_type="multipart/form-data")
    assert response.status_code in (200, 400, 413), response.get_data(as_text=True)
    assert response.is_json
