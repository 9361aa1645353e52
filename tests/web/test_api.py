"""/api/predict with good and bad uploads, the JSON errors, /healthz and the page routes."""

import io
import re
import struct

import numpy as np
import pytest
from werkzeug import formparser

from realtime_fer import demo
from realtime_fer.emotions import EMOTIONS, FERPLUS_CLASSES
from realtime_fer.model_folder import ModelFolder
from realtime_fer.tta import TTA_NAMES
from realtime_fer.web import create_app
from tests.web.conftest import FACE_BOX, MODEL, encode, one_face_frame
from tests.web.nasty import grey_png


def iou(a, b) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    w = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    h = max(0, min(ay + ah, by + bh) - max(ay, by))
    return w * h / (aw * ah + bw * bh - w * h)


def post_raw(client, data: bytes, content_type: str = "image/jpeg"):
    return client.post("/api/predict", data=data, content_type=content_type)


def assert_error(response, status: int, *words: str) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.is_json
    message = response.json["error"].lower()
    for word in words:
        assert word in message, message


# --- good input ---------------------------------------------------------------------------------


@pytest.mark.parametrize("ext", [".jpg", ".png", ".webp"])
def test_one_face_gives_one_result_with_a_score_per_class(client, ext):
    response = post_raw(client, encode(one_face_frame(), ext), "application/octet-stream")
    assert response.status_code == 200
    body = response.json
    assert body["image"] == {"width": 640, "height": 480}
    assert body["model"] == MODEL
    assert set(body["timings_ms"]) == {"queue", "decode", "detect", "classify", "total"}
    assert body["timings_ms"]["total"] >= body["timings_ms"]["detect"] > 0
    [face] = body["faces"]
    assert iou(face["box"], FACE_BOX) > 0.6
    assert list(face["scores"]) == list(FERPLUS_CLASSES)  # the default model's eight
    assert sum(face["scores"].values()) == pytest.approx(1.0, abs=1e-3)
    assert face["emotion"] == max(face["scores"], key=face["scores"].get)
    assert face["confidence"] == face["scores"][face["emotion"]]


def test_multipart_image_field(client):
    data = {"image": (io.BytesIO(encode(one_face_frame())), "face.jpg", "image/jpeg")}
    response = client.post("/api/predict", data=data, content_type="multipart/form-data")
    assert response.status_code == 200
    assert len(response.json["faces"]) == 1


def test_large_multipart_upload_is_never_spooled_to_disk(client, monkeypatch):
    """Werkzeug spools file parts over 500 KB to a temporary file unless the app says otherwise."""

    def no_disk(*args, **kwargs):
        raise AssertionError("an upload was about to be written to a temporary file")

    monkeypatch.setattr(formparser, "SpooledTemporaryFile", no_disk)
    noise = np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    png = encode(noise, ".png")
    assert len(png) > 600_000
    response = client.post(
        "/api/predict", data={"image": (io.BytesIO(png), "noise.png")}, content_type="multipart/form-data"
    )
    assert response.status_code == 200


def test_no_face_gives_an_empty_list(client):
    response = post_raw(client, encode(demo.background()))
    assert response.status_code == 200
    assert response.json["faces"] == []


def test_largest_allowed_image_is_accepted(config):
    client = create_app({**config, "MAX_IMAGE_PIXELS": 640 * 480}).test_client()
    assert post_raw(client, encode(one_face_frame())).status_code == 200
    wider = np.zeros((480, 641, 3), np.uint8)
    assert_error(post_raw(client, encode(wider)), 413, "641x480")


# --- bad input ----------------------------------------------------------------------------------


def test_not_an_image(client):
    assert_error(post_raw(client, b"hello, this is not a picture"), 400, "not an image")


def test_gif_is_not_accepted(client):
    assert_error(post_raw(client, b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"), 400, "not an image")


def test_truncated_jpeg(client):
    jpeg = encode(one_face_frame())
    for cut in (len(jpeg) - 2, len(jpeg) * 2 // 3, 200):
        assert_error(post_raw(client, jpeg[:cut]), 400, "truncated jpeg")


def test_truncated_png(client):
    png = encode(one_face_frame(), ".png")
    for cut in (len(png) - 12, len(png) // 2):
        assert_error(post_raw(client, png[:cut], "image/png"), 400, "truncated png")


def test_truncated_webp(client):
    webp = encode(one_face_frame(), ".webp")
    assert_error(post_raw(client, webp[: len(webp) // 2], "image/webp"), 400, "truncated webp")


def test_bytes_after_the_end_of_a_jpeg_are_tolerated(client):
    assert post_raw(client, encode(one_face_frame()) + b"\0" * 16).status_code == 200


def test_empty_body(client):
    assert_error(post_raw(client, b""), 400, "empty")


def test_multipart_without_image_field(client):
    data = {"photo": (io.BytesIO(encode(one_face_frame())), "face.jpg")}
    response = client.post("/api/predict", data=data, content_type="multipart/form-data")
    assert_error(response, 400, "'image'")


def test_malformed_multipart(client):
    body = b"--zz\r\nnot a part header\r\n\r\n\xff\xd8\xff\r\n--zz--\r\n"
    response = client.post("/api/predict", data=body, content_type="multipart/form-data; boundary=zz")
    assert_error(response, 400, "'image'")


@pytest.mark.parametrize("content_type", ["text/plain", "application/json", "image/gif", None])
def test_wrong_content_type(client, content_type):
    response = client.post("/api/predict", data=encode(one_face_frame()), content_type=content_type)
    assert_error(response, 415, "content type")


def test_over_the_upload_cap_is_413_json(config):
    client = create_app({**config, "MAX_CONTENT_LENGTH": 100_000}).test_client()
    assert_error(post_raw(client, b"\xff\xd8\xff" + bytes(100_000)), 413, "too large", "100,000 bytes")
    data = {"image": (io.BytesIO(bytes(150_000)), "big.jpg")}
    response = client.post("/api/predict", data=data, content_type="multipart/form-data")
    assert_error(response, 413, "too large")


def test_huge_dimensions_in_a_tiny_png(client):
    png = grey_png(100_000, 100_000, b"\0" * 64)
    assert len(png) < 200
    assert_error(post_raw(client, png, "image/png"), 413, "100000x100000")


def test_huge_dimensions_in_a_tiny_jpeg(client):
    jpeg = bytearray(encode(np.zeros((8, 8, 3), np.uint8)))
    sof = jpeg.index(b"\xff\xc0")
    jpeg[sof + 5 : sof + 9] = struct.pack(">HH", 60_000, 60_000)  # height, width
    assert_error(post_raw(client, bytes(jpeg)), 413, "60000x60000")


def test_decompression_bomb(client):
    """36 megapixels of zeros deflate to a few tens of KB: refused before anything is decoded."""
    side = 6000
    png = grey_png(side, side, bytes((side + 1) * side))
    assert len(png) < 100_000
    assert_error(post_raw(client, png, "image/png"), 413, "6000x6000", "limit")


@pytest.mark.parametrize(("width", "height"), [(3000, 4), (20_000, 1), (2, 65_000)])
def test_absurd_aspect_ratio(client, width, height):
    png = encode(np.full((height, width, 3), 128, np.uint8), ".png")
    assert_error(post_raw(client, png, "image/png"), 400, f"{width}x{height}", "implausible")


def test_zero_sized_header(client):
    assert_error(post_raw(client, grey_png(0, 10, b"\0"), "image/png"), 400, "0x10")


# --- errors as JSON, pages, health --------------------------------------------------------------


def test_api_404_and_405_are_json(client):
    assert_error(client.get("/api/nothing-here"), 404, "not found")
    response = client.get("/api/predict")
    assert_error(response, 405, "method not allowed")
    assert "POST" in response.headers["Allow"]


def test_api_500_is_json_without_details(config):
    app = create_app({**config, "TESTING": False})

    def broken():
        raise RuntimeError("secret internals")

    app.add_url_rule("/api/broken", view_func=broken)
    response = app.test_client().get("/api/broken")
    assert_error(response, 500, "internal server error")
    assert "secret" not in response.json["error"]


def test_html_404_stays_html(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response.mimetype == "text/html"


def test_healthz_names_the_model_and_how_it_serves(client, config):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json["status"] == "ok" and response.json["model"] == MODEL
    assert response.json["serving"].endswith(TTA_NAMES[ModelFolder.open(MODEL).serving_tta])  # model.json's
    plain = create_app({**config, "TTA": "none"}).test_client().get("/healthz").json
    assert plain["serving"] in ("fp32", "int8")


def test_live_video_serves_at_most_flip_views_unless_asked(config):
    client = create_app({**config, "MODEL": "accurate"}).test_client()  # served with ten views
    health = client.get("/healthz").json
    assert health["serving"].endswith("+ ten-view TTA")  # uploads: the model's own view set
    assert health["video_serving"].endswith("+ flip TTA")  # the stream and the webcam page
    shared = client.application.extensions["realtime_fer"]
    assert shared.video_pipeline.recognizer.tta == "flip" and shared.pipeline.recognizer.tta == "ten"
    assert shared.video_pipeline.recognizer.session is shared.pipeline.recognizer.session  # one model
    asked = create_app({**config, "TTA": "ten"}).test_client().get("/healthz").json
    assert asked["video_serving"] == asked["serving"]  # an explicit --tta holds everywhere
    paper = create_app({**config, "MODEL": "paper"}).test_client().get("/healthz").json
    # never more views than the model's; the precision is whichever graph is faster here
    assert paper["video_serving"] == paper["serving"] == paper["serving_choice"]["precision"]


def test_an_upload_is_searched_for_small_faces_and_a_camera_frame_is_not(client):
    _, face = demo.demo_faces()[6]
    small = encode(demo.compose_frame([face], [(300, 200, 30, 30)]), ".png")  # a 30-px face
    assert len(post_raw(client, small, "image/png").json["faces"]) == 1
    camera = client.post("/api/predict?video=1", data=small, content_type="image/png")
    assert camera.status_code == 200 and camera.json["faces"] == []  # one pass: faces from ~40 px


def test_healthz_and_the_pages_name_the_face_detector(client, config):
    assert client.get("/healthz").json["detector"] == "centerface"  # the stills detector of auto
    assert "centerface face detection" in client.get("/").get_data(as_text=True)
    haar = create_app({**config, "DETECTOR": "haar-paper"}).test_client()
    assert haar.get("/healthz").json["detector"] == "haar-paper"


def test_debug_mode_is_refused(config):
    with pytest.raises(ValueError, match="DEBUG"):
        create_app({**config, "DEBUG": True})


def test_webcam_page_uses_only_local_assets(client):
    response = client.get("/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<video" in html and 'id="overlay"' in html and 'type="file"' in html
    assert all(f'data-emotion="{name}"' in html for name in EMOTIONS)
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    links = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert links
    for link in links:
        assert link.startswith(("/", "data:")), link
        if link.startswith("/static/"):
            assert client.get(link).status_code == 200, link


def test_stream_page_hides_url_credentials(config):
    client = create_app({**config, "SOURCE": "rtsp://admin:hunter2@192.0.2.1/live"}).test_client()
    page = client.get("/stream").get_data(as_text=True)
    assert "rtsp://192.0.2.1/live" in page and "hunter2" not in page
    status = client.get("/api/stream_status").json
    assert status["source"] == "rtsp://192.0.2.1/live"
    assert status["state"] == "idle"  # nobody watches, so the source is not even opened


def test_a_file_source_is_shown_by_its_name_only(config, tmp_path):
    client = create_app({**config, "SOURCE": str(tmp_path / "secret-dir" / "clip.mp4")}).test_client()
    assert "secret-dir" not in client.get("/stream").get_data(as_text=True)
    assert client.get("/api/stream_status").json["source"] == "clip.mp4"
    error = client.get("/video_feed").json["error"]
    assert "clip.mp4" in error and "secret-dir" not in error


def test_a_filename_that_is_not_utf8_still_delivers_the_image(client):
    # Werkzeug's own parser drops a part whose headers are not UTF-8, and the image looked absent
    head = b'--zz\r\nContent-Disposition: form-data; name="image"; filename="caf\xe9.jpg"\r\n\r\n'
    body = head + encode(one_face_frame()) + b"\r\n--zz--\r\n"
    response = client.post("/api/predict", data=body, content_type="multipart/form-data; boundary=zz")
    assert response.status_code == 200
    assert len(response.json["faces"]) == 1


def test_multipart_without_a_boundary(client):
    response = client.post("/api/predict", data=b"whatever", content_type="multipart/form-data")
    assert_error(response, 400, "'image'")
