"""Forecast accuracy metrics, and their summary over a backtest.

Each metric takes arrays of actuals and forecasts of equal length; positions where the
actual is missing (NaN, a gap in the data) are left out. Notation: y_t actual, ŷ_t forecast,
h the number of scored periods, [l_t, u_t] a prediction interval.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from cartwise.core.errors import InputError


def _pair(y_true: Any, y_pred: Any, name: str = "y_pred") -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(y_true, dtype=float).ravel()
    p = np.asarray(y_pred, dtype=float).ravel()
    if t.shape != p.shape:
        raise InputError(
            f"`y_true` has {t.size} values but `{name}` has {p.size}; pass one forecast per actual."
        )
    keep = ~np.isnan(t)
    return t[keep], p[keep]


def mase_scale(y_train: Any, season_length: int = 1) -> float:
    """In-sample mean absolute error of the seasonal naive forecast: (1/(n−m)) Σ_{t>m} |y_t − y_{t−m}|.

    Falls back to m = 1 when the history is not longer than one season; missing values are skipped.
    Returns NaN when no difference can be formed.
    """
    y = np.asarray(y_train, dtype=float).ravel()
    m = season_length if y.size > season_length else 1
    d = np.abs(y[m:] - y[:-m]) if y.size > m else np.array([])
    d = d[~np.isnan(d)]
    return float(d.mean()) if d.size else float("nan")


def mase(y_true: Any, y_pred: Any, y_train: Any, season_length: int = 1) -> float:
    """Mean absolute scaled error (Hyndman & Koehler 2006).

    MASE = [(1/h) Σ |y_t − ŷ_t|] / [(1/(n−m)) Σ_{t=m+1..n} |y_t − y_{t−m}|]

    where the denominator is the in-sample error of the seasonal naive forecast on the
    training history y_1..y_n (`mase_scale`). 1.0 means as accurate as that in-sample naive;
    lower is better. Infinite when the history is constant and the forecast misses; NaN when
    the history has fewer than two points.
    """
    t, p = _pair(y_true, y_pred)
    scale = mase_scale(y_train, season_length)
    mae = float(np.mean(np.abs(t - p))) if t.size else float("nan")
    if np.isnan(scale) or np.isnan(mae):
        return float("nan")
    if scale == 0:
        return 0.0 if mae == 0 else float("inf")
    return mae / scale


def smape(y_true: Any, y_pred: Any) -> float:
    """Symmetric mean absolute percentage error, in percent (0 to 200).

    sMAPE = (100/h) Σ 2·|y_t − ŷ_t| / (|y_t| + |ŷ_t|),  a term with y_t = ŷ_t = 0 counting as 0

    (the M4 competition's definition; the zero convention keeps it defined on intermittent demand).
    """
    t, p = _pair(y_true, y_pred)
    if t.size == 0:
        return float("nan")
    denom = np.abs(t) + np.abs(p)
    terms = np.divide(2 * np.abs(t - p), denom, out=np.zeros_like(denom), where=denom > 0)
    return float(100 * terms.mean())


def coverage(y_true: Any, lo: Any, hi: Any) -> float:
    """Interval coverage: the share of actuals inside their interval, (1/h) Σ 1[l_t ≤ y_t ≤ u_t].

    A well-calibrated 80% interval has coverage near 0.8.
    """
    t, low = _pair(y_true, lo, "lo")
    _, high = _pair(y_true, hi, "hi")
    if t.size == 0:
        return float("nan")
    return float(np.mean((low <= t) & (t <= high)))


def pinball(y_true: Any, q_pred: Any, quantile: float) -> float:
    """Pinball (quantile) loss of forecasts of the τ-quantile, τ = `quantile` in (0, 1).

    L_τ = (1/h) Σ max(τ·(y_t − q_t), (τ − 1)·(y_t − q_t))
    """
    if not 0 < quantile < 1:
        raise InputError(f"`quantile` must be in (0, 1); received {quantile!r}.")
    t, q = _pair(y_true, q_pred, "q_pred")
    if t.size == 0:
        return float("nan")
    d = t - q
    return float(np.mean(np.maximum(quantile * d, (quantile - 1) * d)))


def winkler(y_true: Any, lo: Any, hi: Any, level: float) -> float:
    """Mean Winkler interval score at coverage `level` in (0, 1), with α = 1 − level.

    W_t = (u_t − l_t) + (2/α)(l_t − y_t)·1[y_t < l_t] + (2/α)(y_t − u_t)·1[y_t > u_t]

    Narrow intervals score low, misses are penalised in proportion to their distance.
    """
    if not 0 < level < 1:
        raise InputError(f"`level` must be in (0, 1); received {level!r}.")
    t, low = _pair(y_true, lo, "lo")
    _, high = _pair(y_true, hi, "hi")
    if t.size == 0:
        return float("nan")
    alpha = 1 - level
    score = (high - low) + (2 / alpha) * np.maximum(low - t, 0) + (2 / alpha) * np.maximum(t - high, 0)
    return float(np.mean(score))


def summarize_backtest(
    frame: pd.DataFrame, train: Mapping[tuple[int, str], np.ndarray], season_length: int = 1
) -> pd.DataFrame:
    """Accuracy per model of a backtest frame (`model, window, id, actual, forecast, lo_80 …`).

    MASE is computed per (series, window) against that window's training history `train[(window, id)]`
    and averaged over the series-windows where it is finite (a constant history has no scale);
    sMAPE and coverage pool every scored period. Returns one row per model with
    `mase, smape, coverage_80, coverage_95, n_series`.
    """
    rows = []
    for model, g in frame.groupby("model", sort=False):
        scaled = []
        for (w, sid), s in g.groupby(["window", "id"], sort=False):
            value = mase(s["actual"], s["forecast"], train[(int(w), str(sid))], season_length)
            if np.isfinite(value):
                scaled.append(value)
        rows.append(
            {
                "model": model,
                "mase": float(np.mean(scaled)) if scaled else float("nan"),
                "smape": smape(g["actual"], g["forecast"]),
                "coverage_80": coverage(g["actual"], g["lo_80"], g["hi_80"]),
                "coverage_95": coverage(g["actual"], g["lo_95"], g["hi_95"]),
                "n_series": int(g["id"].nunique()),
            }
        )
    return pd.DataFrame(rows)
