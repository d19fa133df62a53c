"""Forecast metrics against values computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from cartwise.core.errors import InputError
from cartwise.evaluation.forecast import (
    coverage,
    mase,
    mase_scale,
    pinball,
    smape,
    summarize_backtest,
    winkler,
)


def test_mase_by_hand() -> None:
    # In-sample naive errors of [1, 3, 2, 4]: |3-1|, |2-3|, |4-2| -> mean 5/3.
    # Forecast errors: |5-4|, |3-5| -> mean 1.5.  MASE = 1.5 / (5/3) = 0.9.
    assert mase([5, 3], [4, 5], [1, 3, 2, 4]) == pytest.approx(0.9)


def test_mase_seasonal_scale_by_hand() -> None:
    # m = 2: |2-1|, |4-3|, |3-2|... history [1, 3, 2, 4, 3]: |2-1|=1, |4-3|=1, |3-2|=1 -> scale 1.
    assert mase_scale([1, 3, 2, 4, 3], season_length=2) == pytest.approx(1.0)
    assert mase([10, 10], [8, 11], [1, 3, 2, 4, 3], season_length=2) == pytest.approx(1.5)


def test_mase_skips_missing_actuals_and_handles_constant_history() -> None:
    assert mase([5, np.nan], [4, 100], [1, 3, 2, 4]) == pytest.approx(1 / (5 / 3))
    assert mase([2, 2], [2, 2], [2, 2, 2]) == 0.0
    assert mase([3], [2], [2, 2, 2]) == math.inf
    assert math.isnan(mase([3], [2], [2]))


def test_smape_by_hand() -> None:
    # Terms: 2|100-110|/(100+110) = 20/210; 2|50-40|/90 = 20/90; 0/0 -> 0.
    expected = 100 * (20 / 210 + 20 / 90 + 0) / 3
    assert smape([100, 50, 0], [110, 40, 0]) == pytest.approx(expected)
    assert smape([0, 4], [2, 4]) == pytest.approx(100.0)  # one term of 2, one of 0


def test_coverage_by_hand() -> None:
    # Inside: 1 (on the lower bound), 5 (inside); outside: 9, -1.
    assert coverage([1, 5, 9, -1], [1, 0, 0, 0], [2, 6, 8, 8]) == pytest.approx(0.5)


def test_pinball_by_hand() -> None:
    # tau = 0.8: y - q = 2 -> 0.8*2 = 1.6; y - q = -1 -> 0.2*1 = 0.2; mean 0.9.
    assert pinball([10, 4], [8, 5], 0.8) == pytest.approx(0.9)
    with pytest.raises(InputError, match="quantile"):
        pinball([1], [1], 1.5)


def test_winkler_by_hand() -> None:
    # level 0.8, alpha 0.2, 2/alpha = 10. Width 4 each.
    # y=5 inside [3,7]: 4. y=1 below: 4 + 10*(3-1) = 24. y=9 above: 4 + 10*(9-7) = 24.
    assert winkler([5, 1, 9], [3, 3, 3], [7, 7, 7], 0.8) == pytest.approx((4 + 24 + 24) / 3)


def test_length_mismatch_names_the_argument() -> None:
    with pytest.raises(InputError, match="y_pred"):
        smape([1, 2, 3], [1, 2])


def test_summarize_backtest_averages_mase_per_series_window() -> None:
    frame = pd.DataFrame(
        {
            "model": ["m"] * 4,
            "window": [1, 1, 1, 1],
            "id": ["a", "a", "b", "b"],
            "actual": [5.0, 3.0, 10.0, 10.0],
            "forecast": [4.0, 5.0, 10.0, 12.0],
            "lo_80": [0.0, 0.0, 11.0, 11.0],
            "hi_80": [9.0, 9.0, 12.0, 12.0],
            "lo_95": [0.0, 0.0, 0.0, 0.0],
            "hi_95": [20.0, 20.0, 20.0, 20.0],
        }
    )
    train = {(1, "a"): np.array([1.0, 3.0, 2.0, 4.0]), (1, "b"): np.array([0.0, 2.0, 4.0])}
    row = summarize_backtest(frame, train).iloc[0]
    # a: 0.9 (see test_mase_by_hand); b: MAE 1 / scale 2 = 0.5.
    assert row["mase"] == pytest.approx((0.9 + 0.5) / 2)
    assert row["coverage_80"] == pytest.approx(0.5)
    assert row["coverage_95"] == pytest.approx(1.0)
    assert row["n_series"] == 2
