"""Experiment results from the store: exposures joined to purchases, sums in SQL, then the stats.

Builds a store with `--users` exposed users (two variants, 50/50 by the hash) and their purchase
events (about `--orders-per-user` orders each, a third of them in the 28-day pre-period, one to
three lines each, appended in time order as a shop's store fills), then times
`analyze_experiment` (5 metrics: conversion, revenue, orders, units, revenue per order) plain,
with CUPED and with a `--days` analysis window, best of `--repeat` runs (wall seconds, and the process's CPU
seconds over all threads, which shift less when other jobs share the machine), and the
cumulative lift of conversion at 8 cut times (the Experiments page's timeline). `--long-ids` gives
users and orders ids of 21 characters (`customer-000000000042`) instead of 7 or fewer, which
DuckDB hashes as strings rather than packed integers. `--profile` prints the query's costliest
operators (DuckDB's profiler; CPU seconds summed over threads).

    python bench/experiments_store.py --users 1000000 --profile
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from cartwise.core.settings import get_settings
from cartwise.pipelines import experiments as px
from cartwise.store import open_store


def build(db: Path, users: int, orders_per_user: float, long_ids: bool = False) -> int:
    user = "'customer-' || lpad(CAST({} AS VARCHAR), 12, '0')" if long_ids else "'u' || {}"
    order = "'order-2026-' || lpad(CAST(o AS VARCHAR), 10, '0')" if long_ids else "'o' || o"
    with open_store(db, settings=get_settings(db=db, memory_limit="4GB")) as store:
        px.create_experiment(
            store,
            {"key": "bench", "variants": [{"name": "control", "weight": 0.5}, {"name": "b", "weight": 0.5}]},
        )
        # Variants as the hash would give them are not needed for timing; a fixed split keeps
        # the build fast.
        store.con.execute(
            f"""INSERT INTO exposures
               SELECT 'bench', {user.format("i")}, CASE WHEN hash(i) % 2 = 0 THEN 'control' ELSE 'b' END,
                      TIMESTAMP '2026-03-01' + to_seconds(CAST(hash(i * 7) % 1209600 AS BIGINT)), 'api'
               FROM range(?) t(i)""",
            [users],
        )
        n_orders = int(users * orders_per_user)
        store.con.execute(
            f"""INSERT INTO events BY NAME
               SELECT 'e' || o || '-' || l AS event_id,
                      TIMESTAMP '2026-02-01' + to_seconds(CAST(hash(o * 13) % 7776000 AS BIGINT)) AS ts,
                      {user.format("hash(o * 31) % ?")} AS user_id, 'purchase' AS type, {order} AS order_id,
                      1 + CAST(hash(o * 17 + l) % 3 AS INTEGER) AS quantity,
                      5.0 + (hash(o * 19 + l) % 9000) / 100.0 AS revenue
               FROM range(?) t(o), range(1 + CAST(hash(o) % 3 AS INTEGER)) s(l)
               ORDER BY ts""",
            [users, n_orders],
        )
        store.con.execute("CHECKPOINT")
        return store.count("events")


def profile(store: Any, days: float | None, out: Path) -> None:
    """The costliest operators of the summary query, from DuckDB's JSON profile."""
    con = store.con
    con.execute("PRAGMA enable_profiling = 'json'")
    con.execute(f"PRAGMA profiling_output = '{out}'")
    con.execute(px._user_metrics_sql(days, px.DEFAULT_PRE_DAYS), {"key": "bench"}).fetchall()
    con.execute("PRAGMA disable_profiling")
    found = json.loads(out.read_text())
    rows: list[tuple[str, float]] = []

    def text(value: Any) -> str:
        return " ".join(", ".join(value).split()) if isinstance(value, list) else " ".join(str(value).split())

    def walk(node: dict[str, Any]) -> None:
        info = node.get("extra_info", {})
        what = info.get("Table") or info.get("Conditions") or ""
        if "Groups" in info:
            what = f"by {text(info['Groups'])}: {text(info.get('Aggregates', ''))}"
        rows.append((f"{node.get('name', '?')} {text(what)}"[:70], float(node.get("timing", 0))))
        for child in node.get("children", []):
            walk(child)

    for node in found["operator"]:
        walk(node)
    total = float(found["query"]["cpu_time"])
    print(f"\nsummary query{'' if days is None else f', {days:g}-day window'}: {total:.2f} CPU s")
    print(f"{'operator':<70} {'CPU s':>7}")
    for label, seconds in sorted(rows, key=lambda r: -r[1])[:6]:
        print(f"{label:<70} {seconds:>7.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--orders-per-user", type=float, default=0.6)
    parser.add_argument("--days", type=float, default=14.0, help="analysis window of the third row")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--long-ids", action="store_true", help="21-character user and order ids")
    parser.add_argument("--profile", action="store_true", help="print the costliest query operators")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.duckdb"
        start = time.perf_counter()
        events = build(db, args.users, args.orders_per_user, args.long_ids)
        print(
            f"built {args.users:,} exposed users, {events:,} purchase lines in {time.perf_counter() - start:.1f} s"
        )
        with open_store(db, read_only=True) as store:
            threads = store.con.execute("SELECT current_setting('threads')").fetchall()[0][0]
            print(f"DuckDB threads {threads}, load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
            print(f"{'analysis':<28} {'best s':>8} {'CPU s':>7} {'runs':>5}")
            cases: list[tuple[str, bool, float | None]] = [
                ("5 metrics", False, None),
                ("5 metrics, CUPED", True, None),
                (f"5 metrics, {args.days:g}-day window", False, args.days),
            ]
            for label, cuped, days in cases:
                times, cpu = [], []
                for _ in range(args.repeat):
                    t, c = time.perf_counter(), time.process_time()
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        result = px.analyze_experiment(store, "bench", cuped=cuped, days=days)
                    times.append(time.perf_counter() - t)
                    cpu.append(time.process_time() - c)
                assert len(result.results) == len(px.METRICS)
                print(f"{label:<28} {min(times):>8.2f} {min(cpu):>7.2f} {len(times):>5}")
            times, cpu = [], []
            for _ in range(args.repeat):
                t, c = time.perf_counter(), time.process_time()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    points = px.cumulative_lift(store, "bench")
                times.append(time.perf_counter() - t)
                cpu.append(time.process_time() - c)
            assert len(points) == 8
            label = "cumulative lift, 8 cuts"
            print(f"{label:<28} {min(times):>8.2f} {min(cpu):>7.2f} {len(times):>5}")
            print(f"load average after {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
            if args.profile:
                for days in (None, args.days):
                    profile(store, days, Path(tmp) / "profile.json")


if __name__ == "__main__":
    main()
