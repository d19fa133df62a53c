"""Interaction data as recommenders consume it: string ids mapped to dense indices.

Ids are strings everywhere (an id read as a number is kept as its text, so `7` and `"7"` are
the same item). Times are float seconds since the epoch; without a time column the row order
stands in for time (row i happens at second i).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from cartwise.core.errors import InputError
from cartwise.core.times import times_as_seconds

SECONDS_PER_DAY = 86_400.0


def ids_as_strings(values: Any, *, name: str) -> np.ndarray:
    """`values` as a 1-D array of `str` ids; numbers become their text (`7.0` becomes `"7"`).

    Raises InputError naming `name` when an id is missing: null, or empty or blank text (a
    CSV file's empty cell).
    """
    series = pd.Series(np.asarray(values, dtype=object) if not isinstance(values, pd.Series) else values)
    series = series.reset_index(drop=True)
    _refuse_missing(np.flatnonzero(series.isna().to_numpy()), name)
    if pd.api.types.is_float_dtype(series) and np.all(np.mod(series.to_numpy(), 1) == 0):
        series = series.astype("int64")
    text = np.asarray(
        [v if isinstance(v, str) else _id_text(v) for v in series.tolist()], dtype=object
    ).astype(str)
    _refuse_missing(np.flatnonzero(np.char.strip(text) == ""), name)
    return text


def _refuse_missing(rows: np.ndarray, name: str) -> None:
    if len(rows):
        raise InputError(
            f"`{name}` has {len(rows)} missing ids (rows {', '.join(map(str, rows[:5]))}"
            f"{', ...' if len(rows) > 5 else ''}); drop those rows or fill the ids."
        )


def _id_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return str(value)


@dataclass(frozen=True)
class Interactions:
    """Events `(user, item, time, weight, basket)` with ids mapped to indices.

    `user_ids[users[e]]` and `item_ids[items[e]]` are event e's ids; `times` are seconds;
    `weights` default to 1 per event; `baskets` (basket or session codes) are optional.
    `item_ids` may list catalogue items that have no events (cold-start items).
    """

    user_ids: np.ndarray
    item_ids: np.ndarray
    users: np.ndarray
    items: np.ndarray
    times: np.ndarray
    weights: np.ndarray
    baskets: np.ndarray | None = None
    has_time: bool = False

    @classmethod
    def from_arrays(
        cls,
        users: Sequence[Any] | np.ndarray,
        items: Sequence[Any] | np.ndarray,
        times: Sequence[Any] | np.ndarray | None = None,
        weights: Sequence[float] | np.ndarray | None = None,
        baskets: Sequence[Any] | np.ndarray | None = None,
    ) -> Interactions:
        """Build from parallel arrays of ids (any type; kept as strings), times, weights and baskets."""
        user_text = ids_as_strings(users, name="user ids")
        item_text = ids_as_strings(items, name="item ids")
        if len(user_text) != len(item_text):
            raise InputError(
                f"Got {len(user_text)} user ids but {len(item_text)} item ids; pass one of each per event."
            )
        if len(user_text) == 0:
            raise InputError(
                "No interactions were given; a recommender needs at least one (user, item) event."
            )
        user_ids, user_idx = np.unique(user_text, return_inverse=True)
        item_ids, item_idx = np.unique(item_text, return_inverse=True)
        n = len(user_text)
        has_time = times is not None
        t = (
            times_as_seconds(times, name="time", fix="fill or fix them, or leave out the time column")
            if times is not None
            else np.arange(n, dtype=float)
        )
        if weights is None:
            w = np.ones(n, dtype=np.float32)
        else:
            w = pd.to_numeric(pd.Series(weights), errors="coerce").to_numpy(dtype=np.float32)
            bad = np.flatnonzero(~np.isfinite(w) | (w < 0))
            if len(bad):
                raise InputError(
                    f"Weights must be non-negative numbers; {len(bad)} are not (rows {', '.join(map(str, bad[:5]))})."
                )
        b = None
        if baskets is not None:
            _, b = np.unique(ids_as_strings(baskets, name="basket ids"), return_inverse=True)
            b = b.astype(np.int64)
        return cls(
            user_ids=user_ids,
            item_ids=item_ids,
            users=user_idx.astype(np.int32),
            items=item_idx.astype(np.int32),
            times=t,
            weights=w,
            baskets=b,
            has_time=has_time,
        )

    @classmethod
    def from_frame(
        cls,
        frame: Any,
        user_col: str = "user_id",
        item_col: str = "item_id",
        time_col: str | None = None,
        weight_col: str | None = None,
        basket_col: str | None = None,
    ) -> Interactions:
        """Build from a pandas DataFrame or pyarrow Table; names a missing column and lists those present."""
        if not isinstance(frame, pd.DataFrame):
            frame = frame.to_pandas()
        for flag, col in (
            ("user", user_col),
            ("item", item_col),
            ("time", time_col),
            ("weight", weight_col),
            ("basket", basket_col),
        ):
            if col is not None and col not in frame.columns:
                raise InputError(
                    f"Column `{col}` is not in the interactions (columns: "
                    f"{', '.join(map(str, frame.columns))}); name another.",
                    parameter=f"{flag}_col",
                )
        return cls.from_arrays(
            frame[user_col],
            frame[item_col],
            times=frame[time_col] if time_col else None,
            weights=frame[weight_col] if weight_col else None,
            baskets=frame[basket_col] if basket_col else None,
        )

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    def __len__(self) -> int:
        return len(self.users)

    def matrix(self, binary: bool = False) -> sp.csr_matrix:
        """Users x items CSR matrix of summed weights (or 1 where any event exists)."""
        data = np.ones(len(self), dtype=np.float32) if binary else self.weights.astype(np.float32)
        m = sp.csr_matrix((data, (self.users, self.items)), shape=(self.n_users, self.n_items))
        m.sum_duplicates()
        if binary:
            m.data[:] = 1.0
        return m

    def subset(self, mask: np.ndarray) -> Interactions:
        """The events where `mask` is true, keeping the same user and item index."""
        return Interactions(
            user_ids=self.user_ids,
            item_ids=self.item_ids,
            users=self.users[mask],
            items=self.items[mask],
            times=self.times[mask],
            weights=self.weights[mask],
            baskets=None if self.baskets is None else self.baskets[mask],
            has_time=self.has_time,
        )

    def with_items(self, extra_item_ids: Any) -> Interactions:
        """Append catalogue items that have no events to the item index (existing indices are kept)."""
        extra = ids_as_strings(extra_item_ids, name="item ids")
        new = np.setdiff1d(np.unique(extra), self.item_ids)
        if len(new) == 0:
            return self
        return Interactions(
            user_ids=self.user_ids,
            item_ids=np.concatenate([self.item_ids, new]),
            users=self.users,
            items=self.items,
            times=self.times,
            weights=self.weights,
            baskets=self.baskets,
            has_time=self.has_time,
        )

    def order_by_time(self) -> np.ndarray:
        """Event indices sorted by (user, time, original position)."""
        return np.lexsort((np.arange(len(self)), self.times, self.users))


def as_interactions(data: Any) -> Interactions:
    """Accept Interactions, a data frame / Arrow table with `user_id`, `item_id` (and optional
    `ts`, `weight`, `basket_id`) columns, or a users x items scipy sparse matrix."""
    if isinstance(data, Interactions):
        return data
    if sp.issparse(data):
        # A matrix defines its own index: user i is "i", item j is "j", even without events.
        coo = sp.coo_matrix(data)
        keep = coo.data > 0
        n = int(keep.sum())
        if n == 0:
            raise InputError(
                "The interaction matrix has no positive entries; a recommender needs at least one."
            )
        return Interactions(
            user_ids=np.arange(coo.shape[0]).astype(str),
            item_ids=np.arange(coo.shape[1]).astype(str),
            users=coo.row[keep].astype(np.int32),
            items=coo.col[keep].astype(np.int32),
            times=np.arange(n, dtype=float),
            weights=coo.data[keep].astype(np.float32),
        )
    if hasattr(data, "columns") or hasattr(data, "column_names"):
        columns = list(data.columns) if hasattr(data, "columns") else list(data.column_names)
        return Interactions.from_frame(
            data,
            time_col="ts" if "ts" in columns else None,
            weight_col="weight" if "weight" in columns else None,
            basket_col="basket_id" if "basket_id" in columns else None,
        )
    raise InputError(
        f"Interactions must be an Interactions, a data frame with user_id and item_id columns, or a "
        f"sparse users x items matrix; got {type(data).__name__}."
    )
