"""Popularity and trending: the same list for everyone, and the cold-start answer of every model."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from cartwise.core.errors import DataWarning, InputError
from cartwise.recommend._base import Recommender, register
from cartwise.recommend._data import SECONDS_PER_DAY, Interactions


@register("popularity")
class Popularity(Recommender):
    """Items ranked by the number of distinct users who interacted with them.

    score(i) = |{u : u interacted with i}|, the same for every user.
    """

    def __init__(self) -> None:
        pass

    def _fit(self, data: Interactions, items: pd.DataFrame | None) -> None:
        pass

    def _score(self, users: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.popularity_, (len(users), len(self.popularity_)))


@register("trending")
class Trending(Recommender):
    """Items ranked by time-decayed interaction weight, so what sells now rises.

    score(i) = sum over events e on i of w_e * 2^(-(t_ref - t_e) / h), with t_ref the latest event
    time and h = `half_life_days` (days). Without a time column this is the plain weight sum
    (and a DataWarning says so). Unknown users get this list too.
    """

    _learned = ("trend_",)

    def __init__(self, half_life_days: float = 7.0) -> None:
        self.half_life_days = half_life_days

    def _fit(self, data: Interactions, items: pd.DataFrame | None) -> None:
        if not self.half_life_days > 0:
            raise InputError(f"half_life_days must be positive; got {self.half_life_days!r}.")
        if data.has_time:
            age_days = (data.times.max() - data.times) / SECONDS_PER_DAY
            decay = np.exp2(-age_days / self.half_life_days)
        else:
            warnings.warn(
                "Trending got no time column, so it ranks by plain popularity; map a time column to use recency.",
                DataWarning,
                stacklevel=3,
            )
            decay = np.ones(len(data))
        self.trend_ = np.bincount(data.items, weights=data.weights * decay, minlength=data.n_items)

    def _score(self, users: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.trend_, (len(users), len(self.trend_)))

    def _cold_start_scores(self) -> np.ndarray:
        return self.trend_
