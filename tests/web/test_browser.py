"""End to end in headless Chromium: a fake webcam playing demo faces, the upload, the MJPEG page.

Uses Debian's ``chromium`` through PyPI playwright (no ``playwright install``). Set
``REALTIME_FER_SCREENSHOTS=1`` to also refresh docs/screenshot-webcam.png and docs/screenshot-stream.png.
"""

import json
import os
import shutil
import time
import urllib.request
from contextlib import ExitStack
from pathlib import Path

import cv2
import numpy as np
import pytest

from realtime_fer import demo
from realtime_fer.emotions import FERPLUS_CLASSES
from realtime_fer.web import create_app
from tests.web.conftest import MODEL, encode, one_face_frame, serving, write_clip

CHROMIUM = shutil.which("chromium")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)"),
]

DOCS = Path(__file__).resolve().parents[2] / "docs"
CHROMIUM_ARGS = [
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 20_000


def write_y4m(path: Path, frames: list[np.ndarray], fps: int = 15) -> Path:
    """A YUV4MPEG2 clip (4:2:0 planes), the format Chromium's fake camera plays in a loop."""
    height, width = frames[0].shape[:2]
    with open(path, "wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for frame in frames:
            out.write(b"FRAME\n")
            out.write(cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420).tobytes())  # Y, then U, then V
    return path


@pytest.fixture(scope="module")
def start_server():
    """Start the app (with config overrides) under waitress; every server stops with the module."""
    with ExitStack() as servers:

        def start(**config) -> str:
            config = {"MODEL": MODEL, "SOURCE": "demo", "STREAM_IDLE_SECONDS": 0.5, **config}
            return servers.enter_context(serving(create_app(config)))

        yield start


@pytest.fixture(scope="module")
def server(start_server) -> str:
    return start_server()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from playwright.sync_api import sync_playwright

    clip = write_y4m(
        tmp_path_factory.mktemp("camera") / "clip.y4m", [demo.demo_scene(i)[0] for i in range(30)]
    )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[*CHROMIUM_ARGS, f"--use-file-for-fake-video-capture={clip}"],
        )
        yield browser
        browser.close()


def stream_status(url: str) -> dict:
    with urllib.request.urlopen(url + "/api/stream_status", timeout=5) as response:
        return json.load(response)


def screenshot(page, tmp_path: Path, name: str) -> None:
    page.screenshot(path=tmp_path / f"{name}.png", full_page=True)
    if os.environ.get("REALTIME_FER_SCREENSHOTS") == "1":
        shutil.copy(tmp_path / f"{name}.png", DOCS / f"screenshot-{name}.png")


@pytest.fixture
def page(browser):
    """A fresh page; ``page.problems`` collects script errors and Content-Security-Policy violations."""
    page = browser.new_page(viewport={"width": 1280, "height": 860})
    page.set_default_timeout(TIMEOUT_MS)
    page.problems = []
    page.on("pageerror", lambda error: page.problems.append(str(error)))
    page.on(
        "console",
        lambda message: "Content Security Policy" in message.text and page.problems.append(message.text),
    )
    yield page
    page.close()


def test_webcam_page_labels_the_fake_camera_and_an_upload(server, page, tmp_path):
    page.goto(server + "/")
    # the JS exposes its results: one <li data-emotion> per face, and a frame counter on <main>
    page.wait_for_function("() => document.querySelectorAll('#faces li[data-emotion]').length >= 2")
    page.wait_for_function("() => Number(document.getElementById('app').dataset.frames) >= 5")
    assert page.get_attribute("#app", "data-state") == "running"
    emotions = page.eval_on_selector_all("#faces li", "items => items.map(li => li.dataset.emotion)")
    assert set(emotions) <= set(FERPLUS_CLASSES)  # the default model's classes
    assert page.get_attribute("#top-emotion", "data-emotion") in FERPLUS_CLASSES
    widths = page.eval_on_selector_all("#live-bars .fill", "bars => bars.map(b => parseFloat(b.style.width))")
    assert len(widths) == 8 and sum(widths) == pytest.approx(100, abs=1)
    assert float(page.text_content("#fps")) > 0
    # boxes were drawn on the overlay: it has opaque pixels
    painted = page.evaluate(
        """() => {
            const c = document.getElementById('overlay');
            const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let n = 0;
            for (let i = 3; i < data.length; i += 4) if (data[i] > 0) n++;
            return n;
        }"""
    )
    assert painted > 1000

    image = tmp_path / "face.png"
    image.write_bytes(encode(one_face_frame(), ".png"))
    page.set_input_files("#file", str(image))
    page.wait_for_selector("#upload-faces li[data-emotion]")
    assert page.locator("#upload-faces li").count() == 1
    assert page.is_hidden("#upload-error")
    screenshot(page, tmp_path, "webcam")
    assert page.problems == []


def test_an_eight_class_model_gets_eight_bars_and_grey_uncertain_faces(
    start_server, page, tmp_path, eight_class_model
):
    page.goto(start_server(MODEL=str(eight_class_model), UNCERTAIN_BELOW=0.99) + "/")
    page.wait_for_selector("#faces li[data-uncertain='true']")  # the camera's faces
    assert page.text_content("#top-emotion") == "uncertain"
    image = tmp_path / "face.png"
    image.write_bytes(encode(one_face_frame(), ".png"))
    page.set_input_files("#file", str(image))
    item = page.wait_for_selector("#upload-faces li[data-emotion]")
    assert item.get_attribute("data-uncertain") == "true" and item.text_content() == "Face 1: uncertain"
    assert item.eval_on_selector(".swatch", "s => s.style.background") == "rgb(128, 128, 128)"
    names = page.eval_on_selector_all("#upload-bars li", "rows => rows.map(r => r.dataset.emotion)")
    assert names == list(FERPLUS_CLASSES)  # the probabilities stay, for all eight classes
    widths = page.eval_on_selector_all(
        "#upload-bars .fill", "bars => bars.map(b => parseFloat(b.style.width))"
    )
    assert sum(widths) == pytest.approx(100, abs=1)
    assert page.problems == []


def test_denied_camera_gets_a_friendly_message_and_uploads_still_work(server, page, tmp_path):
    page.add_init_script(
        "navigator.mediaDevices.getUserMedia = () =>"
        " Promise.reject(new DOMException('Permission denied', 'NotAllowedError'));"
    )
    page.goto(server + "/")
    page.wait_for_selector("#app[data-state='denied']")
    assert "denied" in page.text_content("#camera-notice")
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(encode(one_face_frame())[:5000])
    page.set_input_files("#file", str(broken))
    page.wait_for_selector("#upload-error:not([hidden])")
    assert "truncated JPEG" in page.text_content("#upload-error")
    assert page.problems == []


def test_stream_page_shows_the_annotated_server_stream(server, page, tmp_path):
    page.goto(server + "/stream")
    page.wait_for_selector("#app[data-state='live']")
    page.wait_for_function("() => document.getElementById('feed').naturalWidth === 640")
    assert page.is_hidden("#stream-notice")
    page.wait_for_timeout(1000)  # let the demo's faces settle into their smoothed labels
    screenshot(page, tmp_path, "stream")
    assert page.problems == []
    assert stream_status(server)["viewers"] == 1
    # leaving the page drops the connection; the server notices and releases the source
    page.goto("about:blank")
    deadline = time.monotonic() + 10
    while stream_status(server)["state"] != "idle" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert stream_status(server) | {"frames": 0} == {
        "state": "idle", "viewers": 0, "error": None, "source": "demo", "frames": 0, "fps": None, "faces": []
    }


@pytest.mark.parametrize("ending", ["ended", "failed"])
def test_stream_page_says_when_the_source_ends_or_fails(start_server, page, tmp_path, ending):
    if ending == "ended":
        source, message = write_clip(tmp_path / "short.avi", frames=10, fps=20), "has ended"
    else:
        source, message = tmp_path / "missing.avi", "not found"
    page.goto(start_server(SOURCE=str(source)) + "/stream")
    page.wait_for_selector(f"#app[data-state='{ending}']")
    assert message in page.text_content("#stream-notice")
    assert page.is_visible("#reconnect")
    assert page.is_hidden("#feed") == (ending == "failed")  # no broken-image icon, only the notice
    assert page.problems == []
