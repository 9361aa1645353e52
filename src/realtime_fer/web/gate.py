"""A bound on heavy work (decoding and analysing uploads): so many at once, so many waiting, so long.

Without it every request thread decodes and analyses at the same time, so a burst of expensive
uploads shares the CPU until each takes many seconds, memory grows with their number, and cheap
requests such as /healthz wait behind them. With it, at most ``workers`` jobs run; up to ``queue``
more wait, each at most ``wait_seconds``; anything beyond is refused at once with
:class:`Overloaded` (the API's 503 with Retry-After).
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class Overloaded(RuntimeError):
    """No slot is free and the queue is full, or the wait for a slot ran out."""


class Gate:
    """Up to ``workers`` holders of :meth:`slot` at once, and ``queue`` more waiting for one."""

    def __init__(self, workers: int, queue: int, wait_seconds: float):
        if workers < 1 or queue < 0 or wait_seconds < 0:
            raise ValueError(f"a gate needs workers >= 1, queue >= 0, wait >= 0; got {workers}, {queue}, "
                             f"{wait_seconds}")
        self.workers, self.queue, self.wait_seconds = workers, queue, wait_seconds
        self._slots = threading.Semaphore(workers)
        self._lock = threading.Lock()
        self._inside = 0  # working and waiting

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one of the ``workers`` slots for the block; :class:`Overloaded` if none comes."""
        with self._lock:
            if self._inside >= self.workers + self.queue:
                raise Overloaded(f"busy: {self.workers} analyses running and {self.queue} waiting")
            self._inside += 1
        try:
            if not self._slots.acquire(timeout=self.wait_seconds):
                raise Overloaded(f"busy: no analysis slot came free within {self.wait_seconds:g} s")
            try:
                yield
            finally:
                self._slots.release()
        finally:
            with self._lock:
                self._inside -= 1
