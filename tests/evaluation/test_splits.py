"""Train/test splits: every row lands in exactly one part, and the right ones in test."""

from __future__ import annotations

import pandas as pd
import pytest

from cartwise.core.errors import ConfigError, InputError
from cartwise.evaluation.splits import last_basket, leave_last_n, temporal_split


def events() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user_id": ["A", "A", "A", "A", "B", "B", "C"],
            "item_id": ["a1", "a2", "a3", "a4", "b1", "b2", "c1"],
            "ts": [3, 1, 2, 4, 5, 5, 9],
            "order": ["o2", "o1", "o1", "o2", "o3", "o3", "o4"],
        }
    )


def test_leave_last_n_holds_out_each_users_latest_events() -> None:
    train, test = leave_last_n(events(), 2)
    assert sorted(test["item_id"]) == ["a1", "a4"]  # A's events at times 3 and 4
    # B and C have no more than 2 events: they stay whole in train.
    assert sorted(train["item_id"]) == ["a2", "a3", "b1", "b2", "c1"]


def test_leave_last_n_breaks_time_ties_by_row_order_and_works_without_time() -> None:
    _, test = leave_last_n(events(), 1)
    assert "b2" in set(test["item_id"])  # b1 and b2 share a time; b2 comes later in the file
    _, test = leave_last_n(events(), 1, time_col=None)
    assert sorted(test["item_id"]) == ["a4", "b2"]


def test_temporal_split_keeps_the_future_for_test() -> None:
    frame = pd.DataFrame({"user_id": ["u"] * 9 + ["late"], "item_id": list("abcdefghij"), "ts": range(1, 11)})
    train, test = temporal_split(frame, test_fraction=0.3)
    assert train["ts"].max() < test["ts"].min()
    assert list(test["item_id"]) == ["h", "i"]  # "j" belongs to a user unknown in train
    _, with_cold = temporal_split(frame, test_fraction=0.3, known_users_only=False)
    assert list(with_cold["item_id"]) == ["h", "i", "j"]


def test_temporal_split_reads_date_strings() -> None:
    frame = pd.DataFrame(
        {
            "user_id": ["u"] * 4,
            "item_id": list("abcd"),
            "ts": ["2026-01-04", "2026-01-01", "2026-01-02", "2026-01-03"],
        }
    )
    _, test = temporal_split(frame, test_fraction=0.25)
    assert list(test["item_id"]) == ["a"]


def test_last_basket_holds_out_the_latest_order() -> None:
    train, test = last_basket(events(), basket_col="order")
    assert sorted(test["item_id"]) == ["a1", "a4"]  # A's order o2; B and C have one order only
    assert len(train) + len(test) == len(events())


def test_bad_arguments_are_explained() -> None:
    with pytest.raises(InputError, match="`when`"):
        leave_last_n(events(), 1, time_col="when")
    with pytest.raises(ConfigError, match="positive integer"):
        leave_last_n(events(), 0)
    with pytest.raises(ConfigError, match=r"^`time_col`: A temporal split needs a time column") as caught:
        temporal_split(events(), time_col=None)
    assert caught.value.parameter == "time_col"
    with pytest.raises(
        ConfigError, match=r"^`basket_col`: A last-basket split needs a basket column"
    ) as caught:
        last_basket(events(), basket_col=None)
    assert caught.value.parameter == "basket_col"
