"""Repeat purchase: a customer's own items, by how often and how recently they bought them, or
by whether the item's repurchase cycle has come round."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from cartwise.core.errors import InputError
from cartwise.recommend._base import Recommender, register
from cartwise.recommend._data import SECONDS_PER_DAY, Interactions


@register("repeat")
class RepeatPurchase(Recommender):
    """Rank a user's own past items by frequency and recency, or by due date (for consumables).

    `timing="recency"`: score(u, i) = sum over u's events e on i of w_e * 2^(-(t_ref - t_e) / h),
    t_ref the latest event time in the data, h = `half_life_days`; `half_life_days=None` counts
    plain frequency. `timing="cycle"`: score(u, i) = n_ui * (1 - 2^(-x_ui)), n_ui the user's
    baskets containing i and x_ui the time from their latest purchase of i to their next basket
    (expected one typical gap after their latest) over i's median repurchase gap (see
    `RepeatStats`): an item whose cycle has come round (x >= 1) outranks one just bought.
    Items the user never had rank below all of theirs, by popularity, so with
    `exclude_seen=True` this recommender answers with the most popular new items.
    """

    _learned = ("affinity_",)
    _user_rows = (("affinity_", 0.0),)

    def __init__(
        self, half_life_days: float | None = 90.0, timing: Literal["recency", "cycle"] = "recency"
    ) -> None:
        self.half_life_days = half_life_days
        self.timing = timing

    def _fit(self, data: Interactions, items: pd.DataFrame | None) -> None:
        if self.half_life_days is not None and not self.half_life_days > 0:
            raise InputError(f"half_life_days must be positive or None; got {self.half_life_days!r}.")
        if self.timing not in ("recency", "cycle"):
            raise InputError(f"timing must be 'recency' or 'cycle'; got {self.timing!r}.")
        if self.timing == "cycle":
            self.affinity_ = _due_scores(data)
            return
        weights = data.weights.astype(np.float64)
        if self.half_life_days is not None and data.has_time:
            weights = weights * np.exp2(
                -(data.times.max() - data.times) / SECONDS_PER_DAY / self.half_life_days
            )
        affinity = sp.csr_matrix((weights, (data.users, data.items)), shape=(data.n_users, data.n_items))
        affinity.sum_duplicates()
        self.affinity_ = affinity

    def _score(self, users: np.ndarray) -> np.ndarray:
        own = self.affinity_[users].toarray()
        # Popularity in [0, 1) as a tie-break below any own item (own scores are > 0; the
        # offset of 1 puts every own item above every other one).
        fallback = self.popularity_ / (self.popularity_.max() + 1.0)
        return np.where(own > 0, own + 1.0, 0.0) + fallback[None, :]


def basket_codes(data: Interactions) -> np.ndarray:
    """Per event, a code 0..n_baskets-1 of its (user, basket); without basket ids, a user's
    events at one time form a basket."""
    within = data.baskets if data.baskets is not None else pd.factorize(data.times)[0]
    within = np.asarray(within, dtype=np.int64)
    key = data.users.astype(np.int64) * (int(within.max(initial=0)) + 1) + within
    return pd.factorize(key)[0]


def _due_scores(data: Interactions) -> sp.csr_matrix:
    """Users x items, n_ui * (1 - 2^(-x_ui)) for the pairs that occurred (see RepeatPurchase)."""
    stats = RepeatStats(data)
    pair_users = np.repeat(np.arange(data.n_users), np.diff(stats.pair_index.indptr))
    pairs = stats.pair_index.data.astype(np.int64) - 1
    items = stats.pair_index.indices
    position = (stats.pair_days_before_last[pairs] + stats.user_gap_days[pair_users]) / stats.item_cycle_days[
        items
    ]
    # Without any repurchase to learn a cycle from, every item counts as due.
    position = np.where(np.isfinite(position), position, np.inf)
    # A floor keeps a just-bought item (x = 0) above the items the user never had.
    due = np.maximum(1.0 - np.exp2(-position), 1e-6)
    return sp.csr_matrix(
        (stats.pair_baskets[pairs] * due, items, stats.pair_index.indptr), shape=stats.pair_index.shape
    )


_PRIOR_PAIRS = 5.0


class RepeatStats:
    """Basket-level purchase history of every (user, item) pair that occurred.

    Baskets are the interactions' basket ids when given; otherwise a user's events at one time
    form a basket. A basket's time is its earliest event. Per user: B_u baskets, the time of the
    latest one and the typical gap between baskets, (last - first) / (B_u - 1). Per pair: the
    baskets that contain the item, the index (0 = the user's first basket) of the first and of
    the latest of them, and the days from the latest of them to the user's latest basket. Per
    item: the median gap in days between consecutive baskets of one user containing it (its
    repurchase cycle) and its repeat rate (the share of its buyers with a later basket who bought
    it again); per user, the share of their later baskets that re-buy an item. Pairs are stored sparsely, so memory follows the number of events.
    """

    def __init__(self, data: Interactions) -> None:
        scale = SECONDS_PER_DAY if data.has_time else 1.0
        n_users, n_items = data.n_users, data.n_items
        users = data.users.astype(np.int64)
        basket = basket_codes(data)
        n_baskets = int(basket.max()) + 1 if len(basket) else 0
        basket_user = np.zeros(n_baskets, dtype=np.int64)
        basket_user[basket] = users
        basket_time = pd.Series(data.times).groupby(basket).min().to_numpy(dtype=np.float64) / scale
        order = np.lexsort((basket_time, basket_user))
        self.user_baskets = np.bincount(basket_user, minlength=n_users)
        starts = np.r_[0, np.cumsum(self.user_baskets)[:-1]]
        position = np.empty(n_baskets, dtype=np.int64)
        position[order] = np.arange(n_baskets) - starts[basket_user[order]]
        first_time = np.full(n_users, np.nan)
        self.user_last_time = np.full(n_users, np.nan)
        if n_baskets:
            ends = starts + self.user_baskets - 1
            has = self.user_baskets > 0
            first_time[has] = basket_time[order[starts[has]]]
            self.user_last_time[has] = basket_time[order[ends[has]]]
        gap = (self.user_last_time - first_time) / np.maximum(self.user_baskets - 1, 1)
        gap[self.user_baskets < 2] = np.nan
        self.user_gap_days = _fill(gap)

        # One row per (pair, basket), in time order within each pair.
        rows = pd.DataFrame({"pair": users * n_items + data.items, "basket": basket}).drop_duplicates()
        pair = rows["pair"].to_numpy()
        b = rows["basket"].to_numpy()
        t = basket_time[b]
        by_time = np.lexsort((t, pair))
        pair, b, t = pair[by_time], b[by_time], t[by_time]
        first_row = np.r_[True, pair[1:] != pair[:-1]]
        starts_p = np.flatnonzero(first_row)
        ends_p = np.r_[starts_p[1:], len(pair)] - 1
        pair_user, pair_item = pair[starts_p] // n_items, pair[starts_p] % n_items
        self.pair_baskets = (ends_p - starts_p + 1).astype(np.float64)
        self.pair_first = position[b[starts_p]].astype(np.float64)
        self.pair_last = position[b[ends_p]].astype(np.float64)
        self.pair_days_before_last = self.user_last_time[pair_user] - t[ends_p]
        # Item repeat rate: of the pairs whose user had a basket after the first purchase, the
        # share bought again (shrunk towards the overall share with `_PRIOR_PAIRS` pseudo-pairs).
        had_later = self.pair_first < self.user_baskets[pair_user] - 1
        rebought = self.pair_baskets >= 2
        overall = rebought.sum() / max(had_later.sum(), 1)
        self.item_repeat_rate = (
            np.bincount(pair_item, weights=rebought, minlength=n_items) + _PRIOR_PAIRS * overall
        ) / (np.bincount(pair_item, weights=had_later, minlength=n_items) + _PRIOR_PAIRS)
        # User repeat rate: share of the user's baskets after their first one that re-buy something.
        rebuy_baskets = np.unique(b[~first_row])
        self.user_repeat_rate = np.bincount(basket_user[rebuy_baskets], minlength=n_users) / np.maximum(
            self.user_baskets - 1, 1
        )
        self.user_repeat_rate[self.user_baskets < 2] = np.nan
        gaps = np.diff(t)[~first_row[1:]]
        gap_items = (pair[1:] % n_items)[~first_row[1:]]
        cycle = np.full(n_items, np.nan)
        if len(gaps):
            medians = pd.Series(gaps).groupby(gap_items).median()
            cycle[medians.index.to_numpy()] = medians.to_numpy()
        self.item_cycle_days = _fill(cycle)
        # Pair index + 1 in a sparse users x items matrix (0 = the pair never occurred).
        self.pair_index = sp.csr_matrix(
            (np.arange(1, len(starts_p) + 1, dtype=np.float64), (pair_user, pair_item)),
            shape=(n_users, n_items),
        )

    def lookup(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Pair index of each (user, item), -1 where the user never had the item."""
        if len(users) == 0:
            return np.zeros(0, dtype=np.int64)
        return np.asarray(self.pair_index[users, items]).ravel().astype(np.int64) - 1

    def features(self, users: np.ndarray, items: np.ndarray) -> dict[str, np.ndarray]:
        pairs = self.lookup(users, items)
        owned = pairs >= 0
        p = np.where(owned, pairs, 0)

        def pick(values: np.ndarray) -> np.ndarray:
            return np.where(owned, values[p] if len(values) else np.nan, np.nan)

        n_baskets = self.user_baskets[users].astype(np.float64)
        first, last = pick(self.pair_first), pick(self.pair_last)
        days_before = pick(self.pair_days_before_last)
        return {
            "item_repeat_rate": self.item_repeat_rate[items],
            "user_repeat_rate": self.user_repeat_rate[users],
            "repeat_baskets": np.where(owned, pick(self.pair_baskets), 0.0),
            "repeat_basket_share": pick(self.pair_baskets) / np.maximum(n_baskets - first, 1.0),
            "repeat_first_basket": first,
            "repeat_baskets_since_last": n_baskets - 1.0 - last,
            "repeat_days_before_user_last": days_before,
            "repeat_cycle_position": (days_before + self.user_gap_days[users]) / self.item_cycle_days[items],
        }


def _fill(values: np.ndarray) -> np.ndarray:
    """Missing entries replaced by the median of the known ones (all NaN stays NaN)."""
    known = np.isfinite(values)
    return np.where(known, values, np.median(values[known])) if known.any() else values
