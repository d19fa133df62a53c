"""The collector's stored-id index: start-up time, memory and per-request cost by store size.

Fills a temporary store's `events` with N ids (UUID-like text), then times `StoredIdIndex.build`,
reports the index's memory (its sorted array, and the peak Python allocation while building,
from tracemalloc) and the time to check a request's 100 new ids (`maybe_stored`), plus the
store lookup the index replaces (100 stored ids with `IN`: a scan, `event_id` has no index),
and the `add` of a request's 100 ids that fills the set of recent hashes (`MERGE_AT` of them):
the log thread makes it while every waiting request waits for its ack, and it hands the fold of
those hashes into the sorted array to a thread of its own (whose time is the last column).

    .venv/bin/python bench/collector_ids.py [--ids 1000000 10000000] [--repeat 200]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import tracemalloc
import uuid
from pathlib import Path

from cartwise.core.settings import get_settings
from cartwise.service.seen_ids import StoredIdIndex
from cartwise.store import open_store

MERGE_IDS = StoredIdIndex.MERGE_AT


def measure(n: int, repeat: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "ids.duckdb"
        with open_store(db, settings=get_settings(db=db, memory_limit="4GB")) as store:
            store.con.execute(
                "INSERT INTO events (event_id, ts, user_id, type) "
                f"SELECT CAST(uuid() AS VARCHAR), TIMESTAMP '2024-01-01', 'u', 'view' FROM range({n})"
            )
            index = StoredIdIndex()
            tracemalloc.start()
            began = time.perf_counter()
            index.build(store)
            build = time.perf_counter() - began
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            fresh = [[str(uuid.uuid4()) for _ in range(100)] for _ in range(repeat)]
            times = []
            for ids in fresh:
                began = time.perf_counter()
                index.maybe_stored(ids)
                times.append(time.perf_counter() - began)
            stored = [r[0] for r in store.con.execute("SELECT event_id FROM events LIMIT 100").fetchall()]
            began = time.perf_counter()
            for _ in range(5):
                found = store.con.execute(
                    "SELECT event_id FROM events WHERE event_id IN (SELECT unnest(?))", [stored]
                ).fetchall()
                assert len(found) == 100
            lookup = (time.perf_counter() - began) / 5
            # The acks of the ids that fill the set of recent hashes: the last `add` starts
            # their fold into the sorted array, on a thread beside the log thread.
            recent = [str(uuid.uuid4()) for _ in range(MERGE_IDS)]
            index.add(recent[:-100])
            began = time.perf_counter()
            index.add(recent[-100:])
            fill = time.perf_counter() - began
            index.wait_folded()
            fold = time.perf_counter() - began
            assert len(index.maybe_stored(recent)) == MERGE_IDS
    return {
        "build_s": build,
        "index_mb": index.nbytes / 2**20,
        "peak_mb": peak / 2**20,
        "check_us": statistics.median(times) * 1e6,
        "lookup_ms": lookup * 1e3,
        "fill_ms": fill * 1e3,
        "fold_ms": fold * 1e3,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ids", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--repeat", type=int, default=200, help="requests of 100 new ids to check")
    args = parser.parse_args()
    print(
        "| stored ids | build s | index MiB | peak while building MiB | check 100 new ids us (median) | store lookup of 100 ids ms | "
        "the ack of 100 ids that fills the recent set ms | its fold, beside the log thread ms |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in args.ids:
        r = measure(n, args.repeat)
        print(
            f"| {n:,} | {r['build_s']:.1f} | {r['index_mb']:.0f} | {r['peak_mb']:.0f} | "
            f"{r['check_us']:.0f} | {r['lookup_ms']:.1f} | {r['fill_ms']:.1f} | {r['fold_ms']:.0f} |"
        )


if __name__ == "__main__":
    main()
