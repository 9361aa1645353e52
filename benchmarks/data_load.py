"""Time to load FER-2013 (train + test) cold (decoding every image) and warm (from the cache).

python benchmarks/data_load.py [--data ../shared/fer2013]
"""

import argparse
import os
import tempfile
import time

from common import SHARED_DATA, table, write_results

from realtime_fer import data


def load_all(root: str) -> int:
    return len(data.load(root, "train")) + len(data.load(root, "test"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default=str(SHARED_DATA))
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as cache:
        os.environ["REALTIME_FER_CACHE"] = cache  # a cold cache, never the user's
        for state in ("cold (decode + write cache)", "warm (from cache)"):
            start = time.perf_counter()
            faces = load_all(args.data)
            rows.append({"load": state, "faces": faces, "seconds": round(time.perf_counter() - start, 3)})
    print(table(rows, ["load", "faces", "seconds"]))
    print(f"wrote {write_results('data_load', rows, data=args.data)}")


if __name__ == "__main__":
    main()
