"""End to end in headless Chromium: a fake webcam playing demo faces, the upload, the MJPEG page.

Uses Debian's ``chromium`` through PyPI playwright (no ``playwright install``). Set
``REALTIME_FER_SCREENSHOTS=1`` to also refresh docs/screenshot-webcam.png and docs/screenshot-stream.png.
"""

import http.server
import importlib.util
import json
import os
import re
import shutil
import threading
import time
import urllib.request
from contextlib import ExitStack
from functools import partial
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


# Which face the live chart shows, as the page tells it: the caption, and the list item it names.
CHARTED = """() => {
    const caption = document.getElementById('live-caption').textContent;
    const item = document.querySelector(`#faces li:nth-child(${caption.match(/^Face (\\d+)/)[1]})`);
    return {
        caption,
        box: item.dataset.box.split(',').map(Number),
        emotion: item.dataset.emotion,
        pressed: item.querySelector('button').getAttribute('aria-pressed'),
        top: document.querySelector('#live-bars li.top').dataset.emotion,
    };
}"""


def charted(page) -> dict:
    return page.evaluate(CHARTED)


def chart_shows(page, box: list[int]) -> dict:
    """What the chart shows once it shows the face at ``box`` (or after 5 s)."""
    deadline = time.monotonic() + 5
    while not same_place((now := charted(page))["box"], box) and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    return now


def caption_ends(page, text: str) -> None:
    page.wait_for_function(
        "(text) => document.getElementById('live-caption').textContent.endsWith(text)", arg=text
    )


def same_place(a: list[int], b: list[int]) -> bool:
    """Whether two boxes are one face a few frames apart: each one's centre lies in the other."""
    def holds(box, other):
        cx, cy = other[0] + other[2] / 2, other[1] + other[3] / 2
        return box[0] <= cx <= box[0] + box[2] and box[1] <= cy <= box[1] + box[3]
    return holds(a, b) and holds(b, a)


def click_box(page, number: int, shown_on: str, mirrored: bool) -> list[int]:
    """Click the middle of face ``number``'s box (from the list) where the element ``shown_on`` (the
    <video> or the stream's <img>) shows it; returns the box."""
    box, (left, top, width), pixels = page.evaluate(
        """([number, id]) => {
            const element = document.getElementById(id);
            const rect = element.getBoundingClientRect();
            return [
                document.querySelector(`#faces li:nth-child(${number})`).dataset.box.split(',').map(Number),
                [rect.left, rect.top, rect.width],
                element.videoWidth || element.naturalWidth,
            ];
        }""",
        [number, shown_on],
    )
    x, y, w, h = box
    scale = width / pixels
    centre_x = (pixels - x - w / 2 if mirrored else x + w / 2) * scale
    page.mouse.click(left + centre_x, top + (y + h / 2) * scale)
    return box


def numbered_alike(page, list_id: str, canvas_id: str) -> None:
    """The labels drawn on the canvas are the list's, in its order, each with the list's number."""
    items, labels = page.evaluate(
        """([list, canvas]) => [
            [...document.querySelectorAll(`#${list} li`)].map(li => [li.dataset.number, li.textContent]),
            JSON.parse(document.getElementById(canvas).dataset.labels || '[]'),
        ]""",
        [list_id, canvas_id],
    )
    assert len(items) >= 2
    assert [number for number, _ in items] == [str(n) for n in range(1, len(items) + 1)]
    expected = []
    for number, text in items:
        prefix = f"Face {number}: "
        assert text.startswith(prefix), text
        expected.append(f"#{number} {text[len(prefix):]}")
    assert labels == expected


def test_boxes_carry_the_numbers_of_the_face_list_and_upload_labels_are_readable(server, page, tmp_path):
    page.goto(server + "/")
    page.wait_for_function("() => document.querySelectorAll('#faces li[data-emotion]').length >= 2")
    numbered_alike(page, "faces", "overlay")
    image = tmp_path / "three.jpg"
    image.write_bytes(encode(demo.demo_scene(0, size=(2048, 1536))[0]))  # drawn at 1280 px, shown smaller
    page.set_input_files("#file", str(image))
    page.wait_for_function("() => document.querySelectorAll('#upload-faces li').length >= 2")
    numbered_alike(page, "upload-faces", "upload-canvas")
    shown_px = page.evaluate(
        "() => { const c = document.getElementById('upload-canvas');"
        " return c.dataset.labelPx * c.getBoundingClientRect().width / c.width; }"
    )
    assert shown_px >= 12  # label text at least 12 CSS pixels high as shown
    assert re.fullmatch(r"Face \d \(largest\)", page.text_content("#upload-caption"))
    assert page.problems == []


def test_the_chart_follows_the_face_clicked_in_the_list_or_on_its_box(server, page):
    page.goto(server + "/")
    page.wait_for_function("() => document.querySelectorAll('#faces li[data-emotion]').length >= 3")
    assert re.fullmatch(r"Face \d \(largest\)", charted(page)["caption"])
    assert charted(page)["pressed"] == "false"

    # a click in the list: the chart shows that face (it drifts, and is found again in each frame)
    clicked = [int(v) for v in page.get_attribute("#faces li:nth-child(1)", "data-box").split(",")]
    page.click("#faces li:nth-child(1) button")
    caption_ends(page, "(chosen)")
    now = charted(page)
    assert now["pressed"] == "true" and now["top"] == now["emotion"] and same_place(now["box"], clicked)

    # a click on a box (the video and its boxes are mirrored): the chart shows that face
    box = click_box(page, 3, "video", mirrored=True)
    now = chart_shows(page, box)
    assert now["caption"].endswith("(chosen)") and same_place(now["box"], box)

    # clicking the chosen face again goes back to the largest
    page.click(f"#faces li:nth-child({now['caption'].split()[1]}) button")
    caption_ends(page, "(largest)")
    assert page.problems == []


def test_the_chart_falls_back_to_the_largest_when_the_chosen_face_leaves(server, page):
    small = {"box": [40, 40, 80, 80], "emotion": "sad", "confidence": 0.9, "uncertain": False,
             "scores": {"sad": 0.9, "happy": 0.1}}
    large = {"box": [300, 100, 200, 200], "emotion": "happy", "confidence": 0.8, "uncertain": False,
             "scores": {"sad": 0.2, "happy": 0.8}}
    answer = {"faces": [small, large]}

    def fake_server(route):  # the server's answers, with faces that come and go on cue
        route.fulfill(json={**answer, "timings_ms": {"total": 1.0}, "image": {"width": 640, "height": 480}})

    page.route("**/api/predict?video=1", fake_server)
    page.goto(server + "/")
    caption_ends(page, "Face 2 (largest)")
    page.click("#faces li:nth-child(1) button")
    caption_ends(page, "Face 1 (chosen)")
    assert charted(page)["top"] == "sad"
    answer["faces"] = [large]
    caption_ends(page, "Face 1 (largest; the chosen face is out of view)")
    assert charted(page)["top"] == "happy" and page.text_content("#top-emotion") == "happy 80%"
    answer["faces"] = [large, small]  # back, now second in the list
    caption_ends(page, "Face 2 (chosen)")
    assert charted(page)["top"] == "sad"
    assert page.problems == []


def test_pause_sends_no_frames_and_keeps_the_last_result(server, page):
    page.goto(server + "/")
    page.wait_for_function("() => Number(document.getElementById('app').dataset.frames) >= 3")
    sent = []
    page.on("request", lambda request: "/api/predict" in request.url and sent.append(request.url))
    page.click("#pause")
    assert page.get_attribute("#app", "data-state") == "paused"
    assert page.text_content("#pause") == "Resume" and page.get_attribute("#pause", "aria-pressed") == "true"
    page.wait_for_timeout(300)  # a request already in flight at the click may still be reported
    shown = page.evaluate("() => [document.getElementById('app').dataset.frames,"
                          " document.getElementById('faces').textContent]")
    del sent[:]
    page.wait_for_timeout(1500)
    assert sent == []
    assert page.evaluate("() => [document.getElementById('app').dataset.frames,"
                         " document.getElementById('faces').textContent]") == shown
    assert page.evaluate("() => document.getElementById('video').paused")
    page.click("#pause")
    page.wait_for_function("(n) => Number(document.getElementById('app').dataset.frames) > n",
                           arg=int(shown[0]) + 2)
    assert sent and page.get_attribute("#app", "data-state") == "running"
    assert page.problems == []


def test_the_camera_menu_lists_the_fake_camera_and_switching_restarts_it(server, page):
    page.add_init_script(  # record what the page asks the browser for
        "const open = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);"
        "window.asked = [];"
        "navigator.mediaDevices.getUserMedia = (c) => { window.asked.push(c); return open(c); };"
    )
    page.goto(server + "/")
    page.wait_for_function("() => Number(document.getElementById('app').dataset.frames) >= 1")
    in_use = page.evaluate(
        "() => (window.track = document.getElementById('video').srcObject.getVideoTracks()[0])"
        ".getSettings().deviceId"
    )
    options = page.eval_on_selector_all("#camera option", "os => os.map(o => [o.value, o.selected, o.text])")
    assert len(options) == 1 and options[0][:2] == [in_use, True] and options[0][2]
    assert page.is_disabled("#camera")  # one camera: nothing to choose
    # choosing it (as a visitor with two cameras would choose the other) reopens that very device
    page.evaluate("(id) => { const menu = document.getElementById('camera');"
                  " menu.value = id; menu.dispatchEvent(new Event('change')); }", in_use)
    page.wait_for_function("() => window.asked.length === 2 && window.track.readyState === 'ended'")
    assert page.evaluate("() => window.asked[1].video.deviceId") == {"exact": in_use}
    frames = int(page.get_attribute("#app", "data-frames"))
    page.wait_for_function("(n) => Number(document.getElementById('app').dataset.frames) > n", arg=frames + 2)
    assert page.problems == []


def test_a_camera_chosen_while_paused_stays_paused(server, page):
    page.goto(server + "/")
    page.wait_for_function("() => Number(document.getElementById('app').dataset.frames) >= 1")
    page.click("#pause")
    frames = page.get_attribute("#app", "data-frames")
    first = page.evaluate("() => (window.track = document.getElementById('video').srcObject"
                          ".getVideoTracks()[0]).getSettings().deviceId")
    sent = []
    page.on("request", lambda request: "/api/predict" in request.url and sent.append(request.url))
    page.evaluate("(id) => { const menu = document.getElementById('camera');"
                  " menu.value = id; menu.dispatchEvent(new Event('change')); }", first)
    page.wait_for_function("() => window.track.readyState === 'ended' && document.getElementById('video')"
                           ".srcObject.getVideoTracks()[0] !== window.track")
    page.wait_for_timeout(1000)
    assert page.get_attribute("#app", "data-state") == "paused" and page.text_content("#pause") == "Resume"
    assert sent == [] and page.get_attribute("#app", "data-frames") == frames
    assert page.evaluate("() => document.getElementById('video').paused")
    page.click("#pause")  # Resume analyses the new camera
    page.wait_for_function("(n) => Number(document.getElementById('app').dataset.frames) > n",
                           arg=int(frames))
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


def test_stream_page_shows_the_annotated_server_stream_its_fps_and_faces(server, page, tmp_path):
    polls = []
    page.on("request", lambda request: "/api/stream_status" in request.url and polls.append(request.url))
    opened = time.monotonic()
    page.goto(server + "/stream")
    page.wait_for_selector("#app[data-state='live']")
    page.wait_for_function("() => document.getElementById('feed').naturalWidth === 640")
    assert page.is_hidden("#stream-notice")
    # the latest frame's faces (the demo has three) and the rate the server produces frames at
    page.wait_for_function("() => document.querySelectorAll('#faces li[data-emotion]').length === 3")
    page.wait_for_function("() => parseFloat(document.getElementById('fps').textContent) > 0")
    assert re.fullmatch(r"Face [123] \(largest\)", page.text_content("#live-caption"))
    page.click("#faces li:nth-child(3) button")
    caption_ends(page, "(chosen)")
    assert charted(page)["pressed"] == "true"
    box = click_box(page, 1, "feed", mirrored=False)
    now = chart_shows(page, box)
    assert now["caption"].endswith("(chosen)") and same_place(now["box"], box)
    page.wait_for_timeout(1000)  # let the demo's faces settle into their smoothed labels
    screenshot(page, tmp_path, "stream")
    assert page.problems == []
    assert stream_status(server)["viewers"] == 1
    # leaving the page drops the connection; the server notices and releases the source
    watched, polled = time.monotonic() - opened, len(polls)
    page.goto("about:blank")
    assert 2 <= polled <= 4 * watched + 1  # one poll at a time, 250 ms apart: at most four a second
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


@pytest.mark.skipif(importlib.util.find_spec("av") is None, reason="needs the video extra (PyAV) for H.264")
def test_the_annotated_video_is_h264_and_chromium_plays_it(page, tmp_path):
    import av

    from realtime_fer.cli import main

    clip = demo.write_demo_clip(tmp_path / "clip.avi", 15)
    assert main(["video", str(clip), "--out", str(tmp_path / "annotated.mp4")]) == 0
    with av.open(str(tmp_path / "annotated.mp4")) as container:
        assert container.streams.video[0].codec_context.name == "h264"
    capture = cv2.VideoCapture(str(tmp_path / "annotated.mp4"))
    ok, first = capture.read()
    capture.release()
    (tmp_path / "play.html").write_text('<video id="v" src="annotated.mp4" muted preload="auto"></video>')
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as files:
        threading.Thread(target=files.serve_forever, daemon=True).start()
        try:
            page.goto(f"http://127.0.0.1:{files.server_port}/play.html")
            page.wait_for_function("() => document.getElementById('v').readyState >= 2")
            width, height, pixels = page.evaluate("""() => {
                const video = document.getElementById('v');
                const canvas = document.createElement('canvas');
                canvas.width = video.videoWidth; canvas.height = video.videoHeight;
                const context = canvas.getContext('2d');
                context.drawImage(video, 0, 0);
                return [canvas.width, canvas.height,
                        Array.from(context.getImageData(0, 0, canvas.width, canvas.height).data)];
            }""")
        finally:
            files.shutdown()
    assert ok and (width, height) == (640, 480)
    shown = np.array(pixels, np.uint8).reshape(height, width, 4)[..., 2::-1]  # RGBA -> BGR
    assert np.abs(shown.astype(int) - first.astype(int)).mean() < 8  # the first frame, as decoded here
