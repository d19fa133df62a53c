"""Train/test splits of interaction tables for evaluating recommenders.

Every split takes a data frame of events and returns `Split(train, test)`, two frames with
the input's columns and rows (each row lands in exactly one part). "Later" means a larger
value in the time column; equal times keep the input's row order, and without a time column
the row order is the time order.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from cartwise.core.errors import ConfigError, InputError
from cartwise.core.times import times_as_seconds


class Split(NamedTuple):
    train: pd.DataFrame
    test: pd.DataFrame


def _check_columns(frame: pd.DataFrame, **columns: str | None) -> None:
    for role, name in columns.items():
        if name is not None and name not in frame.columns:
            raise InputError(
                f"Column `{name}` is not in the interactions (columns: "
                f"{', '.join(map(str, frame.columns))}); name another.",
                parameter=role,
            )


def _time_order(frame: pd.DataFrame, user_col: str, time_col: str | None) -> np.ndarray:
    """Row positions sorted by user, then time, then input order."""
    position = np.arange(len(frame))
    users = frame[user_col].astype(str).to_numpy()
    if time_col is None:
        return np.lexsort((position, users))
    times = _sortable_times(frame[time_col], time_col)
    return np.lexsort((position, times, users))


def _sortable_times(values: pd.Series, name: str) -> np.ndarray:
    return times_as_seconds(values, name=name, fix="fix them or drop those rows")


def leave_last_n(
    frame: pd.DataFrame, n: int = 1, *, user_col: str = "user_id", time_col: str | None = "ts"
) -> Split:
    """Each user's last `n` events go to test; users with `n` or fewer events stay whole in train
    (a user needs history to be judged on)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ConfigError(f"n (events held out per user) must be a positive integer; got {n!r}.")
    _check_columns(frame, user_col=user_col, time_col=time_col)
    order = _time_order(frame, user_col, time_col)
    users = frame[user_col].astype(str).to_numpy()[order]
    _, starts, counts = np.unique(users, return_index=True, return_counts=True)
    group_start = np.repeat(starts, counts)
    group_size = np.repeat(counts, counts)
    from_end = group_size - 1 - (np.arange(len(order)) - group_start)
    test_mask = np.zeros(len(frame), dtype=bool)
    test_mask[order[(from_end < n) & (group_size > n)]] = True
    return Split(frame[~test_mask], frame[test_mask])


def temporal_split(
    frame: pd.DataFrame,
    *,
    test_fraction: float = 0.2,
    user_col: str = "user_id",
    time_col: str = "ts",
    known_users_only: bool = True,
) -> Split:
    """Events at or after the time cutoff go to test, the cutoff being the (1 - test_fraction)
    quantile of event times: the model sees the past and is judged on the future. With
    `known_users_only`, test events of users absent from train are dropped (they have no history)."""
    if not 0 < test_fraction < 1:
        raise ConfigError(f"test_fraction must be between 0 and 1; got {test_fraction!r}.")
    if time_col is None:
        raise ConfigError(
            "A temporal split needs a time column; name one or use the leave-last-5 split.",
            parameter="time_col",
        )
    _check_columns(frame, user_col=user_col, time_col=time_col)
    times = _sortable_times(frame[time_col], time_col)
    cutoff = np.quantile(times, 1.0 - test_fraction)
    test_mask = times >= cutoff
    if test_mask.all():
        raise InputError(
            f"All events share the time {cutoff!r}, so there is no past to train on; a temporal split needs varied times."
        )
    train, test = frame[~test_mask], frame[test_mask]
    if known_users_only:
        known = set(train[user_col].astype(str))
        test = test[test[user_col].astype(str).isin(known)]
    return Split(train, test)


def last_basket(
    frame: pd.DataFrame,
    *,
    basket_col: str,
    user_col: str = "user_id",
    time_col: str | None = "ts",
) -> Split:
    """Each user's last basket (the basket of their latest event) goes to test, for next-basket
    evaluation; users with a single basket stay whole in train."""
    if basket_col is None:
        raise ConfigError(
            "A last-basket split needs a basket column (an order or session id); name one.",
            parameter="basket_col",
        )
    _check_columns(frame, user_col=user_col, time_col=time_col, basket_col=basket_col)
    order = _time_order(frame, user_col, time_col)
    users = frame[user_col].astype(str).to_numpy()
    baskets = frame[basket_col].astype(str).to_numpy()
    last_basket_of = dict(zip(users[order], baskets[order], strict=True))  # latest event wins
    baskets_per_user = pd.Series(baskets).groupby(users).nunique()
    multi = baskets_per_user[baskets_per_user > 1].index
    is_last = np.fromiter(
        (last_basket_of[u] == b for u, b in zip(users, baskets, strict=True)), dtype=bool, count=len(frame)
    )
    test_mask = is_last & np.isin(users, np.asarray(multi, dtype=object).astype(str))
    return Split(frame[~test_mask], frame[test_mask])
