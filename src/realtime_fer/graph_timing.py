"""Which of a model's allowed graphs (fp32, int8) is faster on this machine: timed side by side on
first use, a fraction of a second, and remembered per CPU, provider, setting and graph files.

int8 is not faster everywhere: on an AVX2-only AMD EPYC (no VNNI), issue 29 measured ``accurate``'s
int8 graph at 8.34 ms a face against fp32's 7.98 ms. The choice is kept in ``serving.json`` under the
cache folder (:func:`realtime_fer.data.cache_dir`); an unreadable or unwritable cache only means timing
again.
"""

import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from realtime_fer.cpu import cpu_model
from realtime_fer.data import cache_dir

CACHE_FILE = "serving.json"
CACHE_VERSION = 1
MAX_ENTRIES = 64  # choices kept; the oldest go first
BUDGET_S = 0.3  # timing stops after this long once each graph has MIN_RUNS
MIN_RUNS, MAX_RUNS = 3, 15  # timed calls per graph


@dataclass(frozen=True)
class Timed:
    """The graph chosen, its session, each graph's median ms a call, and whether that came from the cache."""

    precision: str
    session: ort.InferenceSession
    ms: dict[str, float]
    cached: bool


def time_sessions(sessions: dict[str, ort.InferenceSession], batch: np.ndarray) -> dict[str, float]:
    """Median ms a call of each session on ``batch``, the sessions taking turns (so that other work on
    the machine weighs on each alike), after a warm-up call each."""
    feeds = {name: {s.get_inputs()[0].name: batch} for name, s in sessions.items()}
    for name, session in sessions.items():
        session.run(None, feeds[name])
    times: dict[str, list[float]] = {name: [] for name in sessions}
    start = time.perf_counter()
    for run in range(MAX_RUNS):
        if run >= MIN_RUNS and time.perf_counter() - start > BUDGET_S:
            break
        for name, session in sessions.items():
            begin = time.perf_counter()
            session.run(None, feeds[name])
            times[name].append((time.perf_counter() - begin) * 1000)
    return {name: round(float(np.median(t)), 4) for name, t in times.items()}


def fastest(
    graphs: dict[str, Path],
    open_session: Callable[[Path], ort.InferenceSession],
    batch: np.ndarray,
    setting: str,
) -> Timed:
    """The faster of ``graphs`` (by precision) on ``batch``, from the cache or timed now and cached.

    ``setting`` names what else the timing depends on (provider, threads, views), for the cache key.
    """
    key = cache_key(graphs, setting, batch.shape)
    known = read_cache().get(key)
    if known and known.get("precision") in graphs and isinstance(known.get("ms"), dict):
        return Timed(known["precision"], open_session(graphs[known["precision"]]), known["ms"], True)
    sessions = {name: open_session(path) for name, path in graphs.items()}
    ms = time_sessions(sessions, batch)
    precision = min(ms, key=lambda name: ms[name])
    write_cache(key, {"precision": precision, "ms": ms, "cpu": cpu_model(), "setting": setting,
                      "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
    return Timed(precision, sessions[precision], ms, False)


def cache_key(graphs: dict[str, Path], setting: str, shape: tuple[int, ...]) -> str:
    files = {name: _file_sha256(path) for name, path in sorted(graphs.items())}
    text = json.dumps([cpu_model(), setting, list(shape), files])
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def read_cache() -> dict[str, dict]:
    """The cached choices by key ({} when there are none or the file is unreadable)."""
    try:
        payload = json.loads((cache_dir() / CACHE_FILE).read_text())
    except (OSError, ValueError):
        return {}
    valid = isinstance(payload, dict) and payload.get("version") == CACHE_VERSION
    choices = payload.get("choices") if valid else None
    return choices if isinstance(choices, dict) else {}


def write_cache(key: str, entry: dict) -> None:
    """Add a choice to the cache, atomically; a folder that cannot be written is let be."""
    choices = read_cache()
    choices.pop(key, None)
    choices[key] = entry
    kept = dict(list(choices.items())[-MAX_ENTRIES:])
    folder = cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=folder, suffix=".tmp", delete=False) as handle:
            json.dump({"version": CACHE_VERSION, "choices": kept}, handle, indent=1)
        os.replace(handle.name, folder / CACHE_FILE)
    except OSError:
        pass


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(2**20), b""):
            digest.update(block)
    return digest.hexdigest()
