"""Forms that cost far more to parse than their size: many parts, long part headers."""

import time

from realtime_fer.web import create_app, multipart
from realtime_fer.web.services import services
from tests.web.conftest import encode, one_face_frame


def form(parts: list[tuple[bytes, bytes]], boundary: bytes = b"zz") -> bytes:
    """A multipart body of ``(headers, content)`` parts."""
    body = b"".join(b"--" + boundary + b"\r\n" + headers + b"\r\n\r\n" + content + b"\r\n"
                    for headers, content in parts)
    return body + b"--" + boundary + b"--\r\n"


IMAGE_HEADERS = b'Content-Disposition: form-data; name="image"; filename="f.jpg"'


def post(client, body: bytes):
    return client.post("/api/predict", data=body, content_type="multipart/form-data; boundary=zz")


def test_a_hundred_thousand_empty_parts_are_refused_at_once(client):
    body = form([(b"", b"")] * 100_000)
    start = time.perf_counter()
    response = post(client, body)
    elapsed = time.perf_counter() - start
    assert response.status_code in (400, 413)
    assert "parts" in response.get_json()["error"]
    assert elapsed < 1.0


def test_an_image_behind_too_many_parts_is_refused(client):
    filler = [(b'Content-Disposition: form-data; name="x"', b"1")] * multipart.MAX_PARTS
    response = post(client, form([*filler, (IMAGE_HEADERS, encode(one_face_frame()))]))
    assert response.status_code == 413


def test_an_image_beside_a_few_fields_is_read(client):
    filler = [(b'Content-Disposition: form-data; name="x"', b"1")] * 3
    response = post(client, form([*filler, (IMAGE_HEADERS, encode(one_face_frame()))]))
    assert response.status_code == 200
    assert len(response.get_json()["faces"]) == 1


def test_part_headers_over_the_bound_are_refused(client):
    headers = IMAGE_HEADERS + b"\r\nX-Pad: " + b"a" * multipart.MAX_PART_HEADER_BYTES
    response = post(client, form([(headers, encode(one_face_frame()))]))
    assert response.status_code == 413
    assert "headers" in response.get_json()["error"]


def test_reading_a_form_holds_an_analysis_slot(config):
    app = create_app({**config, "ANALYSIS_WORKERS": 1, "ANALYSIS_QUEUE": 0, "ANALYSIS_WAIT_SECONDS": 0})
    with app.app_context():
        gate = services().gate
    with gate.slot():  # the one slot is taken: even a form refused for its parts waits for it
        response = post(app.test_client(), form([(b"", b"")] * 1000))
    assert response.status_code == 503
    assert response.headers["Retry-After"]
