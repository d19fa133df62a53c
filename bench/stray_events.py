"""Benchmark: the Analytics views on a simulated shop before and after one stray event.

A `cartwise demo` shop (a year of sessions) is copied three times: as simulated, with one
purchase dated 2100-06-01 planted straight in the store, and with one dated 9999-12-31
(as stores filled before the collector checked timestamps may hold). On each copy the
dashboard's JSON views are timed, and the JSON's size measured: KPIs by day and by week,
weekly retention, and the whole Analytics page. Prints a table; a view that fails prints
its error instead.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/stray_events.py [--users 5000]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cartwise.core.settings import get_settings
from cartwise.pages.analytics import kpis_view, retention_view
from cartwise.pipelines.demo import build_demo
from cartwise.simulate import ShopConfig
from cartwise.store import Store, open_store

STRAYS = {"none": None, "2100": "2100-06-01 12:00:00", "9999": "9999-12-31 23:59:59"}


def _views() -> dict[str, Callable[[Store], Any]]:
    return {
        "kpis day": lambda s: kpis_view(s, "day"),
        "kpis week": lambda s: kpis_view(s, "week"),
        "retention week": lambda s: retention_view(s, "week"),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "shop.duckdb"
        settings = get_settings(db=base, memory_limit="2GB", threads=2)
        with open_store(base, settings=settings) as store:
            build_demo(store, ShopConfig(seed=3, users=args.users, items=300, days=365))
            events = store.count("events")
        print(f"shop: {args.users} customers, {events:,} events, a year\n")
        print(f"{'stray event':<12} {'view':<16} {'periods':>8} {'JSON bytes':>12} {'seconds':>8}")
        for name, stamp in STRAYS.items():
            db = Path(tmp) / f"{name}.duckdb"
            shutil.copy(base, db)
            with open_store(db, settings=get_settings(db=db, memory_limit="2GB", threads=2)) as store:
                if stamp is not None:
                    store.con.execute(
                        "INSERT INTO events (event_id, ts, user_id, type, order_id, revenue) "
                        f"SELECT 'stray', TIMESTAMP '{stamp}', user_id, 'purchase', 'stray-order', 5.0 FROM events LIMIT 1"
                    )
                for view, call in _views().items():
                    began = time.perf_counter()
                    try:
                        body = call(store)
                    except Exception as exc:  # the point: which views fail, and how
                        print(
                            f"{name:<12} {view:<16} {'error':>8} {type(exc).__name__ + ': ' + str(exc)[:40]}"
                        )
                        continue
                    seconds = time.perf_counter() - began
                    periods = len(body.get("periods", [])) if "kpis" in view else body["periods"]
                    size = len(json.dumps(body))
                    print(f"{name:<12} {view:<16} {periods:>8,} {size:>12,} {seconds:>8.2f}")


if __name__ == "__main__":
    main()
