"""Training throughput (images/s) in 1 and in N processes under ``torchrun`` (DDP, gloo on the CPU).

Each row is ``realtime-fer train`` itself, launched by ``torchrun --standalone --nproc_per_node=N``
with the machine's cores split evenly over the processes (``OMP_NUM_THREADS``), for ``--epochs`` epochs of
``--faces`` random 48x48 faces (a synthetic Kaggle tree, decoded into a fresh cache first); the
images/s is the training pass of the last epoch, over all processes (``history.csv``).

    python benchmarks/ddp_speed.py [--model paper] [--faces 2560] [--epochs 2] [--processes 1 2]
"""

import argparse
import csv
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
from common import table, write_results

from realtime_fer.emotions import EMOTIONS
from realtime_fer.options import TRAIN_PRECISIONS


def write_faces(root: Path, count: int) -> None:
    """``count`` random faces as ``root/train/<class>/`` and a tenth as many in ``root/test/``."""
    rng = np.random.default_rng(0)
    for split, n in (("train", count), ("test", max(7, count // 10))):
        for i in range(n):
            folder = root / split / EMOTIONS[i % len(EMOTIONS)]
            folder.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(folder / f"Training_{i}.png"), rng.integers(0, 256, (48, 48), dtype=np.uint8))


def run(processes: int, root: Path, out: Path, args: argparse.Namespace) -> dict:
    threads = max(1, (os.cpu_count() or 1) // processes)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"]
    command += ["-m", "realtime_fer.cli", "train", "--data", str(root), "--arch", args.model]
    command += ["--epochs", str(args.epochs), "--out", str(out), "--train-precision", args.precision]
    subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    last = list(csv.DictReader((out / "history.csv").read_text().splitlines()))[-1]
    return {
        "processes": processes,
        "threads_each": threads,
        "model": args.model,
        "faces": args.faces,
        "images_per_s": float(last["images_per_s"]),
        "epoch_s": float(last["seconds"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="paper")
    parser.add_argument("--faces", type=int, default=2560)
    parser.add_argument("--epochs", type=int, default=2, help="the last one is timed")
    parser.add_argument("--precision", default="fp32", choices=TRAIN_PRECISIONS)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        os.environ["REALTIME_FER_CACHE"] = str(Path(folder) / "cache")  # never the user's
        root = Path(folder) / "faces"
        write_faces(root, args.faces)
        rows = [run(n, root, Path(folder) / f"run{n}", args) for n in args.processes]
    for row in rows:
        row["vs_1"] = round(row["images_per_s"] / rows[0]["images_per_s"], 2)
    print(table(rows, list(rows[0])))
    print(f"wrote {write_results(f'ddp_speed_{args.model}', rows, epochs=args.epochs)}")


if __name__ == "__main__":
    main()
