"""Repeat purchase: a customer's own items, by how often and how recently they bought them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from cartwise.core.errors import InputError
from cartwise.recommend._base import Recommender, register
from cartwise.recommend._data import SECONDS_PER_DAY, Interactions


@register("repeat")
class RepeatPurchase(Recommender):
    """Rank a user's own past items by frequency and recency (for consumables).

    score(u, i) = sum over u's events e on i of w_e * 2^(-(t_ref - t_e) / h), t_ref the latest
    event time in the data, h = `half_life_days`; `half_life_days=None` counts plain frequency.
    Items the user never had rank below all of theirs, by popularity, so with
    `exclude_seen=True` this recommender answers with the most popular new items.
    """

    _learned = ("affinity_",)

    def __init__(self, half_life_days: float | None = 90.0) -> None:
        self.half_life_days = half_life_days

    def _fit(self, data: Interactions, items: pd.DataFrame | None) -> None:
        if self.half_life_days is not None and not self.half_life_days > 0:
            raise InputError(f"half_life_days must be positive or None; got {self.half_life_days!r}.")
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
