"""Load and attacks against ``realtime-fer serve`` on 127.0.0.1: API clients, stream viewers, and
the cheap attacks of issue 15, each bounded in count and time; the server stops when this ends.

The server runs in a process of its own (``realtime-fer serve --port P``), so its RSS, threads and
open files are read from /proc before and after. Phases, in order:

- ``load``: ``--clients`` API clients posting a 640x480 one-face JPEG in a loop as the webcam page
  does (``/api/predict?video=1``; ``--uploads``: as photo uploads, searched for small faces and
  classified with the model's own view set), and ``--viewers`` stream viewers, for ``--seconds``:
  requests, errors (anything but 200), p50/p95/p99 latency, and each viewer's frames/s over every
  5 s window (the minimum is what "throughout" means);
- ``bombs``: 8 scan bombs (issue 15's 189 KB progressive JPEG) at once, and /healthz meanwhile;
- ``slowloris``: 100 sockets sending header lines slowly, and /healthz on new connections;
- ``stalled``: ``--max-viewers`` viewers that never read; the time until their slots are free;
- ``bad``: ``--bad`` mixed bad uploads from 16 clients (pixel and scan bombs, cut and mutated images,
  random bytes, empty bodies) after a warm-up of good ones: their statuses, and the server's RSS
  before (after the warm-up) and 6 s after the last;
- ``soak``: for ``--soak-seconds`` (default 600), 8 clients posting photo uploads and bad uploads
  in turn, with a stream viewer: the server's RSS every 10 s, and how much it grew over the second
  half (flat by the end: little or none).

    python benchmarks/load.py [--seconds 60 --clients 20 --viewers 5] [--phase load --phase bombs ...]
"""

import argparse
import contextlib
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
from common import write_results

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for the test fixtures' image builders

from tests.web.conftest import encode, one_face_frame  # noqa: E402
from tests.web.nasty import MUTATIONS, mutate, pixel_bombs, scan_bomb, seed_images  # noqa: E402

HOST = "127.0.0.1"
PHASES = ("load", "bombs", "slowloris", "stalled", "bad", "soak")
DEFAULT_PHASES = PHASES[:-1]  # the soak runs when asked for: it takes ten minutes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def request(port: int, method: str, path: str, body: bytes | None = None, timeout: float = 30) -> int:
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        connection.request(method, path, body, {"Content-Type": "image/jpeg"} if body else {})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def timed(port: int, method: str, path: str, body: bytes | None = None) -> tuple[int, float]:
    start = time.perf_counter()
    try:
        status = request(port, method, path, body)
    except OSError:
        status = 0
    return status, time.perf_counter() - start


def process_stats(pid: int) -> dict:
    status = Path(f"/proc/{pid}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return {
        "rss_mb": round(int(fields["VmRSS"].split()[0]) / 1024, 1),
        "threads": int(fields["Threads"]),
        "fds": len(os.listdir(f"/proc/{pid}/fd")),
    }


def temp_files(pid: int) -> int:
    """Open files of the server that are (deleted) temporaries: waitress's spilled buffers."""
    links = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
    return sum("(deleted)" in link for link in links)


def viewer_status(port: int) -> dict:
    connection = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        connection.request("GET", "/api/stream_status")
        return json.loads(connection.getresponse().read())
    finally:
        connection.close()


class Viewer(threading.Thread):
    """Reads /video_feed, recording the arrival time of every frame, until ``stop`` is set."""

    def __init__(self, port: int, stop: threading.Event):
        super().__init__(daemon=True)
        self.port, self.stop = port, stop
        self.frames: list[float] = []
        self.error: str | None = None

    def run(self) -> None:
        connection = http.client.HTTPConnection(HOST, self.port, timeout=15)
        try:
            connection.request("GET", "/video_feed")
            response = connection.getresponse()
            if response.status != 200:
                self.error = f"status {response.status}"
                return
            while not self.stop.is_set():
                length = None
                while (line := response.readline()) not in (b"\r\n", b""):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                if length is None:
                    if line == b"":
                        self.error = "the stream ended"
                        return
                    continue  # the blank line between parts
                response.read(length)
                self.frames.append(time.monotonic())
        except OSError as error:
            self.error = type(error).__name__
        finally:
            connection.close()

    def window_fps(self, start: float, end: float, window: float = 5.0) -> list[float]:
        times = np.array(self.frames)
        edges = np.arange(start, end - window + 1e-9, window)
        return [float(((times >= a) & (times < a + window)).sum() / window) for a in edges]


def load_phase(port: int, seconds: float, clients: int, viewers: int, path: str) -> dict:
    jpeg = encode(one_face_frame())
    stop = threading.Event()
    results: list[tuple[int, float]] = []
    lock = threading.Lock()

    def client() -> None:
        while not stop.is_set():
            outcome = timed(port, "POST", path, jpeg)
            with lock:
                results.append(outcome)

    watchers = [Viewer(port, stop) for _ in range(viewers)]
    for viewer in watchers:
        viewer.start()
    time.sleep(2.0)  # the stream's first frames (the source opens on demand)
    start = time.monotonic()
    workers = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for worker in workers:
        worker.start()
    time.sleep(seconds)
    end = time.monotonic()
    stop.set()
    for thread in workers + watchers:
        thread.join(30)
    latencies = np.array([t for s, t in results if s == 200]) * 1000
    errors: dict[str, int] = {}
    for status, _ in results:
        if status != 200:
            errors[str(status)] = errors.get(str(status), 0) + 1
    fps = [v.window_fps(start, end) for v in watchers]
    return {
        "phase": "load", "path": path, "seconds": seconds, "clients": clients, "viewers": viewers,
        "requests": len(results), "errors": sum(errors.values()), "error_statuses": errors,
        "rps": round(len(results) / seconds, 1),
        **{f"p{q}_ms": round(float(np.percentile(latencies, q)), 1) if len(latencies) else None
           for q in (50, 95, 99)},
        "viewer_fps_mean": [round(sum(start <= t < end for t in v.frames) / seconds, 1) for v in watchers],
        "viewer_fps_min_5s": [round(min(f), 1) if f else 0.0 for f in fps],
        "viewer_errors": [v.error for v in watchers if v.error],
    }


def bombs_phase(port: int, count: int = 8) -> dict:
    bomb = scan_bomb()
    outcomes: list[tuple[int, float]] = []

    def send() -> None:
        outcomes.append(timed(port, "POST", "/api/predict", bomb))

    senders = [threading.Thread(target=send) for _ in range(count)]
    for sender in senders:
        sender.start()
    health = [timed(port, "GET", "/healthz") for _ in range(5)]
    for sender in senders:
        sender.join(60)
    return {
        "phase": "bombs", "bomb_bytes": len(bomb), "statuses": sorted({s for s, _ in outcomes}),
        "bomb_max_s": round(max(t for _, t in outcomes), 3),
        "healthz_max_s": round(max(t for _, t in health), 3),
    }


def bad_uploads(count: int, seed: int = 0) -> list[bytes]:
    """``count`` bad uploads, the kinds taking turns: bombs, mutated small images, a 4-megapixel photo
    cut off (refused) or with damaged image data (decoded in full and searched: the costliest), random
    bytes, an empty body."""
    rng = np.random.default_rng(seed)
    seeds = seed_images()
    photo = encode(rng.integers(0, 256, (1800, 2400, 3), np.uint8), ".jpg")
    fixed = [*pixel_bombs().values(), scan_bomb(), b""]

    def mutated() -> bytes:
        edits = [(str(rng.choice(MUTATIONS)), float(rng.random()), int(rng.integers(256))) for _ in range(3)]
        return mutate(seeds[int(rng.integers(len(seeds)))], edits)

    def noise() -> bytes:
        return rng.bytes(int(rng.integers(1, 50_000)))

    def cut_photo() -> bytes:  # refused: the end-of-image marker is missing
        return photo[: int(len(photo) * rng.uniform(0.3, 0.9))]

    def corrupt_photo() -> bytes:  # complete, with damaged image data: decoded in full, garbage and all
        damaged = bytearray(photo)
        for where in rng.integers(len(photo) // 10, len(photo) - 10, 20):
            damaged[where] = int(rng.integers(256)) & 0xFE  # never a new marker's FF
        return bytes(damaged)

    kinds = [lambda: fixed[int(rng.integers(len(fixed)))], mutated, cut_photo, corrupt_photo, noise]
    return [kinds[i % len(kinds)]() for i in range(count)]


def bad_phase(port: int, pid: int, count: int, clients: int = 16) -> dict:
    good = encode(one_face_frame())
    for _ in range(20):  # warm-up: the model's and decoders' first allocations are not growth
        timed(port, "POST", "/api/predict", good)
    time.sleep(3.0)  # past the server's quiet time, after which it frees what a burst of uploads took
    before = process_stats(pid)["rss_mb"]
    bodies = bad_uploads(count)
    statuses: dict[str, int] = {}
    lock = threading.Lock()

    def client(mine: list[bytes]) -> None:
        for body in mine:
            status, _ = timed(port, "POST", "/api/predict", body)
            with lock:
                statuses[str(status)] = statuses.get(str(status), 0) + 1

    threads = [threading.Thread(target=client, args=(bodies[i::clients],)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(600)
    time.sleep(6.0)
    after = process_stats(pid)["rss_mb"]
    return {"phase": "bad", "uploads": count, "clients": clients, "statuses": statuses,
            "healthz": timed(port, "GET", "/healthz")[0],
            "rss_mb_before": before, "rss_mb_after": after, "rss_mb_growth": round(after - before, 1)}


def soak_phase(port: int, pid: int, seconds: float, clients: int = 8, every: float = 10.0) -> dict:
    photo = encode(one_face_frame())
    bodies = [photo, *bad_uploads(63, seed=1)]
    stop = threading.Event()
    statuses: dict[str, int] = {}
    lock = threading.Lock()

    def client(offset: int) -> None:
        turn = offset
        while not stop.is_set():
            status, _ = timed(port, "POST", "/api/predict", bodies[turn % len(bodies)])
            turn += clients
            with lock:
                statuses[str(status)] = statuses.get(str(status), 0) + 1

    viewer = Viewer(port, stop)
    viewer.start()
    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    start, samples = time.monotonic(), []
    while (elapsed := time.monotonic() - start) < seconds:
        samples.append((round(elapsed), process_stats(pid)["rss_mb"]))
        time.sleep(every)
    stop.set()
    for thread in [*threads, viewer]:
        thread.join(60)
    time.sleep(6.0)  # past the server's quiet time after a burst
    after = process_stats(pid)["rss_mb"]
    rss = [mb for _, mb in samples]
    half = len(rss) // 2
    return {"phase": "soak", "seconds": seconds, "clients": clients, "requests": sum(statuses.values()),
            "statuses": statuses, "rss_mb_every_s": every, "rss_mb": samples, "rss_mb_max": max(rss),
            "rss_mb_first_half_max": max(rss[:half] or rss), "rss_mb_second_half_max": max(rss[half:]),
            "rss_mb_second_half_growth": round(rss[-1] - rss[half], 1), "rss_mb_6s_after": after,
            "viewer_errors": [viewer.error] if viewer.error else []}


def slowloris_phase(port: int, seconds: float, sockets: int = 100) -> dict:
    slow = []
    for _ in range(sockets):
        sock = socket.create_connection((HOST, port), timeout=5)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        slow.append(sock)
    served, failed, worst = 0, 0, 0.0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for sock in slow:
            with contextlib.suppress(OSError):  # closed by the server's header deadline, as intended
                sock.sendall(b"X-Slow: 1\r\n")
        status, took = timed(port, "GET", "/healthz")
        served += status == 200
        failed += status != 200
        worst = max(worst, took)
        time.sleep(1.0)
    closed = 0
    for sock in slow:
        try:
            sock.settimeout(0.5)
            closed += sock.recv(1) == b""
        except OSError:
            closed += 1
        sock.close()
    return {"phase": "slowloris", "sockets": sockets, "seconds": seconds, "healthz_served": served,
            "healthz_failed": failed, "healthz_max_s": round(worst, 3), "slow_sockets_closed": closed}


def stalled_phase(port: int, pid: int, count: int) -> dict:
    stalled = []
    for _ in range(count):
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect((HOST, port))
        sock.sendall(b"GET /video_feed HTTP/1.1\r\nHost: x\r\n\r\n")
        stalled.append(sock)
    start = time.monotonic()
    while viewer_status(port)["viewers"] < count and time.monotonic() - start < 15:
        time.sleep(0.2)
    full = viewer_status(port)["viewers"]
    spills = 0
    freed = None
    while time.monotonic() - start < 60:
        spills = max(spills, temp_files(pid))
        if viewer_status(port)["viewers"] == 0:
            freed = time.monotonic() - start
            break
        time.sleep(0.5)
    for sock in stalled:
        sock.close()
    return {"phase": "stalled", "viewers": count, "joined": full,
            "freed_after_s": round(freed, 1) if freed is not None else None, "temp_files": spills}


def run(seconds: float, clients: int, viewers: int, phases: list[str], slow_seconds: float,
        max_viewers: int = 8, uploads: bool = False, bad: int = 500, soak_seconds: float = 600) -> list[dict]:
    """Start a server, run the phases against it, stop it; one result row a phase (and RSS rows)."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "realtime_fer.cli", "serve", "--port", str(port),
         "--max-viewers", str(max_viewers)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    rows = []
    try:
        deadline = time.monotonic() + 60
        while timed(port, "GET", "/healthz")[0] != 200:
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start: {server.stderr.read().decode()[-500:]}")
            time.sleep(0.3)
        before = process_stats(server.pid)
        for phase in phases:
            if phase == "load":
                path = "/api/predict" if uploads else "/api/predict?video=1"
                rows.append(load_phase(port, seconds, clients, viewers, path))
            elif phase == "bombs":
                rows.append(bombs_phase(port))
            elif phase == "slowloris":
                rows.append(slowloris_phase(port, slow_seconds))
            elif phase == "stalled":
                rows.append(stalled_phase(port, server.pid, max_viewers))
            elif phase == "bad":
                rows.append(bad_phase(port, server.pid, bad))
            elif phase == "soak":
                rows.append(soak_phase(port, server.pid, soak_seconds))
            time.sleep(1.0)
        time.sleep(6.0)  # the stream's source is released 5 s after its last viewer
        after = process_stats(server.pid)
        rows.append({"phase": "process", "before": before, "after": after,
                     "stream_state_after": viewer_status(port)["state"]})
    finally:
        server.terminate()
        server.wait(15)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--viewers", type=int, default=5)
    parser.add_argument("--slow-seconds", type=float, default=60)
    parser.add_argument("--phase", action="append", choices=PHASES, help="default: all but soak, in order")
    parser.add_argument("--uploads", action="store_true", help="post photo uploads, not camera frames")
    parser.add_argument("--bad", type=int, default=500, help="bad uploads in the bad phase")
    parser.add_argument("--soak-seconds", type=float, default=600)
    args = parser.parse_args()
    if not 0 < args.seconds <= 600 or not 0 < args.slow_seconds <= 600:
        parser.error("--seconds and --slow-seconds must be in (0, 600]")
    phases = args.phase or list(DEFAULT_PHASES)
    rows = run(args.seconds, args.clients, args.viewers, phases, args.slow_seconds, uploads=args.uploads,
               bad=args.bad, soak_seconds=args.soak_seconds)
    for row in rows:
        print(json.dumps(row))
    alone = {("bad",): "load_bad", ("soak",): "load_soak"}.get(tuple(phases))
    name = alone or ("load_uploads" if args.uploads else "load")
    print(f"wrote {write_results(name, rows, command=' '.join(['python', *sys.argv]))}")


if __name__ == "__main__":
    main()
