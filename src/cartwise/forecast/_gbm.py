"""A global gradient-boosting demand model with known future covariates (LightGBM).

One model learns from every series at once (the design of Nixtla's mlforecast): each row is
one period of one series, its target the demand divided by the series' scale (mean absolute
demand of its history), its features

* lags of the scaled demand at least `horizon` periods old (lag h … h+`n_lags`−1), the mean of
  the 4 and 12 periods and the median of the 12 periods ending `horizon` periods before (the
  median is the regular level between promotion spikes), and the seasonal lag (the smallest
  multiple of `season_length` that is at least `horizon`), so one model serves every step of
  the horizon without feeding forecasts back;
* the covariates of the target period itself (price, promotion, display flags, calendar
  columns, static features such as a store or brand label): these are known in advance,
  which is what makes the model promotion-aware;
* derived covariates, since price effects are multiplicative (a 10% cut lifts demand by a
  share, whatever the level): for each price column (positive, continuous, moving within a
  series) the log price, the log price relative to the series' regular price (the median of
  its history), log ratios between price columns (own versus competitors' or the category's
  price index), products of pairs of flags (0/1 columns such as deal and feature ad) and
  each flag times each relative price (`feature_names` lists them);
* the log of the series scale.

The loss is the absolute error by default (`objective="l1"`): the forecast is the median
demand given the features, the point that minimises MASE; on promotion-driven demand the
mean is pulled up by spikes that the features do not foresee.

Intervals are split-conformal over series: the model is refitted with the last `horizon`
periods of every series held out (for each of `n_windows` origins), and the held-out errors
divided by each series' scale are pooled; series i gets half-width q_L · scale_i.
`elasticities` reads the price response off the fitted model.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Self

import numpy as np
import pandas as pd

from cartwise.core.errors import InputError, ModelError
from cartwise.forecast._base import COLUMNS, LEVELS, Forecaster, as_series, conformal_halfwidth

MAX_DERIVED = 4
"""At most this many price and flag columns get derived features (logs, ratios, interactions)."""


def _rolling_median(y: np.ndarray, window: int) -> np.ndarray:
    """Median of the non-missing values among y[t − window + 1 … t], for each t (NaN if none).

    The same values as pandas' `rolling(window, min_periods=1).median()`, computed for all
    windows at once (sorted, missing values last), since it runs for every series and cut.
    """
    if y.size == 0:
        return y.astype(float)
    padded = np.concatenate([np.full(window - 1, np.nan), y.astype(float)])
    s = np.sort(np.lib.stride_tricks.sliding_window_view(padded, window), axis=1)
    count = np.sum(~np.isnan(s), axis=1)
    rows = np.arange(s.shape[0])
    lo = s[rows, np.maximum(count - 1, 0) // 2]
    hi = s[rows, np.maximum(count, 1) // 2 - (count == 0)]
    return np.where(count > 0, (lo + hi) / 2, np.nan)


def _column_medians(M: np.ndarray) -> np.ndarray:
    """Median of the finite values of each column of M (NaN for a column without any)."""
    out = np.full(M.shape[1], np.nan)
    for j in range(M.shape[1]):
        col = M[:, j]
        col = col[np.isfinite(col)]
        if col.size:
            out[j] = np.median(col)
    return out


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
        n_estimators: int = 150,
        learning_rate: float = 0.1,
        num_leaves: int = 31,
        min_child_samples: int = 20,
        n_windows: int = 2,
        n_jobs: int = 1,
        random_state: int = 0,
        objective: str = "l1",
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
        self.objective = objective

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
        # The rolling median: the regular level between promotion spikes.
        median = _rolling_median(ys, 12)
        idx = targets - L
        cols.append(np.where((idx >= 0) & (idx < n), median[np.clip(idx, 0, max(n - 1, 0))], np.nan))
        seasonal = self._seasonal_lag()
        if seasonal is not None:
            cols.append(lag(seasonal))
        cols.append(np.full(targets.size, math.log(scale)))
        feats = np.column_stack(cols)
        if X is not None:
            feats = np.column_stack([feats, X[targets], self._derived(X, n)[targets]])
        return feats

    def _kinds(self, Xs: Sequence[np.ndarray | None], sizes: Sequence[int]) -> None:
        """Which covariate columns are prices (positive, continuous, moving within a series) and
        which are flags (0/1, switching within a series), from the histories: `prices_`, `flags_`."""
        X0 = next((X for X in Xs if X is not None), None)
        self.prices_: list[int] = []
        self.flags_: list[int] = []
        if X0 is None:
            return
        hist = [X[:n] for X, n in zip(Xs, sizes, strict=True) if X is not None]
        for j in range(X0.shape[1]):
            col = np.concatenate([h[:, j] for h in hist])
            col = col[np.isfinite(col)]
            moves = any(np.unique(h[:, j][np.isfinite(h[:, j])]).size > 1 for h in hist)
            if not col.size or not moves:
                continue  # static labels and constants are used as they are
            if np.isin(col, (0.0, 1.0)).all():
                self.flags_.append(j)
            elif (col > 0).all() and np.unique(col).size > 2:
                self.prices_.append(j)
        self.prices_ = self.prices_[:MAX_DERIVED]
        self.flags_ = self.flags_[:MAX_DERIVED]

    def _derived(self, X: np.ndarray, n: int) -> np.ndarray:
        """Multiplicative effects as additive features (see `feature_names`): for each price
        column the log price and the log of the price relative to the series' regular price
        (the median of its history), the log ratios between price columns (own versus
        competitors' or the category's), products of pairs of flags, and each flag times each
        relative price (a promotion that also cuts the price)."""
        P = X[:, self.prices_]
        with np.errstate(invalid="ignore", divide="ignore"):
            logp = np.log(np.where(P > 0, P, np.nan))
            regular = _column_medians(logp[:n])
            relative = logp - regular
        cols = [logp, relative]
        k = len(self.prices_)
        cols += [logp[:, [a]] - logp[:, [b]] for a in range(k) for b in range(a + 1, k)]
        F = X[:, self.flags_]
        f = len(self.flags_)
        cols += [F[:, [a]] * F[:, [b]] for a in range(f) for b in range(a + 1, f)]
        cols += [F[:, [a]] * relative[:, [b]] for a in range(f) for b in range(k)]
        return np.column_stack(cols) if cols else np.empty((X.shape[0], 0))

    def feature_names(self, covariate_names: Sequence[str] | None = None) -> list[str]:
        """Names of the model's feature columns, in order (covariates named by `covariate_names`)."""
        names = [f"lag_{self.horizon + j}" for j in range(self.n_lags)]
        names += ["mean_4", "mean_12", "median_12"]
        if self._seasonal_lag() is not None:
            names.append(f"lag_{self._seasonal_lag()}")
        names.append("log_scale")
        if getattr(self, "k_covariates_", None) is None:
            return names
        cov = list(covariate_names or [f"x{j}" for j in range(self.k_covariates_ or 0)])
        p = [cov[j] for j in self.prices_]
        f = [cov[j] for j in self.flags_]
        names += cov + [f"log_{c}" for c in p] + [f"log_{c}_vs_regular" for c in p]
        names += [f"log_{a}_vs_{b}" for i, a in enumerate(p) for b in p[i + 1 :]]
        names += [f"{a}_x_{b}" for i, a in enumerate(f) for b in f[i + 1 :]]
        names += [f"{a}_x_log_{b}_vs_regular" for a in f for b in p]
        return names

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
            objective=self.objective,
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
        self._kinds(Xs_list, [y.size for y in ys_list])
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
        halfwidths = {}
        for level in LEVELS:
            q = conformal_halfwidth(np.abs(self.scaled_errors_), level / 100)
            halfwidths[level] = 0.0 if math.isnan(q) else q
        out = []
        for y, mean, scale in zip(self.ys_, means, self.scales_, strict=True):
            cols = {"mean": mean}
            for level, q in halfwidths.items():
                cols[f"lo-{level}"] = mean - q * scale
                cols[f"hi-{level}"] = mean + q * scale
            if np.nanmin(y) >= 0:
                cols = {c: np.maximum(v, 0.0) for c, v in cols.items()}
            out.append(pd.DataFrame({c: cols[c] for c in COLUMNS}))
        return out

    def elasticities(self, Xs_future: Sequence[Any], column: int, change: float = 0.1) -> np.ndarray:
        """Arc elasticity of each series' forecast demand to covariate `column` (a price).

        With Q₁ the forecast units summed over the horizon at the given future values and Q₀
        the same with that column cut by `change` (everything else as given),

            ε = (log Q₁ − log Q₀) / (log 1 − log(1 − change)).

        A cut, not a rise: prices seldom go above their regular level, so trees know nothing
        of demand there. For the own price a demand curve gives ε < 0 (a 10% cut sells about
        |ε|·10% more); for a competitor's price ε > 0 (substitutes). NaN where a forecast is zero.
        """
        if not 0 < change < 1:
            raise InputError(f"`change` must be between 0 and 1 (a share of the price); received {change!r}.")
        totals = []
        for factor in (1.0, 1 - change):
            moved = []
            for X in Xs_future:
                Xm = np.array(X, dtype=float, copy=True).reshape(-1, self.k_covariates_ or 0)
                Xm[:, column] *= factor
                moved.append(Xm)
            h = min(self.horizon, *(m.shape[0] for m in moved))
            totals.append(np.array([f["mean"].sum() for f in self.predict_panel(h, moved)]))
        with np.errstate(invalid="ignore", divide="ignore"):
            eps = (np.log(totals[0]) - np.log(totals[1])) / -math.log(1 - change)
        return np.where(np.isfinite(eps), eps, np.nan)

    # -- single-series contract --------------------------------------------------------
    def _fit(self, y: np.ndarray, X: np.ndarray | None) -> None:
        self.fit_panel([self.raw_y_], [X])

    def _predict(self, h: int, X: np.ndarray | None) -> np.ndarray:
        return self.predict_panel(h, [X])[0]["mean"].to_numpy()

    def _own_intervals(self, h: int, X: np.ndarray | None) -> dict[str, np.ndarray] | None:
        frame = self.predict_panel(h, [X])[0]
        return {c: frame[c].to_numpy() for c in COLUMNS[1:]}
