"""What touching freshly allocated memory costs on this machine, right away and after a pause.

On a virtual machine whose balloon device reports free guest pages to the host (virtio-balloon
free page reporting), pages a process gave back are returned to the host after a moment, and
the next allocation that touches them waits for the host to back them again. The collector's
latency while a large read runs (bench/store_reads.py) depends on it: each funnel allocates and
frees hundreds of MB, and so do the writer's id merges and DuckDB's buffers.

For each pause: allocate `--mb` MB with numpy and write every page (`np.ones`), free it, then do
the same again at once; print both times. Prints whether the balloon device offers free page
reporting (feature bit 5 of a virtio device with id 5), where Linux says.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np


def free_page_reporting() -> str:
    for device in sorted(Path("/sys/bus/virtio/devices").glob("*")):
        try:
            if int((device / "device").read_text(), 16) == 5:
                features = (device / "features").read_text().strip()
                return "on" if len(features) > 5 and features[5] == "1" else "off"
        except (OSError, ValueError):
            continue
    return "no balloon device"


def touch(mb: int) -> float:
    began = time.perf_counter()
    block = np.ones(mb * 1024 * 1024 // 8, np.uint64)
    elapsed = time.perf_counter() - began
    del block
    return elapsed * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=80, help="Size of each allocation in MB.")
    parser.add_argument("--pauses", default="0,2,5", help="Seconds idle before each measurement.")
    parser.add_argument("--repeat", type=int, default=5, help="Measurements per pause.")
    args = parser.parse_args()
    print(f"free page reporting: {free_page_reporting()}; {args.mb} MB per allocation")
    print(f"{'pause s':>8} {'first touch ms (median, max)':>30} {'touch again at once ms (median, max)':>38}")
    touch(args.mb)  # the interpreter's and numpy's own first allocations
    for pause in (float(p) for p in args.pauses.split(",")):
        first, again = [], []
        for _ in range(args.repeat):
            time.sleep(pause)
            first.append(touch(args.mb))
            again.append(touch(args.mb))
        print(
            f"{pause:>8.0f} {statistics.median(first):>20.1f}, {max(first):>7.1f}"
            f" {statistics.median(again):>28.1f}, {max(again):>7.1f}"
        )


if __name__ == "__main__":
    main()
