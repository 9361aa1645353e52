"""The shared reader behind /video_feed, driven by small fake producers."""

import threading
import time

import pytest

from realtime_fer.web.broadcast import Broadcast, Busy


class Producer:
    """Counts its runs; each yields ``items`` (forever if None), waiting for ``gate`` between items."""

    def __init__(self, items=None, fail_after=None):
        self.items = items
        self.fail_after = fail_after
        self.runs = 0
        self.closed = threading.Event()
        self.gate = threading.Semaphore(0)

    def __call__(self):
        self.runs += 1
        try:
            n = 0
            while self.items is None or n < self.items:
                if self.fail_after is not None and n == self.fail_after:
                    raise OSError("camera unplugged")
                self.gate.acquire(timeout=5)
                yield n
                n += 1
        finally:
            self.closed.set()


def test_a_viewer_gets_every_item_it_keeps_up_with_then_the_end():
    producer = Producer(items=3)
    broadcast = Broadcast(producer)
    with broadcast.join() as viewer:
        received = []
        for _ in range(3):
            producer.gate.release()
            received.append(viewer.next(timeout=5))
        assert received == [0, 1, 2]
        assert viewer.next(timeout=5) is None
    assert broadcast.status()["state"] == "ended"
    assert producer.closed.is_set()


def test_the_last_item_is_delivered_before_the_end():
    producer = Producer(items=2)
    broadcast = Broadcast(producer)
    viewer = broadcast.join()
    producer.gate.release(2)
    assert producer.closed.wait(5)  # the run is over before the viewer looks
    assert viewer.next(timeout=1) == 1  # the latest item, then the end
    assert viewer.next(timeout=1) is None
    viewer.close()


def test_viewers_share_one_run_and_a_late_viewer_starts_with_the_latest_item():
    producer = Producer()
    broadcast = Broadcast(producer, idle_timeout=0)
    first = broadcast.join()
    producer.gate.release()
    assert first.next(timeout=5) == 0
    second = broadcast.join()
    assert second.next(timeout=5) == 0
    producer.gate.release()
    assert first.next(timeout=5) == second.next(timeout=5) == 1
    assert producer.runs == 1 and broadcast.status()["viewers"] == 2
    first.close()
    second.close()
    first.close()  # closing twice does not count twice
    assert broadcast.status()["viewers"] == 0


def test_a_failure_ends_the_run_with_its_message_and_the_next_viewer_retries():
    producer = Producer(fail_after=1)
    broadcast = Broadcast(producer, idle_timeout=0, expected=(OSError,))
    with broadcast.join() as viewer:
        producer.gate.release()
        assert viewer.next(timeout=5) == 0
        assert viewer.next(timeout=5) is None
    status = broadcast.status()
    assert status["state"] == "failed" and status["error"] == "camera unplugged"
    with broadcast.join():
        deadline = time.monotonic() + 5
        while producer.runs < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert producer.runs == 2


def test_an_unexpected_failure_shows_no_internals():
    def produce():
        raise RuntimeError("[ONNXRuntimeError] : 2 : INVALID_ARGUMENT : /srv/models/x.onnx")
        yield

    broadcast = Broadcast(produce, idle_timeout=0, expected=(OSError,))
    with broadcast.join() as viewer:
        assert viewer.next(timeout=5) is None
    assert broadcast.status()["error"] == "internal error"


def test_the_run_stops_when_nobody_watches_and_restarts_on_demand():
    producer = Producer()
    broadcast = Broadcast(producer, idle_timeout=0.05)
    with broadcast.join() as viewer:
        producer.gate.release()
        assert viewer.next(timeout=5) == 0
    time.sleep(0.1)
    producer.gate.release()  # the next item is where the idle run notices it is alone
    assert producer.closed.wait(5)
    assert broadcast.status()["state"] == "idle"
    with broadcast.join() as viewer:
        producer.gate.release()
        assert viewer.next(timeout=5) == 0  # a new run starts from its first item
    assert producer.runs == 2


def test_viewer_limit_and_timeout():
    broadcast = Broadcast(Producer(), idle_timeout=0, max_viewers=1)
    with broadcast.join() as viewer:
        with pytest.raises(Busy):
            broadcast.join()
        started = time.monotonic()
        assert viewer.next(timeout=0.1) is None  # nothing arrived in time
        assert time.monotonic() - started >= 0.1


def test_close_stops_a_running_producer_and_waits_for_it():
    import itertools

    from realtime_fer.web.broadcast import Broadcast

    def endless():
        for n in itertools.count():
            time.sleep(0.01)
            yield n

    broadcast = Broadcast(endless, idle_timeout=60)
    with broadcast.join() as viewer:
        assert viewer.next(timeout=2) is not None
    broadcast.close()
    assert broadcast.status()["state"] == "idle"
    assert not broadcast._thread.is_alive()


def test_status_measures_the_rate_of_a_running_producer_and_latest_is_its_last_item():
    producer = Producer()
    broadcast = Broadcast(producer, idle_timeout=0)
    assert broadcast.latest() is None and broadcast.status()["fps"] is None
    with broadcast.join() as viewer:
        for _ in range(6):
            producer.gate.release()
            assert viewer.next(timeout=5) is not None
            time.sleep(0.05)  # about 20 items a second
        status = broadcast.status()
        assert status["state"] == "running" and 5 < status["fps"] <= 21
        assert broadcast.latest() == 5
    broadcast.close()
    assert broadcast.latest() is None and broadcast.status()["fps"] is None  # stopped: no rate, no item
