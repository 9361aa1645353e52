"""A bound on heavy work (decoding and analysing uploads): so many at once, so many waiting, so long.

Without it every request thread decodes and analyses at the same time, so a burst of expensive
uploads shares the CPU until each takes many seconds, memory grows with their number, and cheap
requests such as /healthz wait behind them. With it, at most ``workers`` jobs run; up to ``queue``
more wait, each at most ``wait_seconds``; anything beyond is refused at once with
:class:`Overloaded` (the API's 503 with Retry-After). When a burst that had a ``large`` job is
over (none working or waiting for ``idle_seconds``), ``on_idle`` runs in a thread of its own: the app
frees the memory the burst's largest images took. Uploads closer together than that keep it, so a
user's next photo does not pay for allocating it again (camera frames, all of one size, leave
nothing worth freeing).
"""

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class Overloaded(RuntimeError):
    """No slot is free and the queue is full, or the wait for a slot ran out."""


class Gate:
    """Up to ``workers`` holders of :meth:`slot` at once, and ``queue`` more waiting for one."""

    def __init__(
        self, workers: int, queue: int, wait_seconds: float,
        on_idle: Callable[[], object] | None = None, idle_seconds: float = 0.0,
    ):
        if workers < 1 or queue < 0 or wait_seconds < 0:
            raise ValueError(f"a gate needs workers >= 1, queue >= 0, wait >= 0; got {workers}, {queue}, "
                             f"{wait_seconds}")
        self.workers, self.queue, self.wait_seconds = workers, queue, wait_seconds
        self._slots = threading.Semaphore(workers)
        self._lock = threading.Lock()
        self._inside = 0  # working and waiting
        self._on_idle, self.idle_seconds = on_idle, idle_seconds
        self._large_since_idle = False
        self._idle_timer: threading.Timer | None = None

    @contextmanager
    def slot(self, large: bool = True) -> Iterator[None]:
        """Hold one of the ``workers`` slots for the block; :class:`Overloaded` if none comes.
        ``large``: the job may leave memory worth freeing once the burst is over (an upload)."""
        with self._lock:
            if self._inside >= self.workers + self.queue:
                raise Overloaded(f"busy: {self.workers} analyses running and {self.queue} waiting")
            self._inside += 1
            self._large_since_idle |= large
            if self._idle_timer is not None:  # the burst goes on
                self._idle_timer.cancel()
                self._idle_timer = None
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
                if self._inside == 0 and self._large_since_idle and self._on_idle is not None:
                    self._idle_timer = threading.Timer(self.idle_seconds, self._idle)
                    self._idle_timer.daemon = True
                    self._idle_timer.start()

    def _idle(self) -> None:
        """The timer's end: ``on_idle``, unless a job came in meanwhile."""
        with self._lock:
            if self._inside or not self._large_since_idle or self._on_idle is None:
                return
            self._large_since_idle = False
            self._idle_timer = None
        self._on_idle()
