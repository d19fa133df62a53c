"""`rfm_summary`: per-day aggregation, calibration/holdout split and bad input, on hand-made logs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cartwise.core.errors import DataWarning, InputError
from cartwise.predict import rfm_summary

FIXTURES = Path(__file__).parent / "fixtures"


def log(*rows: tuple[str, str, float]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["customer", "when", "amount"])


@pytest.fixture
def shop() -> pd.DataFrame:
    return log(
        ("ann", "2026-01-01 09:00", 10.0),
        ("ann", "2026-01-01 18:30", 5.0),  # same day: one purchase worth 15
        ("ann", "2026-01-08", 20.0),
        ("ann", "2026-01-15", 0.0),  # free order: a purchase day with no value
        ("ann", "2026-02-05", 40.0),  # holdout
        ("bob", "2026-01-29", 7.0),
        ("bob", "2026-02-12", 9.0),  # holdout
        ("bob", "2026-02-13", -9.0),  # refund in the holdout
        ("cat", "2026-02-02", 30.0),  # first buys in the holdout
    )


def test_summary_counts_purchase_days_and_splits_calibration_from_holdout(shop: pd.DataFrame) -> None:
    s = rfm_summary(
        shop,
        customer_col="customer",
        date_col="when",
        amount_col="amount",
        calibration_end="2026-01-29",
        observation_end="2026-02-26",
        time_unit="week",
    )
    c = s.customers.set_index("customer_id")
    assert list(c.index) == ["ann", "bob"]
    ann, bob = c.loc["ann"], c.loc["bob"]
    assert ann["frequency"] == 2  # Jan 1 (two orders), Jan 8, Jan 15
    assert ann["recency"] == pytest.approx(2.0)  # Jan 1 -> Jan 15 in weeks
    assert ann["T"] == pytest.approx(4.0)  # Jan 1 -> Jan 29
    assert ann["monetary_value"] == pytest.approx(20.0)  # repeat days: 20 and the free one left out
    assert ann["monetary_count"] == 1
    assert ann["frequency_holdout"] == 1 and ann["monetary_holdout"] == pytest.approx(40.0)
    assert bob["frequency"] == 0 and bob["recency"] == 0 and bob["T"] == 0
    assert np.isnan(bob["monetary_value"])
    assert bob["frequency_holdout"] == 2 and bob["monetary_holdout"] == pytest.approx(9.0)
    assert s.holdout_duration == pytest.approx(4.0)
    assert s.customers_first_in_holdout == 1
    assert s.nonpositive_amount_rows == 2
    assert s.excluded_after_observation_end == 0


def test_summary_in_days_with_default_ends(shop: pd.DataFrame) -> None:
    s = rfm_summary(shop, customer_col="customer", date_col="when", amount_col="amount", time_unit="day")
    c = s.customers.set_index("customer_id")
    assert str(s.observation_end) == str(s.calibration_end) == "2026-02-13"
    assert s.holdout_duration == 0
    assert c.loc["ann", "frequency"] == 3 and c.loc["ann", "recency"] == 35 and c.loc["ann", "T"] == 43
    assert c.loc["cat", "T"] == 11


def test_transactions_after_the_observation_end_are_left_out_with_a_warning(shop: pd.DataFrame) -> None:
    with pytest.warns(DataWarning, match=r"2 transactions after the observation end 2026-02-10"):
        s = rfm_summary(
            shop, customer_col="customer", date_col="when", amount_col="amount", observation_end="2026-02-10"
        )
    assert s.excluded_after_observation_end == 2
    assert s.transactions_used == 7


def test_summary_of_the_raw_fixture_matches_the_committed_cdnow_summary() -> None:
    raw = pd.read_csv(FIXTURES / "cdnow_transactions_250.txt", sep=r"\s+", header=None, dtype=str)
    s = rfm_summary(
        raw,
        customer_col=0,
        date_col=2,
        amount_col=4,
        date_format="%Y%m%d",
        calibration_end="1997-09-30",
        observation_end="1998-06-30",
    )
    expected = pd.read_csv(FIXTURES / "cdnow_sample_summary.csv", dtype={"customer_id": str}).head(250)
    got = s.customers.reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected, check_dtype=False, atol=1e-6)
    # Customer 00004 of the paper's data: x = 2, t_x = 30.43, T = 38.86 weeks.
    first = got.iloc[0]
    assert (first["frequency"], round(first["recency"], 2), round(first["T"], 2)) == (2, 30.43, 38.86)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"customer_col": "client"}, r"^`customer_col`: Column `client` not found .*customer, when, amount"),
        (
            {"calibration_end": "2025-12-01"},
            r"`calibration_end` 2025-12-01 is before the first transaction \(2026-01-01\)",
        ),
        ({"calibration_end": "2026-03-01", "observation_end": "2026-02-01"}, "after `observation_end`"),
        ({"calibration_end": "soon"}, r"`calibration_end` 'soon' is not a date; use YYYY-MM-DD"),
        ({"time_unit": "fortnight"}, "`time_unit`: must be one of day, week"),
    ],
)
def test_bad_arguments_are_named(shop: pd.DataFrame, kwargs: dict, message: str) -> None:
    args = {"customer_col": "customer", "date_col": "when", "amount_col": "amount", **kwargs}
    with pytest.raises(InputError, match=message):
        rfm_summary(shop, **args)


def test_bad_values_name_the_column_and_rows() -> None:
    bad_dates = log(("a", "2026-01-01", 1.0), ("a", "yesterday", 2.0))
    with pytest.raises(
        InputError,
        match=r"^`date_format`: Column `when` has 1 rows \(rows 1, e\.g\. 'yesterday'\).*the date format",
    ):
        rfm_summary(
            bad_dates, customer_col="customer", date_col="when", amount_col="amount", date_format="%Y-%m-%d"
        )
    bad_amounts = log(("a", "2026-01-01", 1.0), ("a", "2026-01-02", "N/A"))  # type: ignore[arg-type]
    with pytest.raises(
        InputError, match=r"^`amount_col`: Column `amount` has 1 rows .*'N/A'.*map another column"
    ):
        rfm_summary(bad_amounts, customer_col="customer", date_col="when", amount_col="amount")
    no_id = log((None, "2026-01-01", 1.0))  # type: ignore[arg-type]
    with pytest.raises(InputError, match=r"Column `customer` has 1 rows .* no customer id"):
        rfm_summary(no_id, customer_col="customer", date_col="when", amount_col="amount")


def test_a_blank_customer_id_is_a_missing_one() -> None:
    # A CSV file's empty cell reads as "": it must not become a customer of its own.
    blank = log(("a", "2026-01-01", 1.0), ("", "2026-01-02", 2.0), ("  ", "2026-01-03", 3.0))
    with pytest.raises(
        InputError, match=r"Column `customer` has 2 rows \(rows 1, 2, e\.g\. ''\).* no customer id"
    ):
        rfm_summary(blank, customer_col="customer", date_col="when", amount_col="amount")
