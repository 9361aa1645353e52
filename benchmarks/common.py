"""Shared helpers for the benchmark scripts: timing, machine description, tables and JSON output."""

import json
import os
import platform
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from realtime_fer.cpu import cpu_model, speed_flags

RESULTS = Path(__file__).resolve().parent / "results"
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "fer2013"


def median_ms(function: Callable[[], object], runs: int, warmup: int = 20) -> float:
    """Median wall time of ``function()`` in milliseconds over ``runs`` calls after a warm-up."""
    for _ in range(warmup):
        function()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return float(np.median(times) * 1000)


def machine() -> dict:
    """What the numbers were measured on: the CPU's model name (as ``lscpu`` shows it) and ISA flags."""
    return {
        "cpu": cpu_model(),
        "isa": speed_flags(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def describe_machine() -> str:
    """One line for a benchmark's output: the CPU, its cores and which ISA flags it has."""
    found = machine()
    flags = " ".join(f"{flag}{'+' if has else '-'}" for flag, has in found["isa"].items()) or "flags unknown"
    return f"CPU: {found['cpu']} ({found['cores']} cores; {flags})"


def table(rows: list[dict], columns: list[str]) -> str:
    """A plain-text table of ``rows`` (dicts) with the given ``columns``."""

    def cell(value: object) -> str:
        return f"{value:.3f}" if isinstance(value, float) else str(value)

    widths = [max(len(c), *(len(cell(r.get(c, ""))) for r in rows)) for c in columns]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += [
        "  ".join(cell(r.get(c, "")).ljust(w) for c, w in zip(columns, widths, strict=True)) for r in rows
    ]
    return "\n".join(lines)


def write_results(name: str, rows: list[dict], **extra: object) -> Path:
    """``benchmarks/results/<name>.json`` with the rows, the machine and the time of measurement."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload = {
        "benchmark": name,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        **extra,
        "rows": rows,
    }
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path
