"""Ranking metrics for recommendations.

Inputs are shared by every function: `recommended`, an array (n_users, >= k) of item ids, best
first (`None` pads short lists and never counts as a hit); `relevant`, one collection of item
ids per user (the held-out truth). Notation: L_u = the first k recommended items of user u,
R_u = their relevant items, h_uj = 1 if the j-th recommended item is in R_u (j = 1..k).
Accuracy metrics average over users with a non-empty R_u; users without relevant items are
skipped, as their score is undefined. Duplicate recommendations count once (the first time).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import numpy as np

from cartwise.core.errors import InputError


def _hits(recommended: Any, relevant: Sequence[Collection[Any]], k: int) -> tuple[np.ndarray, np.ndarray]:
    """h (n_users, k) boolean and |R_u| per user, for users with |R_u| > 0."""
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise InputError(f"k must be a positive whole number; got {k!r}.")
    recs = np.asarray(recommended, dtype=object)
    if recs.ndim != 2:
        raise InputError(f"recommended must be a 2-D array (users x ranks); got {recs.ndim} dimensions.")
    if len(recs) != len(relevant):
        raise InputError(
            f"recommended has {len(recs)} rows but relevant has {len(relevant)}; give one relevant set per user."
        )
    recs = recs[:, :k]
    hits = np.zeros((len(recs), k), dtype=bool)
    sizes = np.zeros(len(recs), dtype=np.int64)
    for u, (row, rel) in enumerate(zip(recs, relevant, strict=True)):
        truth = {str(x) for x in rel}
        sizes[u] = len(truth)
        seen: set[str] = set()
        for j, item in enumerate(row):
            if item is None:
                continue
            key = str(item)
            if key in truth and key not in seen:
                hits[u, j] = True
            seen.add(key)
    keep = sizes > 0
    return hits[keep], sizes[keep]


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if len(values) else float("nan")


def precision_at_k(recommended: Any, relevant: Sequence[Collection[Any]], k: int) -> float:
    """Precision@k = mean over users of (1/k) sum_j h_uj: the share of the k slots that are hits."""
    hits, _ = _hits(recommended, relevant, k)
    return _mean(hits.sum(axis=1) / k)


def recall_at_k(recommended: Any, relevant: Sequence[Collection[Any]], k: int) -> float:
    """Recall@k = mean over users of sum_j h_uj / |R_u|: the share of relevant items found."""
    hits, sizes = _hits(recommended, relevant, k)
    return _mean(hits.sum(axis=1) / sizes)


def hit_rate_at_k(recommended: Any, relevant: Sequence[Collection[Any]], k: int) -> float:
    """Hit rate@k = mean over users of 1[sum_j h_uj > 0]: the share of users with at least one hit."""
    hits, _ = _hits(recommended, relevant, k)
    return _mean(hits.any(axis=1).astype(float))


def ndcg_at_k(recommended: Any, relevant: Sequence[Collection[Any]], k: int) -> float:
    """NDCG@k = mean over users of DCG_u / IDCG_u, with binary gains:
    DCG_u = sum_{j=1..k} h_uj / log2(j + 1), IDCG_u = sum_{j=1..min(|R_u|, k)} 1 / log2(j + 1)."""
    hits, sizes = _hits(recommended, relevant, k)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = hits @ discounts
    idcg = np.cumsum(discounts)[np.minimum(sizes, k) - 1]
    return _mean(dcg / idcg)


def map_at_k(recommended: Any, relevant: Sequence[Collection[Any]], k: int) -> float:
    """MAP@k = mean over users of AP_u, AP_u = (1 / min(|R_u|, k)) sum_{j=1..k} h_uj * P_u@j,
    with P_u@j = (1/j) sum_{m<=j} h_um the precision of the first j items."""
    hits, sizes = _hits(recommended, relevant, k)
    precision_at_j = np.cumsum(hits, axis=1) / np.arange(1, k + 1)
    return _mean((precision_at_j * hits).sum(axis=1) / np.minimum(sizes, k))


def catalogue_coverage(recommended: Any, n_items: int, k: int | None = None) -> float:
    """Coverage = |union_u L_u| / n_items: the share of the catalogue recommended to anyone."""
    if n_items < 1:
        raise InputError(f"n_items (catalogue size) must be positive; got {n_items!r}.")
    recs = np.asarray(recommended, dtype=object)
    if k is not None:
        recs = recs[:, :k]
    return len({str(x) for x in recs.ravel() if x is not None}) / n_items


def _popularity_share(
    recommended: Any, item_users: Mapping[Any, int], n_users: int, k: int | None
) -> np.ndarray:
    if n_users < 1:
        raise InputError(f"n_users must be positive; got {n_users!r}.")
    counts = {str(key): value for key, value in item_users.items()}
    recs = np.asarray(recommended, dtype=object)
    if k is not None:
        recs = recs[:, :k]
    # An item nobody had in training counts as had by one user (its novelty stays finite).
    return np.array([max(counts.get(str(x), 0), 1) / n_users for x in recs.ravel() if x is not None])


def novelty(recommended: Any, item_users: Mapping[Any, int], n_users: int, k: int | None = None) -> float:
    """Novelty = mean over recommended slots of -log2(p_i), with p_i = (users who had item i in
    training) / n_users (at least 1 user). Higher means less obvious, in bits of self-information."""
    share = _popularity_share(recommended, item_users, n_users, k)
    return _mean(-np.log2(share))


def popularity_bias(
    recommended: Any, item_users: Mapping[Any, int], n_users: int, k: int | None = None
) -> float:
    """Average recommendation popularity (ARP) = mean over recommended slots of p_i, the share of
    training users who had item i. Popularity recommends the head: its ARP is the highest."""
    share = _popularity_share(recommended, item_users, n_users, k)
    return _mean(share)


def ranking_report(
    recommended: Any,
    relevant: Sequence[Collection[Any]],
    k: int,
    *,
    item_users: Mapping[Any, int],
    n_users: int,
    n_items: int,
) -> dict[str, float]:
    """Every metric of this module at `k`, keyed by name (e.g. `ndcg@10`)."""
    return {
        f"ndcg@{k}": ndcg_at_k(recommended, relevant, k),
        f"recall@{k}": recall_at_k(recommended, relevant, k),
        f"precision@{k}": precision_at_k(recommended, relevant, k),
        f"map@{k}": map_at_k(recommended, relevant, k),
        f"hit_rate@{k}": hit_rate_at_k(recommended, relevant, k),
        "coverage": catalogue_coverage(recommended, n_items, k),
        "novelty": novelty(recommended, item_users, n_users, k),
        "popularity_bias": popularity_bias(recommended, item_users, n_users, k),
    }
