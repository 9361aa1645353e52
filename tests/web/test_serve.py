"""``realtime-fer serve`` and the waitress server it runs: 127.0.0.1 by default, clear failures
before binding, request bodies kept in memory and capped."""

import http.client
import json
import re
import signal
import socket
import subprocess
import sys
import time
from urllib.parse import urlsplit

import numpy as np
import pytest
from waitress import buffers

from realtime_fer.cli import main
from realtime_fer.web import create_app
from tests.web.conftest import MODEL, encode, serving


def test_serve_defaults_to_localhost_under_waitress(servers, capsys):
    assert main(["serve", "--model", MODEL]) == 0
    [server] = servers
    assert (server.host, server.port) == ("127.0.0.1", 5000)
    assert server.ran and server.closed
    config = server.app.config
    assert config["SOURCE"] == "demo" and not server.app.debug
    assert (config["STREAM_MAX_VIEWERS"], config["ANALYSIS_QUEUE"]) == (8, 32)
    # a thread for every analysis running or waiting and every viewer, and spare ones for the rest
    assert server.threads == config["ANALYSIS_WORKERS"] + 32 + 8 + 4
    assert server.options["inbuf_overflow"] > server.app.config["MAX_CONTENT_LENGTH"]
    assert "http://127.0.0.1:5000/" in capsys.readouterr().out


def test_serve_options(servers, capsys):
    args = ["serve", "--model", MODEL, "--source", "0", "--host", "::1", "--port", "8123",
            "--max-viewers", "2", "--queue", "5"]
    assert main(args) == 0
    [server] = servers
    assert (server.host, server.port) == ("::1", 8123)
    assert server.app.config["SOURCE"] == "0"
    assert (server.app.config["STREAM_MAX_VIEWERS"], server.app.config["ANALYSIS_QUEUE"]) == (2, 5)
    assert "http://[::1]:8123/" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("flag", "tta"),
    [([], None), (["--tta", "flip"], "flip"), (["--tta", "ten"], "ten"), (["--no-tta"], "none")],
)
def test_serve_tta_follows_the_model_unless_told(servers, flag, tta):
    assert main(["serve", "--model", MODEL, *flag]) == 0
    app = servers[0].app
    assert app.config["TTA"] == tta
    recognizer = app.extensions["realtime_fer"].pipeline.recognizer
    assert recognizer.tta == (recognizer.spec["serving"]["tta"] if tta is None else tta)


def test_serve_with_a_missing_model_fails_before_binding(servers, tmp_path, capsys):
    assert main(["serve", "--model", str(tmp_path / "no-such-model")]) == 2
    assert servers == []
    error = capsys.readouterr().err
    assert "realtime-fer serve: error:" in error and "no-such-model" in error and "not found" in error


def test_serve_with_a_corrupt_model_fails_before_binding(servers, tmp_path, capsys):
    (tmp_path / "model.json").write_text("{ not json")
    assert main(["serve", "--model", str(tmp_path)]) == 2
    assert servers == []
    assert "model.json: not valid JSON" in capsys.readouterr().err


def test_serve_reports_a_port_in_use(capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--model", MODEL, "--port", str(port)]) == 2
    assert f"cannot listen on 127.0.0.1:{port} (Address already in use)" in capsys.readouterr().err


@pytest.fixture
def live(config):
    """The URL of the app under the real waitress server, with a 1 MB upload cap."""
    with serving(create_app({**config, "MAX_CONTENT_LENGTH": 2**20})) as url:
        yield url


def post(url: str, body: bytes) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection(urlsplit(url).netloc, timeout=10)
    try:
        connection.request("POST", "/api/predict", body, {"Content-Type": "image/png"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_waitress_keeps_bodies_in_memory(live, monkeypatch):
    def no_disk(self):
        raise AssertionError("waitress was about to spool a request body to a temporary file")

    monkeypatch.setattr(buffers.TempfileBasedBuffer, "newfile", no_disk)
    noise = np.random.default_rng(1).integers(0, 256, (400, 600, 3), dtype=np.uint8)
    png = encode(noise, ".png")
    assert 600_000 < len(png) < 2**20  # over waitress's default 512 KB, under the cap
    status, body = post(live, png)
    assert status == 200 and json.loads(body)["faces"] == []


def test_waitress_caps_bodies(live):
    status, body = post(live, b"\x89PNG" + bytes(2**20))  # just over the app's cap: JSON 413
    assert status == 413 and "too large" in json.loads(body)["error"]
    # far over it: waitress refuses from the Content-Length alone, without reading the body, but
    # still in JSON
    with socket.create_connection(("127.0.0.1", urlsplit(live).port), timeout=10) as raw:
        raw.sendall(b"POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
                    b"Content-Length: 50000000\r\n\r\n")
        answer = b""
        while chunk := raw.recv(4096):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413") and b"Content-Type: application/json" in head
    assert "request entity too large" in json.loads(body)["error"]


def test_ctrl_c_with_viewers_connected_stops_at_once_and_quietly():
    server = subprocess.Popen(
        [sys.executable, "-m", "realtime_fer.cli", "serve", "--model", MODEL, "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        port = None
        for line in server.stdout:  # bounded: the server prints its address or exits
            if match := re.search(r"serving on http://127\.0\.0\.1:(\d+)/", line):
                port = int(match.group(1))
                break
        assert port, server.stderr.read()[-500:]
        viewers = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(2)]
        for viewer in viewers:
            viewer.sendall(b"GET /video_feed HTTP/1.1\r\nHost: test\r\n\r\n")
            assert viewer.recv(100).startswith(b"HTTP/1.1 200")  # watching
        start = time.monotonic()
        server.send_signal(signal.SIGINT)
        out, err = server.communicate(timeout=20)
        assert time.monotonic() - start < 3  # waitress alone waited 5 s for the viewers' threads
        assert server.returncode == 0 and "stopped" in out
        assert "Traceback" not in err and "still running" not in err
    finally:
        server.kill()
