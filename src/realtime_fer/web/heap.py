"""What the server process keeps of its memory after bursts of large uploads (glibc's malloc; a no-op
elsewhere). Request threads would each get a malloc arena of their own (8 per core by default), and
freed memory stays in the process until it is trimmed: :func:`limit_malloc_arenas` caps the arenas
before the threads start, :func:`trim_malloc` hands the free memory back to the system once a burst
of analyses is over (benchmarks/load.py's ``bad`` phase measures both)."""

import ctypes
import ctypes.util
from functools import cache
from typing import Any

MALLOC_ARENAS = 2  # glibc's heaps shared by all threads (its default: 8 per core)
_M_ARENA_MAX = -8  # mallopt's parameter, from glibc's malloc.h


@cache
def _glibc_function(name: str) -> Any:
    """``name`` from the C library, or None where that is not glibc (musl, macOS, Windows). Looked up
    once: finding the library runs ``ldconfig``."""
    library = ctypes.util.find_library("c")
    try:
        return getattr(ctypes.CDLL(library), name) if library else None
    except (OSError, AttributeError):
        return None


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> bool:
    """Cap glibc's malloc arenas for the whole process; False where the C library is not glibc."""
    mallopt = _glibc_function("mallopt")
    return bool(mallopt and mallopt(_M_ARENA_MAX, arenas))


def trim_malloc() -> bool:
    """Return the free memory of every malloc arena to the system; False where it is not glibc."""
    malloc_trim = _glibc_function("malloc_trim")
    if malloc_trim is None:
        return False
    malloc_trim(0)
    return True
