"""Holdout measures of `cartwise.evaluation.clv` on hand-computed cases."""

from __future__ import annotations

import math

import pytest

from cartwise.core.errors import InputError
from cartwise.evaluation.clv import holdout_errors, holdout_mae, holdout_rmse, total_purchase_error

ACTUAL = [0, 2, 1, 5]
PREDICTED = [0.5, 1.5, 1.0, 3.0]


def test_hand_computed_values() -> None:
    # |errors| = 0.5, 0.5, 0, 2 -> MAE 3/4; squares 0.25, 0.25, 0, 4 -> RMSE sqrt(4.5/4).
    assert holdout_mae(ACTUAL, PREDICTED) == pytest.approx(0.75)
    assert holdout_rmse(ACTUAL, PREDICTED) == pytest.approx(math.sqrt(1.125))
    # Totals 8 actual, 6 predicted -> (6 - 8) / 8.
    assert total_purchase_error(ACTUAL, PREDICTED) == pytest.approx(-0.25)
    assert holdout_errors(ACTUAL, PREDICTED) == {
        "mae": pytest.approx(0.75),
        "rmse": pytest.approx(math.sqrt(1.125)),
        "total_actual": 8.0,
        "total_predicted": 6.0,
        "total_error": pytest.approx(-0.25),
    }


def test_perfect_prediction_scores_zero() -> None:
    assert holdout_mae(ACTUAL, ACTUAL) == 0 and holdout_rmse(ACTUAL, ACTUAL) == 0
    assert total_purchase_error(ACTUAL, ACTUAL) == 0


def test_bad_input_is_explained() -> None:
    with pytest.raises(InputError, match="actual has 4 customers but predicted has 2"):
        holdout_mae(ACTUAL, [1, 2])
    with pytest.raises(InputError, match="no purchases in the holdout"):
        total_purchase_error([0, 0], [1, 1])
    with pytest.raises(InputError, match="predicted has missing"):
        holdout_rmse([1, 2], [1, float("nan")])
