"""What `item_similarity(k)` costs per recommender, on generated interactions.

The service folds live sessions and fresh events through this matrix, and builds it at every
load and swap of a model. Sparse models (item-kNN, session) hand out what they learned; dense
ones (EASE, ALS, content) compute items x items in blocks. Interactions: `--users` users with
Zipf-distributed item popularity, `--per-user` events each, in sessions of 5; items have a
generated title and category (for the content model).

    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/recs_similarity.py [--users 20000]
        [--items 1000,4000] [--per-user 15] [--k 100]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from cartwise.recommend import create

MODELS = ("itemknn", "session", "ease", "als", "content", "popularity")


def interactions(users: int, items: int, per_user: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    popularity = 1.0 / np.arange(1, items + 1) ** 0.8
    popularity /= popularity.sum()
    n = users * per_user
    frame = pd.DataFrame(
        {
            "user_id": np.repeat(np.arange(users), per_user).astype(str),
            "item_id": rng.choice(items, size=n, p=popularity).astype(str),
            # Sessions of 5 events, a minute apart, two hours between sessions.
            "ts": 1.7e9 + np.tile(np.arange(per_user) * 60.0 + (np.arange(per_user) // 5) * 7200.0, users),
        }
    )
    words = np.array(["red", "blue", "steel", "oak", "soft", "large", "mini", "pro", "eco", "classic"])
    catalogue = pd.DataFrame(
        {
            "item_id": np.arange(items).astype(str),
            "title": [" ".join(rng.choice(words, size=3)) for _ in range(items)],
            "category": [f"Dept {i % 7} > Aisle {i % 31}" for i in range(items)],
        }
    )
    return frame, catalogue


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--items", default="1000,4000", help="Catalogue sizes, comma-separated.")
    parser.add_argument("--per-user", type=int, default=15)
    parser.add_argument("--k", type=int, default=100, help="Neighbours kept per item.")
    args = parser.parse_args()
    print(f"item_similarity(k={args.k}): {args.users:,} users x {args.per_user} events, seconds per call")
    print()
    print("| items | model | own similarity | fit s | item_similarity s | neighbours per item |")
    print("|---:|---|---|---:|---:|---:|")
    for items in (int(v) for v in args.items.split(",")):
        frame, catalogue = interactions(args.users, items, args.per_user)
        for name in MODELS:
            started = time.perf_counter()
            model = create(name).fit(frame, items=catalogue)
            fitted = time.perf_counter() - started
            started = time.perf_counter()
            sim = model.item_similarity(k=args.k)
            took = time.perf_counter() - started
            print(
                f"| {items:,} | {name} | {'yes' if model.has_item_similarity() else 'no (co-occurrence)'} "
                f"| {fitted:.2f} | {took:.3f} | {sim.nnz / items:.1f} |"
            )


if __name__ == "__main__":
    main()
