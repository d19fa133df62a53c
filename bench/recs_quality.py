"""Recommendation quality on MovieLens-100k against implicit's ALS, in the same run.

Protocol: every rating is an interaction; each user's last 5 by time are held out for test;
items the user already rated are excluded from their list. Hyperparameters are tuned on a
validation split carved from the training part the same way (each user's last 5 training
events), never on the test. The reference is implicit's AlternatingLeastSquares with 64
factors on BM25-weighted interactions (K1=100, B=0.8), called directly. Fit seconds are
measured on the final training part with one thread: wall-clock, and CPU time of this process
(the honest figure when other work shares the machine).

Run: OPENBLAS_NUM_THREADS=1 python bench/recs_quality.py
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import lightgbm  # noqa: F401  (imported up front so import time is not counted as fit time)
import numpy as np
import pandas as pd
from implicit.cpu.als import AlternatingLeastSquares
from implicit.nearest_neighbours import bm25_weight

from cartwise.evaluation.ranking import catalogue_coverage, hit_rate_at_k, ndcg_at_k, recall_at_k
from cartwise.evaluation.splits import leave_last_n
from cartwise.ingest import read_file
from cartwise.recommend import Interactions, create

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "ml-100k" / "ml-100k.inter"
K = 10
HELD_OUT = 5


def load() -> pd.DataFrame:
    table = read_file(DATA).to_pandas()  # RecBole headers `user_id:token ...` become `user_id ...`
    return pd.DataFrame(
        {"user_id": table["user_id"], "item_id": table["item_id"], "ts": table["timestamp"].astype(float)}
    )


class Task:
    """A train part and the held-out truth of its test users."""

    def __init__(self, train: pd.DataFrame, test: pd.DataFrame) -> None:
        self.train = train
        self.inter = Interactions.from_frame(train, time_col="ts")
        truth = test.groupby("user_id")["item_id"].agg(set)
        self.users = truth.index.to_numpy(dtype=object)
        self.truth = list(truth)
        self.n_items = train["item_id"].nunique()

    def score(self, recommended: np.ndarray) -> dict[str, float]:
        return {
            "ndcg": ndcg_at_k(recommended, self.truth, K),
            "recall": recall_at_k(recommended, self.truth, K),
            "hit_rate": hit_rate_at_k(recommended, self.truth, K),
            "coverage": catalogue_coverage(recommended, self.n_items, K),
        }

    def run(self, name: str, params: dict[str, Any]) -> tuple[dict[str, float], float, float]:
        started, cpu = time.perf_counter(), time.process_time()
        model = create(name, **params).fit(self.inter)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        recommended, _ = model.recommend(self.users, n=K, exclude_seen=True)
        return self.score(recommended), seconds, cpu

    def implicit_als(self) -> tuple[dict[str, float], float, float]:
        started, cpu = time.perf_counter(), time.process_time()
        user_items = self.inter.matrix().tocsr()
        weighted = bm25_weight(user_items.T.tocsr(), K1=100, B=0.8).T.tocsr().astype(np.float32)
        model = AlternatingLeastSquares(factors=64, random_state=0, num_threads=1)
        model.fit(weighted, show_progress=False)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        rows = np.searchsorted(self.inter.user_ids, self.users.astype(str))
        ids, _ = model.recommend(rows, user_items[rows], N=K, filter_already_liked_items=True)
        return self.score(self.inter.item_ids[ids].astype(object)), seconds, cpu


def tune(task: Task, name: str, grid: list[dict[str, Any]]) -> dict[str, Any]:
    """The grid point with the best validation NDCG@10."""
    best, best_ndcg = grid[0], -1.0
    for params in grid:
        metrics, _, _ = task.run(name, params)
        if metrics["ndcg"] > best_ndcg:
            best, best_ndcg = params, metrics["ndcg"]
    return best


def main() -> None:
    events = load()
    train, test = leave_last_n(events, HELD_OUT)
    fit_part, valid_part = leave_last_n(train, HELD_OUT)
    validation = Task(fit_part, valid_part)
    final = Task(train, test)

    ease = tune(validation, "ease", [{"l2": v} for v in (100.0, 200.0, 400.0, 800.0)])
    knn = tune(
        validation, "itemknn", [{"k": k, "weighting": w} for k in (50, 200) for w in ("cosine", "bm25")]
    )
    session = tune(validation, "session", [{"window": w, "last_n": n} for w in (3, 5) for n in (3, 5, 10)])
    als = tune(
        validation, "als", [{"factors": f, "weighting": w} for f in (32, 64) for w in ("none", "bm25")]
    )
    hybrid = {"generator_params": {"ease": ease, "session": session}}
    hybrid = tune(validation, "hybrid", [{**hybrid, "n_candidates": c} for c in (30, 50)])

    rows = []
    als_metrics, als_seconds, als_cpu = final.implicit_als()
    rows.append(("implicit ALS (64 factors, BM25)", als_metrics, als_seconds, als_cpu))
    for label, name, params in (
        ("cartwise popularity", "popularity", {}),
        ("cartwise itemknn", "itemknn", knn),
        ("cartwise ease", "ease", ease),
        ("cartwise als", "als", als),
        ("cartwise session", "session", session),
        ("cartwise hybrid", "hybrid", hybrid),
    ):
        rows.append((label, *final.run(name, params)))

    print(
        f"MovieLens-100k, leave-last-{HELD_OUT}-out by time, {len(final.users)} test users, seen items excluded"
    )
    print(
        f"tuned on validation: itemknn {knn}; ease {ease}; als {als}; session {session}; hybrid n_candidates {hybrid['n_candidates']}"
    )
    header = f"| {'model':<33} | NDCG@10 | recall@10 | hit rate | coverage | fit s (wall) | fit s (CPU) | ratio to ALS |"
    print(header)
    print("|" + "|".join("-" * (len(part) + 0) for part in header.split("|")[1:-1]) + "|")
    base = als_metrics["ndcg"]
    for label, m, seconds, cpu in rows:
        print(
            f"| {label:<33} | {m['ndcg']:7.4f} | {m['recall']:9.4f} | {m['hit_rate']:8.4f} | {m['coverage']:8.3f} "
            f"| {seconds:12.2f} | {cpu:11.2f} | {m['ndcg'] / base:11.2f}x |"
        )
    best = max(rows[1:], key=lambda r: r[1]["ndcg"])
    print(
        f"best Cartwise model: {best[0]}, NDCG@10 {best[1]['ndcg'] / base:.2f}x implicit ALS (target >= 1.10x), "
        f"fit {best[2]:.2f} s wall, {best[3]:.2f} s CPU (target < 5 s)"
    )


if __name__ == "__main__":
    main()
