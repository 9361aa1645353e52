"""What the server keeps of its memory: glibc's malloc arenas capped, and after a burst of uploads the
stills detector's buffers and malloc's free memory handed back (benchmarks/load.py's ``bad`` phase
measures the RSS)."""

import platform
import threading
import time

import pytest

from realtime_fer.demo import demo_image
from realtime_fer.detector import create_detector
from realtime_fer.web import create_app, heap
from realtime_fer.web.gate import Gate
from realtime_fer.web.services import services
from tests.web.conftest import encode, one_face_frame

GLIBC = platform.libc_ver()[0] == "glibc"


@pytest.mark.skipif(not GLIBC, reason="mallopt(M_ARENA_MAX) is glibc's")
def test_malloc_arenas_are_limited_and_free_memory_trimmed_on_glibc():
    assert heap.limit_malloc_arenas(heap.MALLOC_ARENAS) is True
    assert heap.trim_malloc() is True


def wait_until(condition, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
    return condition()


def test_the_gate_runs_its_idle_hook_once_a_burst_with_a_large_job_is_over():
    calls: list[int] = []
    gate = Gate(workers=1, queue=1, wait_seconds=5, on_idle=lambda: calls.append(1), idle_seconds=0.2)

    def second() -> None:
        with gate.slot():
            pass

    with gate.slot():
        waiter = threading.Thread(target=second)
        waiter.start()
        assert wait_until(lambda: gate._inside == 2)  # the second job is queued
    waiter.join(5)
    with gate.slot():  # within idle_seconds: the same burst
        pass
    assert calls == []
    assert wait_until(lambda: calls == [1])  # once, after the burst's quiet
    time.sleep(0.3)
    assert calls == [1]
    with gate.slot(large=False):  # a camera frame: nothing worth freeing
        pass
    time.sleep(0.4)
    assert calls == [1]


def test_the_stills_detector_is_freed_after_a_burst_of_uploads_not_camera_frames(config, monkeypatch):
    app = create_app({**config, "RELEASE_AFTER_IDLE_SECONDS": 0.1})
    client = app.test_client()
    with app.app_context():
        detector = services().pipeline.detector
    freed: list[int] = []
    monkeypatch.setattr(detector, "release_memory", lambda: freed.append(1))
    frame = encode(one_face_frame())
    assert client.post("/api/predict?video=1", data=frame, content_type="image/jpeg").status_code == 200
    time.sleep(0.4)
    assert freed == []  # camera frames leave nothing to free
    assert client.post("/api/predict", data=frame, content_type="image/jpeg").status_code == 200
    assert wait_until(lambda: freed == [1])


@pytest.mark.skipif(platform.system() != "Linux", reason="reads the RSS from /proc")
@pytest.mark.parametrize("name", ["centerface", "blazeface"])
def test_a_detector_hands_back_what_a_large_still_took_and_detects_as_before(name):
    def rss_mb() -> float:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) / 1024

    detector = create_detector(name, video=False)
    still = demo_image((2048, 1536))
    found = detector.detect(still)
    held = rss_mb()
    detector.release_memory()
    heap.trim_malloc()
    if name == "centerface":  # its full-resolution pass keeps hundreds of MB in the session's arena
        assert rss_mb() < held - 100
    assert (detector.detect(still) == found).all() and len(found) == 6
