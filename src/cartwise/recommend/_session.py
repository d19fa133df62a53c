"""Session-based recommendations: what tends to come next after the session's last items."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from cartwise.core.errors import InputError
from cartwise.recommend._base import Recommender, _check_n, keep_top_k, register
from cartwise.recommend._data import Interactions, ids_as_strings


@register("session")
class SessionKNN(Recommender):
    """Next items for a session from its last events, via item-to-item transitions.

    Sessions are the basket/session column when given, otherwise a user's events split where
    more than `session_gap_minutes` pass (or all of a user's events without times). Items a
    positions apart (1 <= a <= `window`) in a session co-occur with weight 1/a, in both
    directions; s_ij = c_ij / sqrt(n_i n_j) with n_i the item's event count, keeping `k` per item.
    score(j) = sum_p decay^p * s_{i_p, j} over the session's last `last_n` items i_0 (latest),
    i_1, .... `recommend` uses each user's latest session in the training data;
    `recommend_sessions` scores live sessions.
    """

    _learned = ("similarity_", "last_items_")
    _user_rows = (("last_items_", -1),)
    has_own_similarity = True

    def __init__(
        self,
        window: int = 3,
        k: int = 100,
        last_n: int = 5,
        decay: float = 0.7,
        session_gap_minutes: float = 30.0,
    ) -> None:
        self.window = window
        self.k = k
        self.last_n = last_n
        self.decay = decay
        self.session_gap_minutes = session_gap_minutes

    def _fit(self, data: Interactions, items: pd.DataFrame | None) -> None:
        for name in ("window", "k", "last_n"):
            value = getattr(self, name)
            if not (isinstance(value, int) and value >= 1):
                raise InputError(f"{name} must be a positive integer; got {value!r}.")
        order = data.order_by_time()
        users, items_, times = data.users[order], data.items[order], data.times[order]
        boundary = np.ones(len(order), dtype=bool)
        boundary[1:] = users[1:] != users[:-1]
        if data.baskets is not None:
            baskets = data.baskets[order]
            boundary[1:] |= baskets[1:] != baskets[:-1]
        elif data.has_time:
            boundary[1:] |= np.diff(times) > self.session_gap_minutes * 60.0
        session = np.cumsum(boundary)
        rows, cols, vals = [], [], []
        for gap in range(1, self.window + 1):
            same = session[:-gap] == session[gap:]
            a, b = items_[:-gap][same], items_[gap:][same]
            rows += [a, b]
            cols += [b, a]
            vals += [np.full(len(a), 1.0 / gap), np.full(len(a), 1.0 / gap)]
        n = data.n_items
        co = sp.csr_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
            shape=(n, n),
            dtype=np.float64,
        )
        co.sum_duplicates()
        co.setdiag(0.0)
        co.eliminate_zeros()
        counts = np.sqrt(np.bincount(items_, minlength=n).astype(np.float64))
        counts[counts == 0] = 1.0
        sim = sp.diags(1.0 / counts) @ co @ sp.diags(1.0 / counts)
        self.similarity_ = keep_top_k(sp.csr_matrix(sim, dtype=np.float32), self.k)
        # Each user's latest session, latest item first, padded with -1.
        last = np.full((data.n_users, self.last_n), -1, dtype=np.int32)
        end = np.r_[np.flatnonzero(users[1:] != users[:-1]), len(users) - 1]
        for e in end:
            start = e
            while start > 0 and session[start - 1] == session[e] and e - start + 1 < self.last_n:
                start -= 1
            seq = items_[start : e + 1][::-1]
            last[users[e], : len(seq)] = seq
        self.last_items_ = last

    def _query(self, last: np.ndarray) -> sp.csr_matrix:
        weights = self.decay ** np.arange(last.shape[1], dtype=np.float64)
        r, p = np.nonzero(last >= 0)
        q = sp.csr_matrix((weights[p], (r, last[r, p])), shape=(last.shape[0], len(self.item_ids_)))
        q.sum_duplicates()
        return q

    def _score(self, users: np.ndarray) -> np.ndarray:
        return (self._query(self.last_items_[users]) @ self.similarity_).toarray()

    def _similar(self, items: np.ndarray) -> np.ndarray:
        return self.similarity_[items].toarray() + 1e-9 * self.popularity_ / max(self.popularity_.max(), 1.0)

    def _item_similarity(self, k: int) -> sp.csr_matrix:
        return keep_top_k(self.similarity_, k)

    def recommend_sessions(
        self, sessions: Sequence[Sequence[Any]], n: int = 10, exclude_seen: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-`n` next items for live sessions, each a list of item ids, oldest first.

        Returns `(item_ids, scores)` of shape `(len(sessions), n)`. Unknown items are ignored; a
        session without known items gets the most popular items. With `exclude_seen`, items in
        the session are not recommended.
        """
        self._check_fitted()
        n = _check_n(n)
        index = {v: i for i, v in enumerate(self.item_ids_.tolist())}
        last = np.full((len(sessions), self.last_n), -1, dtype=np.int32)
        in_session: list[list[int]] = []
        for r, session in enumerate(sessions):
            known = (
                [
                    index[v]
                    for v in ids_as_strings(list(session), name="session item ids").tolist()
                    if v in index
                ]
                if len(session)
                else []
            )
            in_session.append(known)
            seq = known[::-1][: self.last_n]
            last[r, : len(seq)] = seq
        scores = (self._query(last) @ self.similarity_).toarray()
        empty = (last < 0).all(axis=1)
        scores[empty] = self.popularity_[None, :]
        scores[~empty] += 1e-9 * self.popularity_ / max(self.popularity_.max(), 1.0)
        if exclude_seen:
            for r, known in enumerate(in_session):
                scores[r, known] = -np.inf
        return self._top_n(scores, n)
