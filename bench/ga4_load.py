"""GA4 export loading: generate N rows in the BigQuery export's shape, time `ingest_file` with
`--format ga4` on newline-delimited JSON and on Parquet, each in a fresh process and store.

    python bench/ga4_load.py --rows 100000

Prints export rows, events stored, seconds, rows per second and peak memory (VmHWM).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

NAMES = np.array(
    ["page_view", "view_item", "view_item", "add_to_cart", "view_item_list", "purchase", "scroll"]
)
_EMPTY = {"string_value": None, "int_value": None, "float_value": None, "double_value": None}


def _param(key: str, **value: Any) -> dict[str, Any]:
    return {"key": key, "value": {**_EMPTY, **value}}


def make_rows(n: int, seed: int = 0) -> list[dict[str, Any]]:
    """N export rows: 20k browsers (a tenth signed in), 2k items, purchases with 1-3 items."""
    rng = np.random.default_rng(seed)
    start = 1_767_225_600_000_000  # 2026-01-01 in microseconds
    stamps = np.sort(start + rng.integers(0, 30 * 86_400 * 1_000_000, n))
    browsers = rng.integers(0, 20_000, n)
    names = NAMES[rng.integers(0, len(NAMES), n)]
    rows = []
    for i in range(n):
        name, browser = str(names[i]), int(browsers[i])
        count = (
            int(rng.integers(1, 4))
            if name == "purchase"
            else (1 if name in ("view_item", "add_to_cart") else 0)
        )
        items = [
            {
                "item_id": f"SKU-{int(rng.integers(0, 2000))}",
                "item_name": "Item",
                "item_category": "Socks",
                "price": float(rng.integers(100, 5000)) / 100,
                "quantity": int(rng.integers(1, 3)),
            }
            for _ in range(count)
        ]
        rows.append(
            {
                "event_date": "20260101",
                "event_timestamp": int(stamps[i]),
                "event_name": name,
                "event_params": [
                    _param("ga_session_id", int_value=browser * 7 + i // 5000),
                    _param("page_location", string_value=f"https://shop.example/p/{i % 500}"),
                    _param("engagement_time_msec", int_value=int(rng.integers(0, 60_000))),
                ],
                "user_id": f"cust-{browser}" if browser % 10 == 0 else None,
                "user_pseudo_id": f"{browser}.1767225600",
                "device": {"category": "mobile" if browser % 3 else "desktop"},
                "ecommerce": {"transaction_id": f"T-{i}", "purchase_revenue": None}
                if name == "purchase"
                else None,
                "items": items,
            }
        )
    return rows


def _peak_rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def _load(path: str, db: str) -> None:
    from cartwise.core.settings import get_settings
    from cartwise.ingest import LoadOptions, ingest_file
    from cartwise.store import open_store

    with open_store(db, settings=get_settings(db=db, memory_limit="2GB", threads=1)) as store:
        began = time.perf_counter()
        summary = ingest_file(store, "events", path, LoadOptions(format="ga4"))
        seconds = time.perf_counter() - began
    print(
        json.dumps(
            {
                "loaded": summary.loaded,
                "rejected": summary.rejected,
                "seconds": seconds,
                "peak": _peak_rss_bytes(),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000, help="export rows to generate")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _load(*args.child)
        return
    rows = make_rows(args.rows)
    with tempfile.TemporaryDirectory() as tmp:
        files = {"jsonl": Path(tmp) / "events.jsonl", "parquet": Path(tmp) / "events.parquet"}
        files["jsonl"].write_text("\n".join(json.dumps(r) for r in rows) + "\n")
        pq.write_table(pa.Table.from_pylist(rows), files["parquet"])
        del rows
        print("| file | export rows | events stored | seconds | rows/s | peak MiB |")
        print("|---|---:|---:|---:|---:|---:|")
        for fmt, path in files.items():
            command = [sys.executable, __file__, "--child", str(path), str(Path(tmp) / f"{fmt}.duckdb")]
            result = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
            print(
                f"| {fmt} | {args.rows:,} | {result['loaded']:,} | {result['seconds']:.2f} | "
                f"{args.rows / result['seconds']:,.0f} | {result['peak'] / 2**20:,.0f} |"
            )


if __name__ == "__main__":
    main()
