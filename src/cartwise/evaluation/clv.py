"""Holdout fit of purchase-count models (lifetime value).

Inputs are shared by every function: `actual`, each customer's number of purchase days in the
holdout period, and `predicted`, the model's expected number for the same customers over the
same duration (e.g. `BGNBD.conditional_expected_purchases(holdout_duration, ...)`). Notation:
y_i actual, yhat_i predicted, n customers.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from cartwise.core.errors import InputError


def _pair(actual: ArrayLike, predicted: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(actual, dtype=np.float64).reshape(-1)
    yhat = np.asarray(predicted, dtype=np.float64).reshape(-1)
    if y.size != yhat.size:
        raise InputError(
            f"actual has {y.size} customers but predicted has {yhat.size}; give one prediction per customer."
        )
    if y.size == 0:
        raise InputError("actual and predicted are empty; there is no holdout to score.")
    for name, arr in (("actual", y), ("predicted", yhat)):
        if not np.all(np.isfinite(arr)):
            raise InputError(f"{name} has missing or infinite values; drop those customers first.")
    return y, yhat


def holdout_mae(actual: ArrayLike, predicted: ArrayLike) -> float:
    """Mean absolute error per customer: ``(1/n) sum_i |y_i - yhat_i|`` (purchases)."""
    y, yhat = _pair(actual, predicted)
    return float(np.mean(np.abs(y - yhat)))


def holdout_rmse(actual: ArrayLike, predicted: ArrayLike) -> float:
    """Root mean squared error per customer: ``sqrt((1/n) sum_i (y_i - yhat_i)^2)`` (purchases)."""
    y, yhat = _pair(actual, predicted)
    return float(np.sqrt(np.mean((y - yhat) ** 2)))


def total_purchase_error(actual: ArrayLike, predicted: ArrayLike) -> float:
    """Relative error of the total: ``(sum_i yhat_i - sum_i y_i) / sum_i y_i``.

    Positive when the model over-forecasts the holdout; how Fader, Hardie and Lee (2005) judge
    aggregate tracking. InputError when there are no actual purchases (the ratio is undefined).
    """
    y, yhat = _pair(actual, predicted)
    total = float(y.sum())
    if total <= 0:
        raise InputError("actual has no purchases in the holdout, so the relative total error is undefined.")
    return float((yhat.sum() - total) / total)


def holdout_errors(actual: ArrayLike, predicted: ArrayLike) -> dict[str, float | None]:
    """All holdout measures at once: mae, rmse, total_actual, total_predicted, total_error
    (None when the holdout has no purchases)."""
    y, yhat = _pair(actual, predicted)
    out: dict[str, float | None] = {
        "mae": holdout_mae(y, yhat),
        "rmse": holdout_rmse(y, yhat),
        "total_actual": float(y.sum()),
        "total_predicted": float(yhat.sum()),
    }
    out["total_error"] = total_purchase_error(y, yhat) if y.sum() > 0 else None
    return out


__all__ = ["holdout_errors", "holdout_mae", "holdout_rmse", "total_purchase_error"]
