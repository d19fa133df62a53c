"""What identity stitching adds to the collector's writes: `store_events` per batch, with and without.

Stores batches of plain `view` events (the usual collector batch) into a fresh store whose
events hold `--stored` rows, timing `store_events` as it runs (stitching on) and with the
stitching step replaced by a no-op; then the same for batches in which every event carries an
anonymous id already linked to a customer (each batch rewrites that id's events).

    .venv/bin/python bench/identity_stitch.py [--batches 200] [--size 100] [--stored 200000]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import pyarrow as pa

import cartwise.ingest.load as load
from cartwise.ingest import prepare_events, store_events
from cartwise.store import Store


def _batch(size: int, anonymous: str | None) -> pa.Table:
    records: list[dict[str, Any]] = [
        {
            "event_id": str(uuid.uuid4()),
            "ts": "2026-11-20T10:00:00Z",
            "user_id": anonymous or f"u{i % 500}",
            "type": "view",
            "item_id": f"sku-{i % 50}",
            **({"anonymous_id": anonymous} if anonymous else {}),
        }
        for i in range(size)
    ]
    return prepare_events(records).table


def _time(store: Store, batches: int, size: int, anonymous: str | None) -> list[float]:
    times = []
    for _ in range(batches):
        table = _batch(size, anonymous)
        started = time.perf_counter()
        store_events(store, table)
        times.append((time.perf_counter() - started) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=200, help="batches per row")
    parser.add_argument("--size", type=int, default=100, help="events per batch")
    parser.add_argument("--stored", type=int, default=200_000, help="events stored before timing")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "bench.duckdb")
        for _ in range(args.stored // 10_000):
            store_events(store, _batch(10_000, None))
        store_events(store, _batch(1, "anon-linked"))
        store_events(
            store,
            prepare_events(
                [
                    {
                        "event_id": "link",
                        "ts": "2026-11-20T10:00:00Z",
                        "user_id": "cust-1",
                        "anonymous_id": "anon-linked",
                        "type": "identify",
                    }
                ]
            ).table,
        )
        rows = []
        stitch = load.stitch
        for label, anonymous, on in (
            ("plain views, stitching off", None, False),
            ("plain views, stitching on", None, True),
            ("linked anonymous id, stitching on", "anon-linked", True),
        ):
            load.stitch = stitch if on else (lambda store, source, evidence=True: {})  # type: ignore[assignment]
            times = _time(store, args.batches, args.size, anonymous)
            rows.append((label, statistics.median(times), sorted(times)[int(0.99 * len(times))]))
        load.stitch = stitch  # type: ignore[assignment]
        print(f"{args.batches} batches of {args.size} events, {args.stored:,} stored")
        print(f"{'case':<36} {'median ms':>10} {'p99 ms':>8}")
        for label, median, p99 in rows:
            print(f"{label:<36} {median:>10.2f} {p99:>8.2f}")


if __name__ == "__main__":
    main()
