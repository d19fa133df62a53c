"""Profiles plus CLV at scale: 1 million customers, 10 million orders.

Generates customers with BG/NBD-like purchase histories (gamma-distributed rates, geometric
drop-out) and log-normal order values straight into a store, then times
`refresh_profiles` (the profile table with RFM, the P(alive) model - MBG/NBD or Pareto/NBD
chosen on a holdout, then refitted - + Gamma-Gamma predictions, clusters and segments) in one
run:

    python bench/profiles.py [--customers 1000000 --orders 10000000]

Target: under 60 s on this 2-core machine.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from cartwise.core.settings import get_settings
from cartwise.pipelines.profiles import refresh_profiles
from cartwise.store import open_store

DAYS = 730


def make_orders(customers: int, orders: int, seed: int = 0) -> pa.Table:
    """About `orders` orders: each customer's count is Poisson(lambda_i * alive days), lambda_i ~ Gamma."""
    rng = np.random.default_rng(seed)
    birth = rng.integers(0, DAYS // 2, customers)
    alive = np.minimum(rng.geometric(0.02, customers) * 7, DAYS - birth)
    rate = rng.gamma(0.8, 1.0, customers)
    rate *= (orders - customers) / float((rate * alive).sum())
    counts = 1 + rng.poisson(rate * alive)
    user = np.repeat(np.arange(customers), counts)
    offset = (rng.random(user.size) * alive[user]).astype(np.int64)
    offset[np.r_[0, np.cumsum(counts)[:-1]]] = 0  # each customer's first order is at birth
    start = np.datetime64("2024-01-01T00:00:00", "s")
    ts = start + ((birth[user] + offset) * 86400 + rng.integers(0, 86400, user.size)).astype("timedelta64[s]")
    return pa.table(
        {
            "order_id": pa.array(np.char.add("o", np.arange(user.size).astype(str))),
            "user_id": pa.array(np.char.add("u", user.astype(str))),
            "ts": pa.array(ts.astype("datetime64[us]")),
            "amount": pa.array(np.round(np.exp(rng.normal(3.5, 0.6, user.size)), 2)),
            "lines": pa.array(np.ones(user.size, dtype=np.int64)),
            "units": pa.array(np.ones(user.size, dtype=np.int64)),
            "source": pa.array(np.full(user.size, "transactions")),
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--orders", type=int, default=10_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "shop.duckdb"
        with open_store(db, settings=get_settings(db=db, memory_limit="8GB")) as store:
            began = time.perf_counter()
            orders = make_orders(args.customers, args.orders)
            store.append("orders", orders)
            generated = time.perf_counter() - began
            began = time.perf_counter()
            report = refresh_profiles(store)
            seconds = time.perf_counter() - began
            profiled = store.count("profiles")
    print(
        f"generated and stored {orders.num_rows:,} orders for {args.customers:,} customers in {generated:.1f} s"
    )
    print("| customers | orders | refresh_profiles s | P(alive) model: parameters | clusters |")
    print("|---:|---:|---:|---|---:|")
    clv = report.get("clv", {})
    params = (
        f"{clv['model']}: " + ", ".join(f"{v:.3f}" for v in clv["params"].values())
        if "params" in clv
        else report.get("clv_error", "")
    )
    print(
        f"| {profiled:,} | {orders.num_rows:,} | {seconds:.1f} | {params} | {report.get('clusters', {}).get('k', '-')} |"
    )


if __name__ == "__main__":
    main()
