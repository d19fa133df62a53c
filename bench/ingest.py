"""Bulk ingestion benchmark: generate N events, write Parquet and CSV, time `ingest_file` on each.

Each load runs in a fresh process against a fresh store, so peak memory (max RSS) is that
load's alone. Prints a table; BENCHMARKS.md records the figures.

    python bench/ingest.py --events 10000000
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

TYPES = np.array(["view", "view", "view", "view", "search", "add_to_cart", "begin_checkout", "purchase"])


def make_events(n: int, seed: int = 0) -> pa.Table:
    """N realistic events: ids, UTC times over a year, 200k users, 20k items, purchases with money."""
    rng = np.random.default_rng(seed)
    start = np.datetime64("2025-01-01T00:00:00", "us")
    ts = start + rng.integers(0, 365 * 86400 * 1_000_000, n).astype("timedelta64[us]")
    types = TYPES[rng.integers(0, len(TYPES), n)]
    is_purchase = types == "purchase"
    price = np.round(np.exp(rng.normal(3.0, 0.8, n)), 2)
    quantity = rng.integers(1, 4, n)
    user = rng.integers(0, 200_000, n)
    return pa.table(
        {
            "event_id": pa.array(np.char.add("e", np.arange(n).astype(str))),
            "ts": pa.array(ts),
            "user_id": pa.array(np.char.add("u", user.astype(str))),
            "session_id": pa.array(
                np.char.add(
                    np.char.add("s", user.astype(str)),
                    np.char.add("-", (ts.astype("int64") // 1_800_000_000).astype(str)),
                )
            ),
            "type": pa.array(types),
            "item_id": pa.array(np.char.add("i", rng.integers(0, 20_000, n).astype(str))),
            "quantity": pa.array(np.where(is_purchase | (types == "add_to_cart"), quantity, 0)).cast(
                pa.int64()
            ),
            "price": pa.array(price),
            "order_id": pa.array(np.where(is_purchase, np.char.add("o", np.arange(n).astype(str)), None)),
        }
    )


def _peak_rss_bytes() -> int:
    """This process's peak resident memory (VmHWM; unlike ru_maxrss it is reset by exec, so a
    child started from the big generating parent reports only its own peak)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _load(mode: str, path: str, db: str) -> None:
    """Child process: load one file and print the counts, seconds and peak memory.

    `cartwise` runs `ingest_file` (read, map, validate, quarantine, dedupe, orders, one
    transaction); `duckdb` is the engine's own bulk copy of the same file into a table, with
    no validation: the ceiling on this machine.
    """
    import duckdb

    from cartwise.core.settings import get_settings
    from cartwise.ingest import ingest_file
    from cartwise.store import open_store

    began = time.perf_counter()
    if mode == "cartwise":
        settings = get_settings(db=db, memory_limit="3GB")
        with open_store(db, settings=settings) as store:
            began = time.perf_counter()
            summary = ingest_file(store, "events", path)
        read, loaded = summary.read, summary.loaded
    else:
        con = duckdb.connect(db, config={"memory_limit": "3GB"})
        reader = "read_parquet" if path.endswith(".parquet") else "read_csv"
        con.execute(f"CREATE TABLE events AS SELECT * FROM {reader}('{path}')")
        read = loaded = con.execute("SELECT count(*) FROM events").fetchall()[0][0]
        con.close()
    seconds = time.perf_counter() - began
    peak = _peak_rss_bytes()
    print(json.dumps({"read": read, "loaded": loaded, "seconds": seconds, "peak_bytes": peak}))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=10_000_000, help="number of events to generate")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _load(*args.child)
        return
    with tempfile.TemporaryDirectory() as tmp:
        data = make_events(args.events)
        files = {"parquet": Path(tmp) / "events.parquet", "csv": Path(tmp) / "events.csv"}
        pq.write_table(data, files["parquet"])
        pacsv.write_csv(data, files["csv"])
        del data
        rows = []
        for fmt, path in files.items():
            for mode in ("cartwise", "duckdb"):
                db = str(Path(tmp) / f"{fmt}-{mode}.duckdb")
                command = [sys.executable, __file__, "--child", mode, str(path), db]
                out = subprocess.run(command, check=True, capture_output=True, text=True)
                result = json.loads(out.stdout.strip().splitlines()[-1])
                rows.append((fmt, mode, path.stat().st_size, result))
    print("| format | loader | events | file MB | seconds | events/s | peak RSS GiB | time vs duckdb copy |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    ceiling = {fmt: r["seconds"] for fmt, mode, _, r in rows if mode == "duckdb"}
    for fmt, mode, size, r in rows:
        assert r["loaded"] == r["read"] == args.events, r
        print(
            f"| {fmt} | {mode} | {r['read']:,} | {size / 1e6:,.0f} | {r['seconds']:.1f} | "
            f"{r['read'] / r['seconds']:,.0f} | {r['peak_bytes'] / 2**30:.2f} | {r['seconds'] / ceiling[fmt]:.2f}x |"
        )


if __name__ == "__main__":
    main()
