"""Frames read and detected ahead, on threads of their own, while earlier frames are classified and used.

A live frame's work is detection, then classification, then drawing and encoding (or writing). Done
one after the other they use one core at a time; :class:`Lookahead` reads each frame on a reader
thread as soon as the source gives it and starts its detection at once on one of ``ahead`` detection
threads, so the detection of the next frames runs while the consumer classifies and draws this one.
Frames come out in their order. A source that paces itself (a camera, a live stream) adds no wait:
a frame is handed on as soon as its own detection is done, never held back for a later frame, and
detections overlap only when frames are waiting, that is when the analysis is behind the source.
"""

import contextlib
import os
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, TypeVar

import numpy as np

T = TypeVar("T")
# Detections in flight: on two cores, two (one face, 640x480: 75 against 51 frames/s for one at a time,
# benchmarks/end_to_end.py); on one core, none (threads there only add switching)
DEFAULT_AHEAD = 2 if (os.cpu_count() or 1) > 1 else 0
_POLL_S = 0.05  # how often a blocked reader checks whether the consumer has stopped


class _End:
    """What the reader puts last: the source ended, or ``error`` is what it raised."""

    def __init__(self, error: BaseException | None = None):
        self.error = error


class Lookahead(Generic[T]):
    """Iterates ``(frame, future)`` pairs, in the order of ``frames``, where ``future`` holds
    ``detect(frame, index)`` (``index``: the frame's place in
    ``frames``, from 0); at most ``ahead`` frames are read and detected before the consumer takes them.

    Use it as a context manager: leaving it stops the reader and waits for the detections under way.
    An exception from ``frames`` is raised where the consumer reaches it; one from ``detect`` by the
    future's ``result()``.
    """

    def __init__(self, frames: Iterable[np.ndarray], detect: Callable[[np.ndarray, int], T], ahead: int):
        if ahead < 1:
            raise ValueError(f"ahead must be at least 1, got {ahead}")
        self._frames = frames
        self._detect = detect
        self._pool = ThreadPoolExecutor(ahead, thread_name_prefix="detect")
        self._queue: queue.Queue = queue.Queue(maxsize=ahead)
        self._stop = threading.Event()
        self._reader = threading.Thread(target=self._read, name="frame-reader", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        end = _End()
        try:
            for index, frame in enumerate(self._frames):
                if not self._put((frame, self._pool.submit(self._detect, frame, index))):
                    return
        except BaseException as error:  # handed to the consumer, which raises it
            end = _End(error)
        self._put(end)

    def _put(self, item: object) -> bool:
        """Queue ``item`` unless the consumer stops first (False then)."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> Iterator[tuple[np.ndarray, "Future[T]"]]:
        while True:
            item = self._queue.get()
            if isinstance(item, _End):
                if item.error is not None:
                    raise item.error
                return
            yield item

    def close(self) -> None:
        """Stop reading, let the reader finish the frame it is reading, and drop what is queued."""
        self._stop.set()
        while self._reader.is_alive():
            with contextlib.suppress(queue.Empty):
                self._queue.get(timeout=_POLL_S)
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> "Lookahead[T]":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
