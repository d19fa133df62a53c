"""Long tables to series: zeros versus gaps, frequencies, parsing and covariates."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from cartwise.core.errors import DataWarning, InputError
from cartwise.forecast import attach_covariates, build_panel, demand_series


def weekly(rows: list[tuple[str, str, object]]) -> pd.DataFrame:
    # As the file reader delivers them: every column is text.
    return pd.DataFrame([(i, d, str(v)) for i, d, v in rows], columns=["sku", "week", "units"])


def test_no_sales_is_zero_but_a_week_missing_for_everyone_is_a_gap() -> None:
    rows = [
        ("a", "2025-01-06", 5), ("b", "2025-01-06", 1),
        ("b", "2025-01-13", 2),                          # a sold nothing this week
        # 2025-01-20: no row at all -> the data are missing that week
        ("a", "2025-01-27", 7), ("b", "2025-01-27", 3),
    ]  # fmt: skip
    panel = build_panel(weekly(rows), "sku", "week", "units")
    assert panel.freq == "W" and panel.step == 7 and panel.season_length == 52
    a = panel.ys[panel.ids.index("a")]
    np.testing.assert_array_equal(a[[0, 1, 3]], [5.0, 0.0, 7.0])
    assert np.isnan(a[2])
    assert panel.label(np.array([4])) == [dt.date(2025, 2, 3)]


def test_integer_periods_stay_integers_and_empty_values_are_missing() -> None:
    frame = pd.DataFrame({"sku": ["a"] * 4, "week": ["1", "2", "3", "4"], "units": ["3", "", "4", "5"]})
    panel = build_panel(frame, "sku", "week", "units")
    assert panel.kind == "int" and panel.freq == "1" and panel.season_length == 1
    assert np.isnan(panel.ys[0][1])
    assert panel.label(np.array([4, 5])) == [5, 6]


def test_series_start_at_their_own_first_period() -> None:
    frame = pd.DataFrame({"sku": ["a", "a", "a", "b"], "week": [1, 2, 3, 3], "units": [1.0, 2.0, 3.0, 9.0]})
    panel = build_panel(frame, "sku", "week", "units", season_length=4)
    assert panel.starts == [0, 2] and panel.ys[1].tolist() == [9.0]
    assert panel.season_length == 4


def test_duplicate_rows_are_refused_with_their_rows() -> None:
    rows = [("a", "2025-01-06", 5), ("a", "2025-01-06", 6), ("a", "2025-01-13", 1)]
    with pytest.raises(InputError, match=r"1 duplicate \(sku, week\) rows \(rows 1, 2.*'a'.*sum them first"):
        build_panel(weekly(rows), "sku", "week", "units")


def test_non_numeric_values_name_column_rows_and_examples() -> None:
    rows = [("a", "2025-01-06", 5), ("a", "2025-01-13", "N/A"), ("a", "2025-01-20", 1)]
    with pytest.raises(
        InputError,
        match=r"`value_col`: Column `units` has 1 non-numeric values \(rows 2, e.g. 'N/A'\).*map another column",
    ):
        build_panel(weekly(rows), "sku", "week", "units")


def test_empty_series_ids_and_periods_name_their_rows() -> None:
    # A CSV file's empty cell reads as "": it must not name a series, nor stand for a period.
    rows = [("a", "2025-01-06", 5), ("", "2025-01-13", 1), ("  ", "2025-01-20", 1)]
    with pytest.raises(
        InputError, match=r"Column `sku` has 2 empty values \(rows 2, 3\); every row needs a series id"
    ):
        build_panel(weekly(rows), "sku", "week", "units")
    with pytest.raises(
        InputError, match=r"Column `week` has 1 empty values \(rows 1\); every row needs a period"
    ):
        build_panel(weekly([("a", " ", 1)]), "sku", "week", "units")


def test_bad_dates_and_missing_columns() -> None:
    with pytest.raises(InputError, match=r"neither dates .* e.g. 'next week'"):
        build_panel(weekly([("a", "next week", 1)]), "sku", "week", "units")
    with pytest.raises(InputError, match=r"`value_col`: Column `qty` is not in the history"):
        build_panel(weekly([("a", "2025-01-06", 1)]), "sku", "week", "qty")


def test_mixed_frequencies_are_refused() -> None:
    daily = [("a", f"2025-01-0{d}", 1) for d in range(1, 8)]
    week = [("b", d, 1) for d in ("2025-01-06", "2025-01-13", "2025-01-20", "2025-01-27")]
    with pytest.raises(
        InputError, match=r"mixed frequencies: series 'b' has a row every 7 days, series 'a' every 1 days"
    ):
        build_panel(weekly(daily + week), "sku", "week", "units")
    # Weekly rows on different weekdays do not sit on one grid either.
    shifted = [("a", "2025-01-06", 1), ("a", "2025-01-13", 1), ("a", "2025-01-21", 1)]
    with pytest.raises(InputError, match="not a multiple of the step"):
        build_panel(weekly(shifted), "sku", "week", "units", freq="W")


def test_missing_future_covariates_are_filled_reported_or_refused() -> None:
    frame = pd.DataFrame({"sku": ["a"] * 3, "week": [1, 2, 3], "units": [1.0, 2.0, 3.0]})
    cov = pd.DataFrame({"sku": ["a"] * 4, "week": [1, 2, 3, 4], "promo": ["yes", "no", "yes", "no"]})
    panel = build_panel(frame, "sku", "week", "units")
    attach_covariates(panel, cov, "sku", "week", horizon=1)
    np.testing.assert_array_equal(panel.Xs[0][:, 0], [1, 0, 1, 0])  # flags become 1/0
    assert panel.covariates_filled == {}
    with pytest.warns(DataWarning, match=r"1 future periods of 1 series lack covariates .*'a' at \[5\]"):
        attach_covariates(panel, cov, "sku", "week", horizon=2)
    np.testing.assert_array_equal(panel.Xs[0][:, 0], [1, 0, 1, 0, 0])  # week 4's value carried to week 5
    assert panel.covariates_filled == {"a": [4]} and panel.omitted == {}
    with pytest.warns(DataWarning, match="left out of the forecast"):
        attach_covariates(panel, cov, "sku", "week", horizon=2, fill="drop")
    assert panel.omitted == {"a": [4]}
    with pytest.raises(InputError, match="lacks values for some of the 2 future periods of 1 series"):
        attach_covariates(panel, cov, "sku", "week", horizon=2, fill="error")


def test_a_gap_in_the_middle_of_the_future_and_a_series_without_covariates() -> None:
    frame = pd.DataFrame({"sku": ["a", "a", "b", "b"], "week": [1, 2, 1, 2], "units": [1.0, 2.0, 3.0, 4.0]})
    # `a` lacks week 4 (between 3 and 5) and its week-5 price cell is empty; `b` has no row at all.
    cov = pd.DataFrame(
        {"sku": ["a"] * 4, "week": [1, 2, 3, 5], "price": [9.0, 8.0, 7.0, None], "promo": [0, 1, 1, 0]}
    )
    panel = build_panel(frame, "sku", "week", "units")
    with pytest.warns(DataWarning) as caught:
        attach_covariates(panel, cov, "sku", "week", horizon=3)
    assert "2 future periods of 1 series" in str(caught[0].message)
    assert "1 series have no covariates" in str(caught[0].message)
    np.testing.assert_array_equal(panel.Xs[0][:, :2], [[9, 0], [8, 1], [7, 1], [7, 1], [7, 0]])
    assert panel.covariates_filled == {"a": [3, 4]} and panel.without_covariates == ["b"]


def test_covariate_kinds_numbers_flags_static_labels_and_bad_text() -> None:
    frame = pd.DataFrame({"sku": ["a", "a", "b", "b"], "week": [1, 2, 1, 2], "units": [1.0, 2.0, 3.0, 4.0]})
    cov = pd.DataFrame(
        {
            "sku": ["a"] * 3 + ["b"] * 3,
            "week": [1, 2, 3] * 2,
            "price": ["9.5", "9.5", "8", "3", "3", "3"],
            "category": ["shoes"] * 3 + ["hats"] * 3,
        }
    )
    panel = attach_covariates(build_panel(frame, "sku", "week", "units"), cov, "sku", "week", horizon=1)
    assert panel.covariate_names == ["price", "category"]
    np.testing.assert_array_equal(panel.Xs[0][:, 0], [9.5, 9.5, 8.0])
    assert len(set(panel.Xs[0][:, 1])) == 1 and panel.Xs[0][0, 1] != panel.Xs[1][0, 1]
    cov["colour"] = ["red", "blue", "red", "red", "red", "red"]
    with pytest.raises(InputError, match=r"Covariate column `colour` .*changes within a series"):
        attach_covariates(build_panel(frame, "sku", "week", "units"), cov, "sku", "week", horizon=1)


def test_dates_get_calendar_features() -> None:
    rows = [("a", "2025-01-06", 1), ("a", "2025-01-13", 2)]
    panel = attach_covariates(
        build_panel(weekly(rows), "sku", "week", "units"), None, "sku", "week", horizon=1
    )
    assert panel.covariate_names == ["week_of_year", "month"]
    np.testing.assert_array_equal(panel.Xs[0], [[2, 1], [3, 1], [4, 1]])


def test_demand_series_sums_per_week_with_zeros_and_gaps() -> None:
    tx = pd.DataFrame(
        {
            "item_id": ["a", "a", "b", "b", "a", "b"],
            "ts": ["2025-01-06 10:00", "2025-01-08 09:00", "2025-01-07 12:00", "2025-01-14 08:00",
                   "2025-01-29 18:00", "2025-02-03 11:00"],
            "quantity": [2, 3, 1, 4, 6, 1],
        }
    )  # fmt: skip
    # Weeks (Mondays): 01-06, 01-13, 01-20 (no transactions at all), 01-27, 02-03.
    out = demand_series(tx, "item_id", "ts", "quantity", freq="W")
    a = out[out["id"] == "a"]["value"].to_numpy()
    np.testing.assert_array_equal(a[[0, 1, 3, 4]], [5.0, 0.0, 6.0, 0.0])
    assert np.isnan(a[2])
    assert out[out["id"] == "b"]["date"].iloc[0] == dt.date(2025, 1, 6)
    panel = build_panel(out, "id", "date", "value")
    assert panel.freq == "W" and np.isnan(panel.ys[0][2]) and panel.ys[0][4] == 0.0
