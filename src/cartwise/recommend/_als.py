"""Matrix factorisation by alternating least squares (the `implicit` library's solver)."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from cartwise.core.errors import InputError
from cartwise.recommend._base import Recommender, register
from cartwise.recommend._data import Interactions
from cartwise.recommend._neighbours import bm25_weight


@register("als")
class ALS(Recommender):
    """Implicit-feedback ALS (Hu, Koren and Volinsky 2008) via `implicit`.

    Minimises sum_ui c_ui (p_ui - x_u . y_i)^2 + regularization * (|x|^2 + |y|^2) with
    p_ui = 1 where the user interacted, confidence c_ui = 1 + alpha * r_ui, and r_ui the summed
    weights, BM25-weighted over items when `weighting="bm25"`. Score = x_u . y_i.
    """

    _learned = ("user_factors_", "item_factors_")
    _user_rows = (("user_factors_", 0.0),)
    has_own_similarity = True

    def __init__(
        self,
        factors: int = 64,
        regularization: float = 0.1,
        alpha: float = 2.0,
        iterations: int = 15,
        weighting: Literal["bm25", "none"] = "none",
        random_state: int = 0,
        num_threads: int = 1,
    ) -> None:
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.weighting = weighting
        self.random_state = random_state
        self.num_threads = num_threads

    def _fit(self, data: Interactions, items: pd.DataFrame | None) -> None:
        from implicit.cpu.als import AlternatingLeastSquares

        if self.weighting not in ("bm25", "none"):
            raise InputError(f"weighting must be 'bm25' or 'none'; got {self.weighting!r}.")
        user_items = data.matrix()
        if self.weighting == "bm25":
            user_items = bm25_weight(user_items.T.tocsr()).T.tocsr()
        model = AlternatingLeastSquares(
            factors=self.factors,
            regularization=self.regularization,
            alpha=self.alpha,
            iterations=self.iterations,
            random_state=self.random_state,
            num_threads=self.num_threads,
        )
        model.fit(user_items.astype(np.float32).tocsr(), show_progress=False)
        self.user_factors_ = np.asarray(model.user_factors, dtype=np.float32)
        self.item_factors_ = np.asarray(model.item_factors, dtype=np.float32)

    def _score(self, users: np.ndarray) -> np.ndarray:
        return self.user_factors_[users] @ self.item_factors_.T

    def _similar(self, items: np.ndarray) -> np.ndarray:
        norms = np.linalg.norm(self.item_factors_, axis=1)
        norms[norms == 0] = 1.0
        return (self.item_factors_[items] @ self.item_factors_.T) / norms[items, None] / norms[None, :]

    def _item_similarity(self, k: int) -> sp.csr_matrix:
        return self._dense_item_similarity(self._similar, k)
