"""Fuzz the upload path: mutated JPEG/PNG/WebP files (bit flips, truncations, insertions, repeated
slices, as the scan bomb repeats its scans) posted to /api/predict through the app's test client.

Counts answers by status; a 5xx, an exception escaping the app or a request over ``--slow`` seconds
is a failure. Seeded, so a run can be repeated:

    python benchmarks/fuzz_decode.py [--count 100000] [--seed 0]
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from common import write_results

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for the test fixtures' builders

from realtime_fer.web import create_app  # noqa: E402
from tests.web.nasty import MUTATIONS, mutate, seed_images  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--slow", type=float, default=3.0, help="seconds after which a request is a hang")
    args = parser.parse_args()
    client = create_app({"TESTING": False}).test_client()
    seeds = seed_images()
    rng = np.random.default_rng(args.seed)
    statuses: dict[str, int] = {}
    crashes, slow, worst = 0, 0, 0.0
    start = time.perf_counter()
    for n in range(args.count):
        edits = [
            (MUTATIONS[rng.integers(len(MUTATIONS))], float(rng.random()), int(rng.integers(256)))
            for _ in range(rng.integers(1, 7))
        ]
        data = mutate(seeds[n % len(seeds)], edits)
        began = time.perf_counter()
        try:
            response = client.post("/api/predict", data=data, content_type="application/octet-stream")
            status = response.status_code
        except Exception as error:  # the app let something escape: a crash
            crashes += 1
            print(f"input {n}: {type(error).__name__}: {error}", file=sys.stderr)
            continue
        took = time.perf_counter() - began
        worst = max(worst, took)
        slow += took > args.slow
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    elapsed = time.perf_counter() - start
    server_errors = sum(count for status, count in statuses.items() if status.startswith("5"))
    row = {"inputs": args.count, "seed": args.seed, "statuses": dict(sorted(statuses.items())),
           "crashes": crashes, "5xx": server_errors, "slow": slow, "worst_ms": round(worst * 1000, 1),
           "seconds": round(elapsed, 1)}
    print(row)
    print(f"wrote {write_results('fuzz_decode', [row], command=' '.join(['python', *sys.argv]))}")
    if crashes or server_errors or slow:
        sys.exit(1)


if __name__ == "__main__":
    main()
