"""The app under waitress, the production WSGI server (never Flask's development server): its
settings, :func:`create_server` and :func:`run_until_stopped` (the stream ends before the server stops).

Its settings are chosen against three cheap attacks (measured in benchmarks/load.py and
tests/web/test_slow_clients.py):

- Slow clients (slowloris): waitress reads request headers in its event loop, so a slow sender
  costs a connection, not a thread; but it only closes connections idle for ``channel_timeout``, and
  a client sending a byte every few seconds is never idle. Here a request's headers must arrive
  within :data:`HEADER_TIMEOUT_SECONDS`, and a connection's first byte within
  :data:`FIRST_BYTE_TIMEOUT_SECONDS` (one that sends nothing at all would otherwise wait out the
  channel timeout). Silent sockets cannot fill the connection limit either (waitress then stops
  accepting, and /healthz is unreachable): once fewer than :data:`SPARE_CONNECTIONS` are left,
  each new connection closes the longest-idle one that runs no request and has nothing to send.
- Threads: every request that may legitimately wait holds a thread, so there are enough for the
  analyses running and queued (the gate answers 503 beyond those), one per stream viewer, and
  :data:`SPARE_THREADS` for pages and /healthz, which then never queue behind uploads.
- Memory and disk: request bodies stay in memory up to the upload cap, and responses never spill to
  temporary files (a stream viewer's backlog is bounded far below ``outbuf_overflow``).
- Memory after bursts: glibc gives every thread that contends for the heap an arena of its own
  (up to 8 per core) and rarely returns their pages, so a burst over the request threads left
  hundreds of MB held; the server limits them to :data:`MALLOC_ARENAS` before its threads start.
- Connections that will not take what they are sent: waitress closes a connection it was told to
  close (``will_close``) only once it can write to it, which never happens while the client reads
  nothing, so a dropped stream viewer kept its socket and its unsent frames for ever. Here a
  connection told to close, or holding output it has sent none of for
  :data:`CLOSE_GRACE_SECONDS` after its requests ended, is closed from the event loop without
  sending the rest.
"""

import json
import logging
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import waitress
from flask import Flask
from waitress.channel import HTTPChannel
from waitress.server import BaseWSGIServer
from waitress.task import ErrorTask

from realtime_fer.web.broadcast import Broadcast
from realtime_fer.web.heap import limit_malloc_arenas

log = logging.getLogger(__name__)

MULTIPART_SLACK = 64 * 2**10  # room for the multipart headers around an upload at the cap
HEADER_TIMEOUT_SECONDS = 10  # a request line and headers slower than this: the connection is closed
SPARE_THREADS = 4  # for pages, /healthz, /api/stream_status and requests refused at once
FIRST_BYTE_TIMEOUT_SECONDS = 10  # a new connection that sends nothing for this long is closed
CONNECTION_LIMIT = 500  # open connections (each costs a file descriptor, not a thread)
SPARE_CONNECTIONS = 16  # below this many left, a new connection closes the longest-idle one
CHANNEL_TIMEOUT_SECONDS = 30  # an idle keep-alive connection is closed after this long
CLOSE_GRACE_SECONDS = 2.0  # a connection to close that cannot be written to: closed after this long


class JsonErrorTask(ErrorTask):
    """Waitress's own refusals (a body far over the cap, malformed headers) in the API's JSON."""

    def execute(self) -> None:
        error = self.request.error
        body = json.dumps({"error": f"{error.reason.lower()}: {error.body}"}).encode()
        self.status = f"{error.code} {error.reason}"
        self.response_headers.append(("Content-Type", "application/json"))
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


class Channel(HTTPChannel):
    """Waitress's connection, closed when a request's headers take over ``HEADER_TIMEOUT_SECONDS``
    or when it is to close but cannot be written to, and answering its own errors in JSON."""

    error_task_class = JsonErrorTask
    request_started = 0.0
    spoken = False  # whether it has sent a byte yet
    stuck_since: float | None = None  # when it was first seen to close (or to hold output) unsent

    def __init__(self, server, sock, addr, adj, map=None):
        # on the loop's thread, as the server accepts a connection
        super().__init__(server, sock, addr, adj, map)
        if len(self._map) > adj.connection_limit - SPARE_CONNECTIONS:
            self._close_longest_idle()

    def _close_longest_idle(self) -> None:
        """Mark the connection idle for longest (no request running, nothing to send) to close."""
        idle = [
            channel for channel in self.server.active_channels.values()
            if channel is not self and not (
                channel.requests or channel.total_outbufs_len or channel.will_close
                or channel.close_when_flushed
            )
        ]
        if idle:
            min(idle, key=lambda channel: channel.last_activity).will_close = True

    def received(self, data: bytes) -> bool:
        self.spoken = self.spoken or bool(data)
        if self.request is None:  # the first bytes of a new request
            self.request_started = time.time()
        return super().received(data)

    def readable(self) -> bool:
        # called by the event loop on every turn (at least once a second), for every connection
        now = time.time()
        request = self.request
        if (
            request is not None
            and not request.headers_finished
            and now - self.request_started > HEADER_TIMEOUT_SECONDS
        ) or (not self.spoken and now - self.creation_time > FIRST_BYTE_TIMEOUT_SECONDS):
            self.will_close = True  # the loop closes it on this turn (see HTTPChannel.writable)
        if self._stuck(now):
            self.handle_close()  # on the loop's thread: the socket leaves the map, its buffers go
            return False
        return super().readable()

    def writable(self) -> bool:
        # the loop asks right after readable(), which may just have closed it: a closed socket in
        # its select() would end the loop
        return self.socket is not None and super().writable()

    def _stuck(self, now: float) -> bool:
        """Whether it has been to close, or finished with output waiting, for ``CLOSE_GRACE_SECONDS``
        without sending a byte (``last_activity`` moves on every send)."""
        closing = self.will_close or self.close_when_flushed or (
            not self.requests and self.total_outbufs_len > 0
        )
        if not closing:
            self.stuck_since = None
            return False
        since = max(self.stuck_since or now, self.last_activity)
        self.stuck_since = since
        return now - since > CLOSE_GRACE_SECONDS


def thread_count(config: dict[str, Any]) -> int:
    """Threads for every analysis running or queued, every viewer, and the spare ones."""
    return (
        config["ANALYSIS_WORKERS"] + config["ANALYSIS_QUEUE"] + config["STREAM_MAX_VIEWERS"] + SPARE_THREADS
    )


def waitress_options(app: Flask) -> dict[str, Any]:
    """Settings that keep visitors' frames in memory and slow clients harmless.

    Waitress spools request bodies over 512 KB to a temporary file; raising that threshold to just
    above the upload cap keeps every body in memory, and anything larger is refused by waitress
    itself (a plain 413) before it is read. Bodies up to the slack still get the app's JSON 413.
    ``channel_request_lookahead`` lets waitress read from a connection while its request runs, so a
    client that hangs up is noticed at once (a stream viewer's slot is freed, a queued upload is
    not decoded for nobody).
    """
    limit = app.config["MAX_CONTENT_LENGTH"] + MULTIPART_SLACK
    return {
        "threads": thread_count(app.config),
        "max_request_body_size": limit,
        "inbuf_overflow": limit,
        "outbuf_overflow": 4 * app.config["STREAM_MAX_BACKLOG"],
        "connection_limit": CONNECTION_LIMIT,
        "channel_timeout": CHANNEL_TIMEOUT_SECONDS,
        "cleanup_interval": 5,
        "channel_request_lookahead": 1,
        "ident": "realtime-fer",
    }


def create_server(app: Flask, host: str, port: int):
    """A bound waitress server (``OSError`` if the port is taken); ``.run()`` serves until closed.

    Its request threads start here, so the malloc arenas are capped first."""
    if not limit_malloc_arenas():
        log.debug("malloc arenas not limited (not glibc)")
    sockets: dict = {}
    server = waitress.create_server(app, map=sockets, host=host, port=port, **waitress_options(app))
    for listener in list(sockets.values()):  # one per address a name such as "localhost" resolves to
        if isinstance(listener, BaseWSGIServer):
            listener.channel_class = Channel
    return server


def run_until_stopped(server: Any, broadcast: Broadcast) -> None:
    """Serve until Ctrl-C or SIGTERM, then close: the stream ends first, so its viewers finish."""
    try:
        with _stream_ends_first(broadcast):
            server.run()  # returns after Ctrl-C (waitress catches KeyboardInterrupt)
    except KeyboardInterrupt:
        pass
    finally:
        server.close()


@contextmanager
def _stream_ends_first(broadcast: Broadcast) -> Iterator[None]:
    """Ctrl-C or SIGTERM end the stream before the server stops: its viewers then finish their
    responses and free their threads at once, where waitress would wait 5 s for them and then close
    their connections under them. (Signal handlers can only be set from the main thread.)"""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(_signal: int, _frame) -> None:
        broadcast.close(timeout=2.0)
        raise KeyboardInterrupt

    previous = {number: signal.signal(number, stop) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
