"""Server-side assignment cost: `Assigner.assign` (hash, lookup, exposure queued) per call.

Times `--calls` assignments of distinct users (each queues an exposure) and as many repeats
(already exposed), for a plain experiment and one with an audience of `--audience` members,
then the flush of the queued exposures into the store through the gate.

    python bench/experiments_assign.py --calls 100000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pyarrow as pa

from cartwise.pipelines import experiments as px
from cartwise.service.collector import StoreGate
from cartwise.service.experiments import Assigner
from cartwise.store import open_store


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--audience", type=int, default=50_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, open_store(Path(tmp) / "b.duckdb") as store:
        store.con.execute("CREATE TABLE profiles (user_id VARCHAR, orders BIGINT)")
        store.append(
            "profiles",
            pa.table(
                {
                    "user_id": [f"u{i}" for i in range(args.audience * 2)],
                    "orders": [i % 2 for i in range(args.audience * 2)],
                }
            ),
        )
        variants = [{"name": "control", "weight": 0.5}, {"name": "b", "weight": 0.5}]
        px.create_experiment(store, {"key": "plain", "variants": variants})
        px.create_experiment(store, {"key": "targeted", "variants": variants, "audience": "orders >= 1"})
        assigner = Assigner(StoreGate(store), flush_seconds=3600)
        assigner.reload()
        users = [f"u{i}" for i in range(args.calls)]
        print(f"{'case':<34} {'calls':>8} {'µs/call':>8}")
        for key in ("plain", "targeted"):
            for label in ("first exposure", "repeat"):
                t = time.perf_counter()
                for u in users:
                    assigner.assign(key, u)
                per = (time.perf_counter() - t) / len(users) * 1e6
                print(f"{key + ', ' + label:<34} {len(users):>8,} {per:>8.1f}")
        t = time.perf_counter()
        written = assigner.flush()
        print(f"flush of {written:,} exposures: {time.perf_counter() - t:.2f} s")


if __name__ == "__main__":
    main()
