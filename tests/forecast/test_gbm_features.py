"""The global model's vectorised feature helpers give the values of the plain pandas/numpy ones."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from cartwise.forecast._gbm import _column_medians, _rolling_median


def test_rolling_median_skips_missing_periods_like_pandas() -> None:
    rng = np.random.default_rng(0)
    for n in (0, 1, 5, 11, 12, 13, 40):
        for share_missing in (0.0, 0.3, 1.0):
            y = rng.poisson(5, n).astype(float)
            y[rng.random(n) < share_missing] = np.nan
            expected = pd.Series(y, dtype=float).rolling(12, min_periods=1).median().to_numpy()
            np.testing.assert_allclose(_rolling_median(y, 12), expected, equal_nan=True)


def test_column_medians_match_nanmedian_and_leave_empty_columns_missing() -> None:
    rng = np.random.default_rng(1)
    M = rng.normal(size=(30, 3))
    M[rng.random((30, 3)) < 0.3] = np.nan
    M[:, 2] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # nanmedian warns on the empty column
        expected = np.nanmedian(M, axis=0)
    np.testing.assert_allclose(_column_medians(M), expected, equal_nan=True)
