"""One producer, many viewers: the latest item of an iterator, shared by everyone who watches.

The MJPEG stream uses it so that a camera is read, analysed and encoded once however many browsers
watch. The producer runs in a background thread only while it is watched: the first viewer starts
it, and it stops when its iterator ends or raises, or ``idle_timeout`` seconds after the last viewer
left. Each viewer waits for the next item and skips any it was too slow to take, so a slow viewer
never holds back the others.
"""

import atexit
import logging
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from typing import Any

log = logging.getLogger(__name__)

# A run's states; the last three mean the producer has stopped.
STARTING, RUNNING, IDLE, ENDED, FAILED = "starting", "running", "idle", "ended", "failed"
_STOPPED = (IDLE, ENDED, FAILED)


_LIVE: "weakref.WeakSet[Broadcast]" = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    """At exit, stop every producer and wait for it: a daemon thread still inside OpenCV or ONNX
    Runtime while the interpreter tears down their libraries aborts the whole process."""
    for broadcast in list(_LIVE):
        broadcast.close()


class Busy(RuntimeError):
    """Every viewer slot is taken."""


class Broadcast:
    """Share the items of ``produce()`` (called afresh for each run) with any number of viewers.

    ``expected`` are the exceptions by which a producer normally fails (a camera that cannot be
    opened): they are logged in one line, anything else with its traceback.
    """

    def __init__(
        self,
        produce: Callable[[], Iterator[Any]],
        idle_timeout: float = 5.0,
        max_viewers: int | None = None,
        expected: tuple[type[Exception], ...] = (),
    ):
        self._produce = produce
        self.idle_timeout = idle_timeout
        self.max_viewers = max_viewers
        self._expected = expected
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._run = 0  # which run the current state belongs to
        self._state = IDLE
        self._error: str | None = None
        self._item: Any = None
        self._count = 0  # items published so far, over all runs
        self._published_at: float | None = None  # when the current run published its last item
        self._fps: float | None = None  # the current run's items per second, smoothed
        self._viewers = 0
        self._last_left = time.monotonic()
        self._closing = False
        _LIVE.add(self)

    def close(self, timeout: float = 5.0) -> None:
        """Stop the producer at its next item and wait for its thread (up to ``timeout`` s)."""
        with self._cond:
            self._closing = True
            thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def status(self) -> dict[str, Any]:
        """``state``, ``error`` (of a failed run), ``viewers``, ``frames`` published so far and ``fps``,
        the rate the running producer publishes them at (``None`` while it is not running)."""
        with self._cond:
            running = self._state == RUNNING
            return {
                "state": self._state, "error": self._error,
                "viewers": self._viewers, "frames": self._count,
                "fps": round(self._fps, 1) if running and self._fps else None,
            }

    def latest(self) -> Any | None:
        """The running producer's latest item, or ``None`` while it is not running."""
        with self._cond:
            return self._item if self._state == RUNNING else None

    def join(self) -> "Viewer":
        """A new viewer, starting the producer if it is not running; :class:`Busy` when full."""
        with self._cond:
            if self.max_viewers is not None and self._viewers >= self.max_viewers:
                raise Busy(f"all {self.max_viewers} viewer slots are taken; try again later")
            if self._state in _STOPPED:
                self._start()
            self._viewers += 1
            # a viewer joining a running stream gets the latest item at once
            seen = self._count - 1 if self._item is not None else self._count
            return Viewer(self, self._run, seen)

    def _leave(self) -> None:
        with self._cond:
            self._viewers -= 1
            if self._viewers == 0:
                self._last_left = time.monotonic()

    def _start(self) -> None:
        """Begin a new run (lock held). Its thread first waits for the previous run's thread, so a
        camera is never opened while the last run is still releasing it."""
        previous = self._thread
        self._run += 1
        self._state, self._error, self._item = STARTING, None, None
        self._published_at = self._fps = None
        self._thread = threading.Thread(
            target=self._loop, args=(previous, self._run), name=f"broadcast-{self._run}", daemon=True
        )
        self._thread.start()

    def _loop(self, previous: threading.Thread | None, run: int) -> None:
        if previous is not None:
            previous.join()
        state, error = ENDED, None
        items = None
        try:
            items = self._produce()
            for item in items:
                with self._cond:
                    self._item = item
                    self._count += 1
                    self._state = RUNNING
                    self._measure(time.monotonic())
                    self._cond.notify_all()
                    idle = time.monotonic() - self._last_left
                    if self._closing or (self._viewers == 0 and idle > self.idle_timeout):
                        # stopped under the lock, so no viewer can join this run from now on
                        self._stop(IDLE, None)
                        return
        except Exception as exc:  # any failure of the source ends this run, not the server
            expected = isinstance(exc, self._expected)
            log.warning("stream run %d failed: %s", run, exc, exc_info=not expected)
            # an expected failure's message is written for visitors; anything else may hold internals
            state, error = FAILED, (str(exc) or type(exc).__name__) if expected else "internal error"
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()  # releases the source (a generator's finally / with blocks run now)
        with self._cond:
            self._stop(state, error)

    def _measure(self, now: float) -> None:
        """Fold the time since the last item into the smoothed rate (lock held)."""
        if self._published_at is not None and now > self._published_at:
            rate = 1 / (now - self._published_at)
            self._fps = rate if self._fps is None else 0.9 * self._fps + 0.1 * rate
        self._published_at = now

    def _stop(self, state: str, error: str | None) -> None:
        """End the current run (lock held) and wake every viewer so they can finish."""
        self._state, self._error = state, error
        self._cond.notify_all()


class Viewer:
    """One viewer of a :class:`Broadcast` run; iterate for items, and close when done."""

    def __init__(self, broadcast: Broadcast, run: int, seen: int):
        self._broadcast = broadcast
        self._run = run
        self._seen = seen
        self._closed = False

    def next(self, timeout: float) -> Any | None:
        """The next item not seen yet, or ``None`` once the run is over or after ``timeout`` s."""
        b = self._broadcast
        deadline = time.monotonic() + timeout
        with b._cond:
            while not self._closed:
                if b._run != self._run:
                    return None  # this viewer's run is over and another has started
                if b._count > self._seen:
                    # the last item of a finished run is still handed out before the end
                    self._seen = b._count
                    return b._item
                if b._state in _STOPPED:
                    return None
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                b._cond.wait(remaining)
        return None

    @property
    def over(self) -> bool:
        """Whether :meth:`next` can return nothing more: closed, or the run ended and all seen."""
        b = self._broadcast
        with b._cond:
            return (
                self._closed or b._run != self._run or (b._state in _STOPPED and b._count <= self._seen)
            )

    def close(self) -> None:
        """Leave the broadcast (idempotent)."""
        if not self._closed:
            self._closed = True
            self._broadcast._leave()

    def __enter__(self) -> "Viewer":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
