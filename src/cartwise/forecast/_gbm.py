"""A global gradient-boosting demand model with known future covariates (LightGBM).

One model learns from every series at once (the design of Nixtla's mlforecast): each row is
one period of one series, its target the demand divided by the series' scale (mean absolute
demand of its history), its features

* lags of the scaled demand at least `horizon` periods old (lag h … h+`n_lags`−1), the mean of
  the 4 and 12 periods ending `horizon` periods before, and the seasonal lag (the smallest
  multiple of `season_length` that is at least `horizon`), so one model serves every step of
  the horizon without feeding forecasts back;
* the covariates of the target period itself (price, promotion, display flags, calendar
  columns, static features): these are known in advance, which is what makes the model
  promotion-aware;
* the log of the series scale.

Intervals are split-conformal over series: the model is refitted with the last `horizon`
periods of every series held out (for each of `n_windows` origins), and the held-out errors
divided by each series' scale are pooled; series i gets half-width q_L · scale_i.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Self

import numpy as np
import pandas as pd

from cartwise.core.errors import InputError, ModelError
from cartwise.forecast._base import COLUMNS, LEVELS, Forecaster, as_series, conformal_halfwidth


def _scale(y: np.ndarray) -> float:
    s = float(np.nanmean(np.abs(y))) if np.isfinite(y).any() else 0.0
    return s if s > 0 else 1.0


class GradientBoosting(Forecaster):
    """Global LightGBM model over many series with known future covariates; see the module docstring.

    `horizon` is the longest forecast it can make (lags start there). `fit_panel`/`predict_panel`
    work on many series; `fit`/`predict` on one series follow the common contract.
    """

    name = "lightgbm"
    uses_covariates = True

    def __init__(
        self,
        horizon: int = 12,
        season_length: int = 1,
        n_lags: int = 8,
        n_estimators: int = 300,
        learning_rate: float = 0.05,
        num_leaves: int = 31,
        min_child_samples: int = 20,
        n_windows: int = 2,
        n_jobs: int = 1,
        random_state: int = 0,
    ) -> None:
        self.horizon = horizon
        self.season_length = season_length
        self.n_lags = n_lags
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.n_windows = n_windows
        self.n_jobs = n_jobs
        self.random_state = random_state

    def min_obs(self, h: int = 1) -> int:
        return self.horizon + 2

    # -- features ----------------------------------------------------------------------
    def _seasonal_lag(self) -> int | None:
        m = self.season_length
        if m <= 1:
            return None
        return m * math.ceil(self.horizon / m)

    def _features(
        self, ys: np.ndarray, X: np.ndarray | None, targets: np.ndarray, scale: float
    ) -> np.ndarray:
        """Feature rows for target positions `targets` from the scaled history `ys`."""
        L = self.horizon
        n = ys.size

        def lag(k: int) -> np.ndarray:
            idx = targets - k
            out = np.full(targets.size, np.nan)
            ok = (idx >= 0) & (idx < n)
            out[ok] = ys[idx[ok]]
            return out

        cols = [lag(L + j) for j in range(self.n_lags)]
        # Rolling means from a cumulative sum that skips missing values.
        filled = np.nan_to_num(ys)
        csum = np.concatenate([[0.0], np.cumsum(filled)])
        ccnt = np.concatenate([[0], np.cumsum(~np.isnan(ys))])
        for w in (4, 12):
            end = np.clip(targets - L + 1, 0, n)
            start = np.clip(end - w, 0, n)
            cnt = ccnt[end] - ccnt[start]
            with np.errstate(invalid="ignore", divide="ignore"):
                cols.append(np.where(cnt > 0, (csum[end] - csum[start]) / np.maximum(cnt, 1), np.nan))
        seasonal = self._seasonal_lag()
        if seasonal is not None:
            cols.append(lag(seasonal))
        cols.append(np.full(targets.size, math.log(scale)))
        feats = np.column_stack(cols)
        if X is not None:
            feats = np.column_stack([feats, X[targets]])
        return feats

    def _design(
        self, ys_list: Sequence[np.ndarray], Xs: Sequence[np.ndarray | None], cut: int
    ) -> tuple[np.ndarray, np.ndarray, list[float]]:
        """Training rows from every series with its last `cut` periods removed."""
        rows, targets, scales = [], [], []
        for y, X in zip(ys_list, Xs, strict=True):
            y = y[: y.size - cut]
            scale = _scale(y)
            scales.append(scale)
            ys = y / scale
            t = np.arange(min(self.horizon, y.size), y.size)
            t = t[~np.isnan(ys[t])]
            if t.size == 0:
                continue
            rows.append(self._features(ys, X, t, scale))
            targets.append(ys[t])
        if not rows:
            raise ModelError(
                "GradientBoosting has no training rows; the series are shorter than the horizon."
            )
        return np.vstack(rows), np.concatenate(targets), scales

    def _train(self, F: np.ndarray, T: np.ndarray) -> Any:
        import lightgbm as lgb

        model = lgb.LGBMRegressor(
            n_estimators=self.n_estimators,
            learning_rate=self.learning_rate,
            num_leaves=self.num_leaves,
            min_child_samples=self.min_child_samples,
            n_jobs=self.n_jobs,
            random_state=self.random_state,
            verbose=-1,
        )
        model.fit(F, T)
        return model

    def _forecast(
        self, model: Any, ys_list: Sequence[np.ndarray], Xs_all: Sequence[np.ndarray | None], h: int, cut: int
    ) -> list[np.ndarray]:
        """h-step forecasts after each series truncated by `cut`; `Xs_all` covers history and future."""
        feats, sizes, scales = [], [], []
        for y, X in zip(ys_list, Xs_all, strict=True):
            y = y[: y.size - cut]
            scale = _scale(y)
            t = np.arange(y.size, y.size + h)
            feats.append(self._features(y / scale, X, t, scale))
            sizes.append(h)
            scales.append(scale)
        pred = model.predict(np.vstack(feats))
        return [p * s for p, s in zip(np.split(pred, np.cumsum(sizes)[:-1]), scales, strict=True)]

    # -- panel API ---------------------------------------------------------------------
    def fit_panel(self, ys: Sequence[Any], Xs: Sequence[Any] | None = None) -> Self:
        """Fit one model on many series; `Xs[i]` has one covariate row per period of `ys[i]`.

        Also computes the held-out forecasts of the last `horizon` periods (per window) that
        calibrate the intervals; they are kept in `backtest_` as (origin offset, forecasts).
        """
        ys_list = [as_series(y, f"ys[{i}]") for i, y in enumerate(ys)]
        if Xs is None:
            Xs_list: list[np.ndarray | None] = [None] * len(ys_list)
        else:
            Xs_list = []
            for y, X in zip(ys_list, Xs, strict=True):
                Xs_list.append(None if X is None else np.asarray(X, dtype=float).reshape(y.size, -1))
        self.k_covariates_ = None if Xs_list[0] is None else Xs_list[0].shape[1]
        self.ys_ = ys_list
        self.Xs_ = Xs_list
        F, T, self.scales_ = self._design(ys_list, Xs_list, cut=0)
        self.model_ = self._train(F, T)
        # Conformal calibration: refit with the last w·horizon periods held out.
        self.backtest_: list[tuple[int, list[np.ndarray]]] = []
        errors = []
        for w in range(1, self.n_windows + 1):
            cut = w * self.horizon
            usable = [i for i, y in enumerate(ys_list) if y.size - cut > self.horizon]
            if not usable:
                break
            Fw, Tw, _ = self._design([ys_list[i] for i in usable], [Xs_list[i] for i in usable], cut=cut)
            mw = self._train(Fw, Tw)
            preds = self._forecast(
                mw, [ys_list[i] for i in usable], [Xs_list[i] for i in usable], self.horizon, cut
            )
            full: list[np.ndarray] = [np.full(self.horizon, np.nan) for _ in ys_list]
            for i, p in zip(usable, preds, strict=True):
                full[i] = p
                y = ys_list[i]
                actual = y[y.size - cut : y.size - cut + self.horizon]
                errors.append((actual - p) / _scale(y[: y.size - cut]))
            self.backtest_.append((cut, full))
        pooled = np.concatenate(errors) if errors else np.array([])
        # Missing periods (gaps are NaN, not zero) have no error: leave them out of the quantile.
        self.scaled_errors_ = pooled[np.isfinite(pooled)]
        return self

    def predict_panel(self, h: int, Xs_future: Sequence[Any] | None = None) -> list[pd.DataFrame]:
        """Forecast h periods after each fitted series; `Xs_future[i]` holds their covariates."""
        if not hasattr(self, "model_"):
            raise ModelError("GradientBoosting is not fitted; call fit_panel first.")
        if h > self.horizon:
            raise InputError(
                f"Horizon {h} exceeds the `horizon` ({self.horizon}) this GradientBoosting was built for; "
                f"create it with horizon={h}."
            )
        Xs_all: list[np.ndarray | None] = []
        for i, X in enumerate(self.Xs_):
            if X is None:
                Xs_all.append(None)
                continue
            if Xs_future is None or Xs_future[i] is None:
                raise InputError(
                    f"Series {i} was fitted with covariates; pass their values for the {h} future periods."
                )
            Xf = np.asarray(Xs_future[i], dtype=float).reshape(-1, X.shape[1])
            if Xf.shape[0] < h:
                raise InputError(f"Series {i}: future covariates have {Xf.shape[0]} rows; {h} are needed.")
            Xs_all.append(np.vstack([X, Xf[:h]]))
        means = self._forecast(self.model_, self.ys_, Xs_all, h, cut=0)
        out = []
        for y, mean, scale in zip(self.ys_, means, self.scales_, strict=True):
            cols = {"mean": mean}
            for level in LEVELS:
                q = conformal_halfwidth(np.abs(self.scaled_errors_), level / 100)
                q = 0.0 if math.isnan(q) else q
                cols[f"lo-{level}"] = mean - q * scale
                cols[f"hi-{level}"] = mean + q * scale
            frame = pd.DataFrame({c: cols[c] for c in COLUMNS})
            if np.nanmin(y) >= 0:
                frame = frame.clip(lower=0.0)
            out.append(frame)
        return out

    # -- single-series contract --------------------------------------------------------
    def _fit(self, y: np.ndarray, X: np.ndarray | None) -> None:
        self.fit_panel([self.raw_y_], [X])

    def _predict(self, h: int, X: np.ndarray | None) -> np.ndarray:
        return self.predict_panel(h, [X])[0]["mean"].to_numpy()

    def _own_intervals(self, h: int, X: np.ndarray | None) -> dict[str, np.ndarray] | None:
        frame = self.predict_panel(h, [X])[0]
        return {c: frame[c].to_numpy() for c in COLUMNS[1:]}
