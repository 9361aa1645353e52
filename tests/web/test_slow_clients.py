"""Clients that try to tie the server up, against the real waitress server: slow request headers
(slowloris), stream viewers that never read, and viewers that hang up."""

import contextlib
import http.client
import json
import socket
import time

import pytest
from waitress import buffers

from realtime_fer.web import create_app, server
from tests.web.conftest import serving


def wait_for(predicate, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def get(port: int, path: str, timeout: float = 5) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def viewers(port: int) -> int:
    return json.loads(get(port, "/api/stream_status")[1])["viewers"]


@pytest.fixture
def no_spill(monkeypatch) -> list[str]:
    """Records any temporary file waitress opens to spill a buffer into."""
    spills = []
    real = buffers.TempfileBasedBuffer.newfile

    def recording(self):
        spills.append("spill")
        return real(self)

    monkeypatch.setattr(buffers.TempfileBasedBuffer, "newfile", recording)
    return spills


def test_slow_headers_neither_block_new_connections_nor_stay_open(config, monkeypatch):
    monkeypatch.setattr(server, "HEADER_TIMEOUT_SECONDS", 1.5)
    with serving(create_app(config)) as url:
        port = int(url.rsplit(":", 1)[1])
        slow = []
        for _ in range(100):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            slow.append(sock)
        try:
            start = time.monotonic()
            while time.monotonic() - start < 3:  # a header line every 0.3 s keeps them active
                for sock in slow:
                    with contextlib.suppress(OSError):  # closed by the server
                        sock.sendall(b"X-a: b\r\n")
                assert get(port, "/healthz", timeout=2)[0] == 200  # new connections are served
                time.sleep(0.3)
            # and the slow ones were closed once their headers took over the timeout
            closed = 0
            for sock in slow:
                try:
                    sock.settimeout(2)
                    closed += sock.recv(1) == b""
                except OSError:
                    closed += 1
            assert closed == len(slow)
        finally:
            for sock in slow:
                sock.close()


@pytest.mark.slow
def test_non_reading_viewers_are_dropped_without_spilling_to_disk(config, no_spill):
    app = create_app({
        **config, "STREAM_MAX_VIEWERS": 2, "STREAM_MAX_BACKLOG": 64 * 2**10,
        "STREAM_SEND_TIMEOUT_SECONDS": 1.0,
    })
    with serving(app) as url:
        port = int(url.rsplit(":", 1)[1])
        stalled = []
        for _ in range(2):
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a small window, never read
            sock.connect(("127.0.0.1", port))
            sock.sendall(b"GET /video_feed HTTP/1.1\r\nHost: x\r\n\r\n")
            stalled.append(sock)
        try:
            assert wait_for(lambda: viewers(port) == 2, 10)
            assert get(port, "/video_feed")[0] == 503  # every slot is taken...
            assert wait_for(lambda: viewers(port) == 0, 25)  # ...until the stalled ones are dropped
            status, _ = get(port, "/healthz")
            assert status == 200
        finally:
            for sock in stalled:
                sock.close()
    assert no_spill == []


def test_a_viewer_that_hangs_up_frees_its_slot_at_once(config):
    with serving(create_app({**config, "STREAM_MAX_VIEWERS": 1})) as url:
        port = int(url.rsplit(":", 1)[1])
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.sendall(b"GET /video_feed HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 200")
        assert viewers(port) == 1
        sock.close()
        start = time.monotonic()
        assert wait_for(lambda: viewers(port) == 0, 5)
        assert time.monotonic() - start < 1.0
