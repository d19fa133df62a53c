"""Repeat-purchase recommendations on the demo shop's consumables, last basket held out.

Builds a demo shop, takes every purchase line of a consumable item (the simulator's ground
truth says which items are bought again) and the catalogue of those items (title, category,
brand, price; `--no-items` leaves it out), holds out each customer's last basket, allows
items the customer already bought, and scores models beside the baselines in one run:

    python bench/recs_repeat.py [--users 20000 --items 2000 --days 365] [--no-items]

Target: the best Cartwise model at least 1.05x the NDCG@10 of the customer's own most
frequent items.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from cartwise.core.settings import get_settings
from cartwise.pipelines.demo import build_demo
from cartwise.pipelines.recs import evaluate_from_file
from cartwise.simulate import ShopConfig
from cartwise.store import open_store

OWN = "baseline: own most frequent"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--items", type=int, default=2_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--no-items", action="store_true", help="Evaluate without the item catalogue (interactions only)."
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "shop.duckdb"
        began = time.perf_counter()
        with open_store(db, settings=get_settings(db=db)) as store:
            build_demo(store, ShopConfig(seed=args.seed, users=args.users, items=args.items, days=args.days))
            lines = Path(tmp) / "consumables.parquet"
            store.con.execute(
                f"""COPY (SELECT o.user_id, l.item_id, epoch(o.ts) AS ts, o.order_id
                          FROM order_lines l JOIN orders o USING (order_id)
                          JOIN truth_items t USING (item_id) WHERE t.consumable
                          ORDER BY o.ts) TO '{lines.as_posix()}' (FORMAT parquet)"""
            )
            catalogue = Path(tmp) / "consumable_items.parquet"
            store.con.execute(
                f"""COPY (SELECT i.item_id, i.title, i.description, i.category, i.brand, i.price
                          FROM items i JOIN truth_items t USING (item_id) WHERE t.consumable)
                    TO '{catalogue.as_posix()}' (FORMAT parquet)"""
            )
        built = time.perf_counter() - began
        report = evaluate_from_file(
            lines,
            user_col="user_id",
            item_col="item_id",
            time_col="ts",
            basket_col="order_id",
            items=None if args.no_items else catalogue,
            split="last-basket",
            k=10,
            models=("repeat", "itemknn", "ease", "hybrid"),
            seen="include",
        )
    own = next(r for r in report["models"] if r["model"] == OWN)["ndcg@10"]
    print(
        f"demo shop {args.users:,} users, {args.items:,} items, {args.days} days (built in {built:.1f} s); "
        f"{report['train_events']:,} training lines, {report['test_users']:,} test users; last basket, seen items allowed, "
        f"{'no catalogue' if args.no_items else 'with the catalogue'}"
    )
    print("| model | NDCG@10 | recall@10 | hit rate | fit s | vs own most frequent |")
    print("|---|---:|---:|---:|---:|---:|")
    for row in report["models"]:
        print(
            f"| {row['model']} | {row['ndcg@10']:.4f} | {row['recall@10']:.4f} | {row['hit_rate@10']:.4f} | "
            f"{row['fit_seconds']:.2f} | {row['ndcg@10'] / own:.2f}x |"
        )


if __name__ == "__main__":
    main()
