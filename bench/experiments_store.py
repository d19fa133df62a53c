"""Experiment results from the store: exposures joined to purchases, sums in SQL, then the stats.

Builds a store with `--users` exposed users (two variants, 50/50 by the hash) and their purchase
events (about `--orders-per-user` orders each, a third of them in the 28-day pre-period, one to
three lines each), then times `analyze_experiment` (5 metrics: conversion, revenue, orders,
units, revenue per order) plain and with CUPED, best of `--repeat` runs.

    python bench/experiments_store.py --users 1000000
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

from cartwise.core.settings import get_settings
from cartwise.pipelines import experiments as px
from cartwise.store import open_store


def build(db: Path, users: int, orders_per_user: float) -> int:
    with open_store(db, settings=get_settings(db=db, memory_limit="4GB")) as store:
        px.create_experiment(
            store,
            {"key": "bench", "variants": [{"name": "control", "weight": 0.5}, {"name": "b", "weight": 0.5}]},
        )
        # Variants as the hash would give them are not needed for timing; a fixed split keeps
        # the build fast.
        store.con.execute(
            """INSERT INTO exposures
               SELECT 'bench', 'u' || i, CASE WHEN hash(i) % 2 = 0 THEN 'control' ELSE 'b' END,
                      TIMESTAMP '2026-03-01' + to_seconds(CAST(hash(i * 7) % 1209600 AS BIGINT)), 'api'
               FROM range(?) t(i)""",
            [users],
        )
        n_orders = int(users * orders_per_user)
        store.con.execute(
            """INSERT INTO events BY NAME
               SELECT 'e' || o || '-' || l AS event_id,
                      TIMESTAMP '2026-02-01' + to_seconds(CAST(hash(o * 13) % 7776000 AS BIGINT)) AS ts,
                      'u' || (hash(o * 31) % ?) AS user_id, 'purchase' AS type, 'o' || o AS order_id,
                      1 + CAST(hash(o * 17 + l) % 3 AS INTEGER) AS quantity,
                      5.0 + (hash(o * 19 + l) % 9000) / 100.0 AS revenue
               FROM range(?) t(o), range(1 + CAST(hash(o) % 3 AS INTEGER)) s(l)""",
            [users, n_orders],
        )
        store.con.execute("CHECKPOINT")
        return store.count("events")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--orders-per-user", type=float, default=0.6)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.duckdb"
        start = time.perf_counter()
        events = build(db, args.users, args.orders_per_user)
        print(
            f"built {args.users:,} exposed users, {events:,} purchase lines in {time.perf_counter() - start:.1f} s"
        )
        with open_store(db, read_only=True) as store:
            print(f"{'analysis':<28} {'best s':>8} {'runs':>5}")
            for label, cuped in (("5 metrics", False), ("5 metrics, CUPED", True)):
                times = []
                for _ in range(args.repeat):
                    t = time.perf_counter()
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        result = px.analyze_experiment(store, "bench", cuped=cuped)
                    times.append(time.perf_counter() - t)
                assert len(result.results) == len(px.METRICS)
                print(f"{label:<28} {min(times):>8.2f} {len(times):>5}")


if __name__ == "__main__":
    main()
