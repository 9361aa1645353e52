"""``realtime-fer batch`` throughput: files/s and frames/s for one and two local worker processes and a
Dask LocalCluster of two, side by side on the same clips.

The clips are stretches of the demo scene (three bundled FER-2013 faces drifting on a 640x480 frame,
``realtime_fer.demo.write_demo_clip``), each starting elsewhere in the scene, as MJPG .avi. Every row
runs ``run_batch`` as ``realtime-fer batch`` does (the default model and detector, each file's full
report: faces.csv, tracks.csv, summary.json, timeline.png) into a fresh folder, and is timed from the
call to its return: worker start-up (spawning, loading the model, for Dask the cluster) included. A
one-clip batch before the rows loads the calling process's pipeline, so the one-worker row (which
runs in it) starts warm. Rows take turns over ``--rounds``; the table gives each row's best round, the
JSON every round and the load average before and after (the machine may be shared). ``clip_s`` is the
median time a clip's frames took inside its worker (its ``summary.json``'s ``elapsed_s``: decoding,
detection, classification, tracking; not the start-up nor the report's tracks.csv and timeline.png),
to tell slower work from slower start-up. Needs the cluster extra (``pip install -e ".[cluster]"``)
for the Dask row.

    python benchmarks/batch.py [--clips 6] [--frames 90] [--rounds 2]
"""

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from common import describe_machine, table, write_results

from realtime_fer.batch import Settings, run_batch
from realtime_fer.demo import write_demo_clip
from realtime_fer.detector import DEFAULT_DETECTOR
from realtime_fer.model_folder import DEFAULT_MODEL

CONFIGS = {  # row name: (engine, workers)
    "local, 1 worker": ("local", 1),
    "local, 2 workers": ("local", 2),
    "dask LocalCluster, 2 workers": ("dask", 2),
}
FPS = 15.0


def _load() -> tuple[float, ...]:
    """The load average over 1, 5 and 15 minutes: how busy the machine was besides this."""
    return tuple(round(value, 2) for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=int, default=6, help="clips in the batch")
    parser.add_argument("--frames", type=int, default=90, help="frames a clip (at 15 fps)")
    parser.add_argument("--rounds", type=int, default=2, help="times each row runs, taking turns")
    args = parser.parse_args()
    print(describe_machine())
    settings = Settings(DEFAULT_MODEL, DEFAULT_DETECTOR)
    with tempfile.TemporaryDirectory() as tmp:
        clips = Path(tmp) / "clips"
        clips.mkdir()
        for index in range(args.clips):  # 7 s apart: other faces, other places
            write_demo_clip(clips / f"clip{index:02d}.avi", args.frames, FPS, start=round(index * 7 * FPS))
        frames = args.clips * args.frames
        run_batch([str(clips / "clip00.avi")], Path(tmp) / "warm-up", settings)
        load_before = _load()
        times: dict[str, list[float]] = {name: [] for name in CONFIGS}
        per_file: dict[str, list[float]] = {name: [] for name in CONFIGS}
        for _ in range(args.rounds):
            for name, (engine, workers) in CONFIGS.items():
                out = Path(tmp) / "out"
                start = time.perf_counter()
                result = run_batch([str(clips)], out, settings, workers, engine=engine)
                times[name].append(time.perf_counter() - start)
                if result.done != args.clips:
                    raise SystemExit(f"{name}: {result.failed} of {args.clips} clips failed")
                per_file[name].append(statistics.median(
                    json.loads(path.read_text())["elapsed_s"] for path in out.glob("*/summary.json")))
                shutil.rmtree(out)
    load_after = _load()
    rows = [{"batch": name, "engine": CONFIGS[name][0], "workers": CONFIGS[name][1],
             "wall_s": round(min(runs), 2), "files_per_s": round(args.clips / min(runs), 2),
             "frames_per_s": round(frames / min(runs), 1), "clip_s": round(min(per_file[name]), 2),
             "rounds_s": [round(t, 2) for t in runs], "rounds_clip_s": [round(t, 2) for t in per_file[name]]}
            for name, runs in times.items()]
    print(f"{args.clips} clips x {args.frames} frames (640x480, 3 faces a frame), {DEFAULT_MODEL}, "
          f"{DEFAULT_DETECTOR} detector; best of {args.rounds} rounds")
    print(table(rows, ["batch", "wall_s", "files_per_s", "frames_per_s", "clip_s"]))
    print("load average (1, 5, 15 min) before: {:.2f} {:.2f} {:.2f}, after: {:.2f} {:.2f} {:.2f}".format(
        *load_before, *load_after))
    path = write_results("batch", rows, clips=args.clips, frames_per_clip=args.frames, clip_fps=FPS,
                         model=DEFAULT_MODEL, detector=DEFAULT_DETECTOR, rounds=args.rounds,
                         load_average_before=load_before, load_average_after=load_after)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
