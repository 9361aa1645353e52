"""Training data memory-mapped from the cache against held in memory: the time to open a split, the
images/s of one shuffled epoch of batches (gathering the rows and converting them to float32, all the
training loop does before augmenting), and the peak resident memory of the process.

- in memory: the split read whole into RAM and converted to float32 up front (the loader before the
  cache was memory-mapped);
- memory-mapped: the cache's uint8 rows read when a batch needs them and converted batch by batch
  (``realtime_fer.train.batch_inputs``, what ``realtime-fer train`` does now).

Each row runs in a fresh process, so the peak memory is its own. Rows: FER-2013's training split (from
``--data``), and a synthetic cache of ``--synthetic`` random faces (AffectNet-sized by default) written
straight into the cache format. The page cache is warm in every row (this box cannot drop it).

    python benchmarks/loader_memory.py [--data ../shared/fer2013] [--synthetic 300000] [--batch 64]
"""

import argparse
import multiprocessing
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
from common import SHARED_DATA, table, write_results

MODES = ("in memory", "memory-mapped")


def one_epoch(images_file: str, mode: str, batch: int) -> dict:
    """Open ``images_file`` as ``mode`` and gather one shuffled epoch of float batches (in a child)."""
    import torch

    from realtime_fer.preprocess import to_model_input
    from realtime_fer.train import batch_inputs, batches

    torch.set_num_threads(1)
    start = time.perf_counter()
    if mode == "in memory":
        images = torch.from_numpy(to_model_input(np.load(images_file)))
    else:
        images = np.load(images_file, mmap_mode="r")
    opened = time.perf_counter()
    checksum = 0.0
    for index in batches(len(images), batch, torch.Generator().manual_seed(0)):
        inputs = images[index] if mode == "in memory" else batch_inputs(images, index)
        checksum += float(inputs[:, 0, 0, 0].sum())  # touch the batch
    seconds = time.perf_counter() - opened
    return {
        "open_s": round(opened - start, 3),
        "epoch_s": round(seconds, 3),
        "images_per_s": round(len(images) / seconds),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "checksum": round(checksum, 3),
    }


def measure(name: str, images_file: Path, batch: int) -> list[dict]:
    rows = []
    faces = len(np.load(images_file, mmap_mode="r"))
    for mode in MODES:
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            result = pool.apply(one_epoch, (str(images_file), mode, batch))
        rows.append({"data": name, "faces": faces, "loader": mode, **result})
    assert rows[0]["checksum"] == rows[1]["checksum"], "the two loaders gave different batches"
    return rows


def fer2013_images(root: str) -> Path:
    """The cached ``images.npy`` of FER-2013's training split (built into the cache if missing)."""
    from realtime_fer import data

    faces = data.load(root, "train")
    return data.cache_dir() / faces.fingerprint / "images.npy"


def synthetic_images(folder: Path, count: int) -> Path:
    path = folder / "images.npy"
    images = np.lib.format.open_memmap(path, "w+", np.uint8, (count, 48, 48))
    rng = np.random.default_rng(0)
    for begin in range(0, count, 50_000):
        end = min(count, begin + 50_000)
        images[begin:end] = rng.integers(0, 256, (end - begin, 48, 48), dtype=np.uint8)
    images.flush()
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default=str(SHARED_DATA))
    parser.add_argument("--synthetic", type=int, default=300_000, help="faces in the synthetic set (0: none)")
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()
    rows = []
    if Path(args.data).is_dir():
        rows += measure("FER-2013 train", fer2013_images(args.data), args.batch)
    if args.synthetic:
        with tempfile.TemporaryDirectory(dir=os.environ.get("TMPDIR")) as folder:
            rows += measure("synthetic", synthetic_images(Path(folder), args.synthetic), args.batch)
    columns = ["data", "faces", "loader", "open_s", "epoch_s", "images_per_s", "peak_rss_mb"]
    print(table(rows, columns))
    print(f"wrote {write_results('loader_memory', rows, batch=args.batch)}")


if __name__ == "__main__":
    main()
