"""Forecasts, reorder plan and price elasticities from a demo shop's store, against its ground truth.

Builds a demo shop (default size: 20,000 customers, 2,000 items, 365 days) in a temporary
folder, runs `build_forecasts` (weekly demand per item and category, automatic forecasts with
a one-window backtest, reorder plan, elasticities) and prints three tables:

1. time: building the shop, and `build_forecasts` with its elasticity part;
2. forecast backtest per level: series, MASE, sMAPE, 80% and 95% interval coverage (the last
   `horizon` complete weeks forecast from the weeks before) and the models chosen;
3. elasticities against `truth_items.elasticity`: per item (all items, and those with their
   own estimate) the correlation and mean absolute error, beside the error of an oracle that
   gives every item the true mean elasticity; per category, the estimate against the mean of
   its items' true elasticities.

Run: OPENBLAS_NUM_THREADS=1 python bench/demand.py [--users 20000] [--items 2000] [--days 365] [--horizon 12]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from cartwise.core.settings import get_settings
from cartwise.pipelines.demand import build_forecasts
from cartwise.pipelines.demo import build_demo
from cartwise.simulate import ShopConfig
from cartwise.store import open_store


def elasticity_rows(items: pd.DataFrame) -> list[tuple[str, int, float, float, float]]:
    """(subset, items, correlation, mean absolute error, error of giving every item the true mean)."""
    rows = []
    for name, part in (("all items", items), ("own estimate", items[~items["pooled"]])):
        if len(part) < 2:
            continue
        corr = float(np.corrcoef(part["elasticity"], part["truth"])[0, 1])
        mae = float((part["elasticity"] - part["truth"]).abs().mean())
        oracle = float((part["truth"] - part["truth"].mean()).abs().mean())
        rows.append((name, len(part), corr, mae, oracle))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--items", type=int, default=2_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--horizon", type=int, default=12)
    parser.add_argument("--lead-time", type=int, default=2)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "shop.duckdb"
        settings = get_settings(db=db, memory_limit="4GB")
        with open_store(db, settings=settings) as store:
            started = time.perf_counter()
            build_demo(store, ShopConfig(seed=args.seed, users=args.users, items=args.items, days=args.days))
            demo_s = time.perf_counter() - started
            report = build_forecasts(store, horizon=args.horizon, freq="W", lead_time=args.lead_time)
            items = store.arrow(
                """SELECT e.id, e.elasticity, e.pooled, t.elasticity AS truth FROM elasticities e
                   JOIN truth_items t ON t.item_id = e.id WHERE e.level = 'item' AND e.elasticity IS NOT NULL"""
            ).to_pandas()
            cats = store.arrow(
                """SELECT e.id, e.elasticity, e.std_error, avg(t.elasticity) AS truth, count(*) AS items
                   FROM elasticities e JOIN items i ON split_part(i.category, ' > ', 1) = e.id
                   JOIN truth_items t USING (item_id) WHERE e.level = 'category' GROUP BY ALL ORDER BY e.id"""
            ).to_pandas()

    shop = f"{args.users:,} customers, {args.items:,} items, {args.days} days, seed {args.seed}"
    print(f"Demo shop: {shop}; weekly, horizon {args.horizon}, lead time {args.lead_time} weeks.\n")
    print(f"{'step':<34}{'seconds':>9}")
    print(f"{'build the demo shop':<34}{demo_s:>9.1f}")
    print(f"{'build_forecasts (all)':<34}{report['seconds']:>9.1f}")
    print(f"{'  of which elasticities':<34}{report['elasticities']['seconds']:>9.1f}")

    print(f"\n{'series':<18}{'count':>7}{'MASE':>8}{'sMAPE':>8}{'cov80':>8}{'cov95':>8}  models")
    for name, level in report["levels"].items():
        b = level["backtest"]
        models = ", ".join(f"{k} {v}" for k, v in sorted(level["models"].items(), key=lambda kv: -kv[1]))
        print(
            f"{name:<18}{level['series']:>7}{b['mase']:>8.3f}{b['smape']:>8.1f}{b['coverage_80']:>8.3f}"
            f"{b['coverage_95']:>8.3f}  {models}"
        )
    r = report["reorder"]
    print(
        f"Reorder plan: {r['items']} items, {r['to_order']} to order now, {r['at_risk']} with stock-out risk >= 50%."
    )

    print(f"\n{'elasticity, items':<18}{'count':>7}{'corr':>8}{'MAE':>8}{'oracle MAE':>11}")
    for name, n, corr, mae, oracle in elasticity_rows(items):
        print(f"{name:<18}{n:>7}{corr:>8.3f}{mae:>8.3f}{oracle:>11.3f}")
    print(f"\n{'category':<14}{'items':>6}{'estimate':>10}{'std err':>9}{'truth':>8}{'error':>8}")
    for row in cats.itertuples():
        print(
            f"{row.id:<14}{row.items:>6}{row.elasticity:>10.3f}{row.std_error:>9.3f}{row.truth:>8.3f}"
            f"{row.elasticity - row.truth:>8.3f}"
        )
    print(
        f"{'mean |error|':<14}{'':>6}{'':>10}{'':>9}{'':>8}{(cats['elasticity'] - cats['truth']).abs().mean():>8.3f}"
    )


if __name__ == "__main__":
    main()
