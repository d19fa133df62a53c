"""The collector writer's cost per commit as the store grows, with and without its index of stored ids.

Each commit stores 5,000 new events with `store_events` into a store already holding
`--stored` events. Without `StoredIds` every commit checks its ids against all stored ids
(an anti-join whose cost grows with the store); with it the check runs only when an id's
hash is already stored. The first commit with the index includes building it.

    .venv/bin/python bench/collector_writer.py [--stored 0 1000000 5000000] [--commits 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import orjson
import pyarrow as pa

from cartwise.core.settings import get_settings
from cartwise.ingest import StoredIds, prepare_events, store_events
from cartwise.service.service import open_ready_store
from collector import _events, store_history  # bench/collector.py


def commit_times(stored: int, commits: int, index: bool) -> list[float]:
    """Seconds of each of `commits` commits of 5,000 new events into a store of `stored` events."""
    batch = pa.concat_tables([prepare_events(orjson.loads(_events(100))["events"]).table for _ in range(50)])
    ids = StoredIds() if index else None
    times = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        open_ready_store(get_settings(db=Path(tmp) / "w.duckdb", memory_limit="1GB")) as store,
    ):
        if stored:
            store_history(store, stored, Path(tmp))
        for commit in range(commits):
            fresh = [f"w{commit}-{row}" for row in range(batch.num_rows)]
            table = batch.set_column(0, "event_id", pa.array(fresh))
            started = time.perf_counter()
            result = store_events(store, table, ids)
            times.append(time.perf_counter() - started)
            assert result == {"loaded": batch.num_rows, "duplicates": 0}, result
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stored", type=int, nargs="+", default=[0, 1_000_000, 5_000_000])
    parser.add_argument("--commits", type=int, default=5)
    args = parser.parse_args()
    print(f"{'stored events':>13} {'index':>6} {'first ms':>9} {'median of rest ms':>18}")
    for stored in args.stored:
        for index in (False, True):
            times = commit_times(stored, args.commits, index)
            rest = statistics.median(times[1:]) if len(times) > 1 else float("nan")
            print(f"{stored:>13,} {'yes' if index else 'no':>6} {times[0] * 1000:>9.0f} {rest * 1000:>18.0f}")


if __name__ == "__main__":
    main()
