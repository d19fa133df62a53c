"""Item-item recommenders: item-kNN over co-occurrence (cosine or BM25) and EASE (closed form)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from cartwise.core.errors import InputError, ModelError
from cartwise.recommend._base import Recommender, keep_top_k, register, top_k_sparse
from cartwise.recommend._data import Interactions

# Dense cells per similarity block (about 64 MB of float64).
_BLOCK_CELLS = 1 << 23


def bm25_weight(x: sp.spmatrix, k1: float = 100.0, b: float = 0.8) -> sp.csr_matrix:
    """BM25-weight the rows of `x` (rows are documents, columns terms).

    w_dt = x_dt * (k1 + 1) / (k1 * (1 - b + b * len_d / avg_len) + x_dt) * idf_t, with
    idf_t = log(N) - log(1 + df_t), N the number of rows, df_t the rows where t occurs and
    len_d the row sum. (The weighting of implicit's `bm25_weight`.)
    """
    coo = sp.coo_matrix(x, dtype=np.float64)
    idf = np.log(max(coo.shape[0], 1)) - np.log1p(np.bincount(coo.col, minlength=coo.shape[1]))
    row_sums = np.asarray(coo.sum(axis=1)).ravel()
    length_norm = (1.0 - b) + b * row_sums / max(row_sums.mean(), 1e-12)
    data = coo.data * (k1 + 1.0) / (k1 * length_norm[coo.row] + coo.data) * idf[coo.col]
    return sp.csr_matrix((data, (coo.row, coo.col)), shape=coo.shape)


def _blocks(left: sp.csr_matrix, right_t: sp.csr_matrix) -> Iterator[tuple[int, np.ndarray]]:
    """Dense blocks of rows of left @ right_t.T with the diagonal zeroed (no self-similarity)."""
    n = left.shape[0]
    size = max(1, _BLOCK_CELLS // max(right_t.shape[0], 1))
    right = right_t.T.tocsc()
    for start in range(0, n, size):
        block = (left[start : start + size] @ right).toarray()
        rows = np.arange(block.shape[0])
        block[rows, start + rows] = 0.0
        yield start, block


@register("itemknn")
class ItemKNN(Recommender):
    """Item-based k-nearest neighbours over who-interacted-with-what.

    Similarity of items i and j from the binary items x users matrix X (row x_i):
    `cosine`: s_ij = x_i . x_j / (|x_i| |x_j| + shrink);
    `bm25`: s_ij = b_i . b_j with b = bm25_weight(X) (heavy users and very popular items count less).
    Each item keeps its `k` most similar items. A user's score for j is the sum over the items i
    they interacted with of s_ij.
    """

    _learned = ("similarity_",)
    has_own_similarity = True

    def __init__(
        self,
        k: int = 100,
        weighting: Literal["cosine", "bm25"] = "cosine",
        shrink: float = 0.0,
        bm25_k1: float = 100.0,
        bm25_b: float = 0.8,
    ) -> None:
        self.k = k
        self.weighting = weighting
        self.shrink = shrink
        self.bm25_k1 = bm25_k1
        self.bm25_b = bm25_b

    def _fit(self, data: Interactions, items: pd.DataFrame | None) -> None:
        if self.weighting not in ("cosine", "bm25"):
            raise InputError(f"weighting must be 'cosine' or 'bm25'; got {self.weighting!r}.")
        if not (isinstance(self.k, int) and self.k >= 1):
            raise InputError(f"k (neighbours per item) must be a positive integer; got {self.k!r}.")
        item_users = self.seen_.T.tocsr()
        if self.weighting == "bm25":
            weighted = bm25_weight(item_users, self.bm25_k1, self.bm25_b)
            blocks = _blocks(weighted, weighted)
        else:
            norms = np.sqrt(np.asarray(item_users.sum(axis=1)).ravel())
            if self.shrink:
                blocks = (
                    (
                        start,
                        block * _inv(norms[start : start + len(block), None] * norms[None, :] + self.shrink),
                    )
                    for start, block in _blocks(item_users, item_users)
                )
            else:
                normed = sp.diags(_inv(norms)) @ item_users
                blocks = _blocks(normed.tocsr(), normed.tocsr())
        self.similarity_ = top_k_sparse(blocks, data.n_items, data.n_items, self.k)

    def _score(self, users: np.ndarray) -> np.ndarray:
        return (self.seen_[users] @ self.similarity_).toarray()

    def _similar(self, items: np.ndarray) -> np.ndarray:
        return self.similarity_[items].toarray() + 1e-9 * self.popularity_ / max(self.popularity_.max(), 1.0)

    def _item_similarity(self, k: int) -> sp.csr_matrix:
        return keep_top_k(self.similarity_, k)


def _spd_inverse(matrix: np.ndarray) -> np.ndarray:
    """Inverse of a symmetric positive definite matrix via Cholesky (about twice as fast as LU)."""
    from scipy.linalg import lapack

    factor, info = lapack.dpotrf(matrix, lower=True)
    if info == 0:
        inverse, info = lapack.dpotri(factor, lower=True)
    if info != 0:
        raise ModelError(f"EASE could not invert its Gram matrix (LAPACK info {info}); raise l2.")
    # dpotri fills one triangle only.
    return np.tril(inverse) + np.tril(inverse, -1).T


def _inv(values: np.ndarray) -> np.ndarray:
    out = np.zeros_like(values, dtype=np.float64)
    np.divide(1.0, values, out=out, where=values > 0)
    return out


@register("ease")
class EASE(Recommender):
    """EASE (Steck 2019): a dense item-item model with a closed-form solution.

    With X the binary users x items matrix and G = X'X + lam * I, P = G^-1, the weights are
    B_ij = -P_ij / P_jj for i != j and B_jj = 0; a user's score for j is x_u . B[:, j].
    Memory and time grow with the square and cube of the number of items, so catalogues above
    `max_items` items are refused (use itemknn there).
    """

    _learned = ("weights_",)
    has_own_similarity = True

    def __init__(self, l2: float = 500.0, max_items: int = 20_000) -> None:
        self.l2 = l2
        self.max_items = max_items

    def _fit(self, data: Interactions, items: pd.DataFrame | None) -> None:
        if not self.l2 > 0:
            raise InputError(f"l2 must be positive; got {self.l2!r}.")
        if data.n_items > self.max_items:
            raise ModelError(
                f"EASE needs an items x items matrix; {data.n_items} items exceed max_items={self.max_items}. "
                "Use the itemknn model, or raise max_items if memory allows."
            )
        x = self.seen_
        gram = (x.T @ x).toarray().astype(np.float64)
        gram[np.diag_indices_from(gram)] += self.l2
        p = _spd_inverse(gram)
        weights = -p / np.diag(p)[None, :]
        np.fill_diagonal(weights, 0.0)
        self.weights_ = weights.astype(np.float32)

    def _score(self, users: np.ndarray) -> np.ndarray:
        return np.asarray(self.seen_[users] @ self.weights_)

    def _similar(self, items: np.ndarray) -> np.ndarray:
        return self.weights_[items].astype(np.float64)

    def _item_similarity(self, k: int) -> sp.csr_matrix:
        # Rows of B: how much each item predicts the others; negative weights are not similarity.
        return self._dense_item_similarity(self._similar, k)
