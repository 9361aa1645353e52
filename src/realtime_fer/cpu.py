"""What the CPU is: its model name and the instruction-set flags that decide inference and training
speed, read from ``/proc/cpuinfo`` (empty where there is none)."""

import platform
from functools import lru_cache
from pathlib import Path

SPEED_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_int8", "amx_bf16")


@lru_cache(maxsize=1)
def _cpuinfo() -> dict[str, str]:
    """The first processor's ``key: value`` lines of /proc/cpuinfo."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return {}
    fields = {}
    for line in text.split("\n\n", 1)[0].splitlines():
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    return fields


def cpu_model() -> str:
    """The CPU's model name (``lscpu``'s "Model name")."""
    return _cpuinfo().get("model name") or platform.processor() or platform.machine()


def speed_flags() -> dict[str, bool]:
    """Whether the CPU has each of :data:`SPEED_FLAGS` (what int8, fp32 and bf16 speed hang on); empty
    where the flags cannot be read."""
    if "flags" not in _cpuinfo():
        return {}
    flags = set(_cpuinfo()["flags"].split())
    return {flag: flag in flags for flag in SPEED_FLAGS}


def has_native_bf16() -> bool:
    """True when the CPU has native bf16 instructions (AVX512-BF16 or AMX)."""
    flags = set(_cpuinfo().get("flags", "").split())
    return bool(flags & {"avx512_bf16", "amx_bf16"})
