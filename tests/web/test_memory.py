"""The server caps glibc's malloc arenas (memory kept after bursts across its request threads)."""

import platform

import pytest

from realtime_fer.web import server


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt(M_ARENA_MAX) is glibc's")
def test_malloc_arenas_are_limited_on_glibc():
    assert server.limit_malloc_arenas(server.MALLOC_ARENAS) is True
