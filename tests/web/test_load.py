"""The short form of benchmarks/load.py: a real server process, a few API clients and a viewer for
a few seconds, and the scan bombs; it checks behaviour (no errors, frames arrive, bombs refused),
never timings."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
load = pytest.importorskip("load")


@pytest.mark.slow
def test_load_short_form():
    rows = {row["phase"]: row for row in load.run(3, clients=2, viewers=1, phases=["load", "bombs"],
                                                  slow_seconds=1, max_viewers=2)}
    assert rows["load"]["requests"] > 0 and rows["load"]["errors"] == 0
    assert rows["load"]["viewer_fps_mean"][0] > 0 and rows["load"]["viewer_errors"] == []
    assert rows["bombs"]["statuses"] == [413]
    assert rows["process"]["stream_state_after"] == "idle"  # the producer stopped with no viewer
    assert rows["process"]["after"]["fds"] <= rows["process"]["before"]["fds"] + 2
