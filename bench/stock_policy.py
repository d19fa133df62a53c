"""The simulated shop's stock under its replenishment policy: what the Inventory page will see.

For each shop size: the median units on hand at the end, the share of items out of stock, the
share of selling items at or below a two-week reorder point at a 95% service level (the
planner's defaults, over the true mean daily demand: a proxy of "to order now"), and the share
of item-days that began without stock (the ground truth's stock-outs). Prints a table;
BENCHMARKS.md records the figures.

    python bench/stock_policy.py                 # the default shop (20,000 customers, 2,000 items, 365 days)
    python bench/stock_policy.py --scale 0.1 --scale 1
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from cartwise.simulate import ShopConfig, simulate_shop


def measure(scale: float) -> dict[str, float]:
    base = ShopConfig()
    config = base.model_copy(update={"users": int(base.users * scale), "items": int(base.items * scale)})
    began = time.perf_counter()
    shop = simulate_shop(config)
    seconds = time.perf_counter() - began
    items = shop.items.to_pandas()[["item_id", "stock"]].merge(
        shop.truth["truth_items"].to_pandas()[["item_id", "mean_daily_demand"]], on="item_id"
    )
    selling = items[items["mean_daily_demand"] > 0]
    demand = selling["mean_daily_demand"] * 14
    below = float((selling["stock"] <= demand + 1.6449 * np.sqrt(demand)).mean())
    stockouts = shop.truth["truth_stockouts"].num_rows
    return {
        "items": len(items),
        "median_stock": float(items["stock"].median()),
        "out_of_stock": float((items["stock"] <= 0).mean()),
        "below_rop": below,
        "stockout_days": stockouts / (len(items) * config.days),
        "seconds": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, action="append", help="shop size relative to the default")
    args = parser.parse_args()
    print(
        "| items | median stock | out of stock | at/below 2-week ROP (95%) | stock-out item-days | simulate s |"
    )
    print("|---:|---:|---:|---:|---:|---:|")
    for scale in args.scale or [1.0]:
        r = measure(scale)
        print(
            f"| {r['items']:,} | {r['median_stock']:.0f} | {r['out_of_stock']:.1%} | {r['below_rop']:.1%} "
            f"| {r['stockout_days']:.2%} | {r['seconds']:.1f} |"
        )


if __name__ == "__main__":
    main()
