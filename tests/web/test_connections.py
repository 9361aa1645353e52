"""Connections the server must close itself, against the real waitress server: stream viewers that
stop reading (dropped, then closed with their unsent frames) and sockets that never send a byte."""

import socket
import time

import pytest

from realtime_fer.web import create_app, server
from tests.web.conftest import running
from tests.web.test_slow_clients import get, viewers, wait_for


def stalled_viewer(port: int) -> socket.socket:
    """A viewer that asks for the stream and never reads a byte of it."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a small window, never read
    sock.connect(("127.0.0.1", port))
    sock.sendall(b"GET /video_feed HTTP/1.1\r\nHost: x\r\n\r\n")
    return sock


@pytest.mark.slow
def test_dropped_viewers_connections_are_closed_and_their_frames_freed(config):
    app = create_app({
        **config, "STREAM_MAX_VIEWERS": 4, "STREAM_MAX_BACKLOG": 64 * 2**10,
        "STREAM_SEND_TIMEOUT_SECONDS": 1.0,
    })
    with running(app) as server:
        port = int(server.effective_port)
        idle = len(server.active_channels)
        for _ in range(3):
            stalled = [stalled_viewer(port) for _ in range(4)]
            try:
                assert wait_for(lambda: viewers(port) == 4, 10)
                assert wait_for(lambda: viewers(port) == 0, 15)  # dropped from the broadcast...
                # ...and their connections closed by the server, with what they were sent
                assert wait_for(lambda: len(server.active_channels) <= idle, 8), server.active_channels
            finally:
                for sock in stalled:
                    sock.close()
        assert sum(c.total_outbufs_len for c in list(server.active_channels.values())) == 0
        # and a new viewer is served
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        try:
            sock.sendall(b"GET /video_feed HTTP/1.1\r\nHost: x\r\n\r\n")
            assert sock.recv(100).startswith(b"HTTP/1.1 200")
        finally:
            sock.close()
        assert get(port, "/healthz")[0] == 200



def closed_by_server(sock: socket.socket, seconds: float) -> bool:
    sock.settimeout(seconds)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_silent_connections_are_closed_after_the_first_byte_deadline(config, monkeypatch):
    monkeypatch.setattr(server, "FIRST_BYTE_TIMEOUT_SECONDS", 1.0)
    with running(create_app(config)) as waitress_server:
        port = int(waitress_server.effective_port)
        silent = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(10)]
        try:
            start = time.monotonic()
            assert all(closed_by_server(sock, 4) for sock in silent)
            assert time.monotonic() - start < 4
        finally:
            for sock in silent:
                sock.close()


def test_idle_sockets_beyond_the_connection_limit_leave_healthz_reachable(config, monkeypatch):
    monkeypatch.setattr(server, "CONNECTION_LIMIT", 60)  # 100 idle sockets are well over it
    with running(create_app(config)) as waitress_server:
        port = int(waitress_server.effective_port)
        idle = []
        try:
            for _ in range(100):
                idle.append(socket.create_connection(("127.0.0.1", port), timeout=5))
            for _ in range(3):
                start = time.monotonic()
                assert get(port, "/healthz", timeout=3)[0] == 200
                assert time.monotonic() - start < 3
            assert len(waitress_server._map) <= 60
        finally:
            for sock in idle:
                sock.close()
