"""The forecaster contract shared by every demand model.

A forecaster models one series (statsforecast's design): `fit(y, X)` learns from the
history `y` (one value per period, oldest first; NaN marks a period whose data is missing)
and `predict(h, X)` returns a frame of `h` rows with the columns `mean`, `lo-80`, `hi-80`,
`lo-95`, `hi-95`. The runner in `cartwise.forecast` applies one model per series of a long
table.
"""

from __future__ import annotations

import inspect
import math
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd

from cartwise.core.errors import InputError, ModelError

LEVELS: tuple[int, ...] = (80, 95)
"""Coverage levels (percent) of the prediction intervals every forecaster returns."""

COLUMNS: tuple[str, ...] = ("mean", "lo-80", "hi-80", "lo-95", "hi-95")
"""Columns of every `predict` frame, in order."""

MIN_CALIBRATION_ERRORS = 40
"""Calibration aims at this many errors: max(3, ⌈40/h⌉) rolling origins, at most 10."""


def calibration_windows(h: int) -> int:
    """How many rolling origins calibrate the conformal intervals of horizon `h`."""
    return min(10, max(3, math.ceil(MIN_CALIBRATION_ERRORS / h)))


def as_series(y: Any, name: str = "y") -> np.ndarray:
    """`y` as a 1-D float array; NaN is allowed (missing periods), infinities are not."""
    arr = np.asarray(y, dtype=float) if not isinstance(y, np.ndarray) else y.astype(float, copy=False)
    if arr.ndim != 1:
        raise InputError(
            f"`{name}` must be one-dimensional (one value per period); received shape {arr.shape}."
        )
    if np.isinf(arr).any():
        rows = np.flatnonzero(np.isinf(arr))[:5].tolist()
        raise InputError(
            f"`{name}` has infinite values at positions {rows}; replace them with NaN or a number."
        )
    return arr


def fill_gaps(y: np.ndarray) -> np.ndarray:
    """Drop leading NaN and linearly interpolate interior NaN; a trailing NaN keeps the last value.

    Missing periods (a store that sent no data for a week) are not zero demand: the models
    that cannot skip them see the straight line between their neighbours instead.
    """
    valid = np.flatnonzero(~np.isnan(y))
    if valid.size == 0:
        return y[:0]
    y = y[valid[0] :]
    if not np.isnan(y).any():
        return y
    idx = np.arange(y.size)
    ok = ~np.isnan(y)
    return np.interp(idx, idx[ok], y[ok])


def conformal_halfwidth(abs_errors: np.ndarray, level: float) -> float:
    """Split-conformal half-width: the ⌈(n+1)·level⌉-th smallest absolute error.

    With n exchangeable calibration errors e_i, the interval forecast ± q covers a new
    error with probability at least `level` when q is the ⌈(n+1)·level⌉-th smallest |e_i|
    (Vovk et al.; Angelopoulos & Bates 2021). When that rank exceeds n the largest error is used.
    """
    e = np.sort(abs_errors[~np.isnan(abs_errors)])
    if e.size == 0:
        return math.nan
    rank = math.ceil((e.size + 1) * level)
    return float(e[min(rank, e.size) - 1])


INTERMITTENT_ZERO_SHARE = 0.3
"""A history with no demand in at least this share of its periods is intermittent."""


def zero_lower_bounds(frame: dict[str, np.ndarray], history: np.ndarray) -> dict[str, np.ndarray]:
    """`frame` with every lower bound set to zero when `history` is intermittent (no demand in at
    least `INTERMITTENT_ZERO_SHARE` of its observed periods); otherwise `frame` unchanged.

    The lower bound of a central L% interval is the (1 − L)/2 quantile of demand, and zero
    when weeks without a sale are that common and come at random. A symmetric interval around
    an intermittent item's rate (0.25 a week, say) otherwise starts above zero and misses
    every week without a sale. Below that share the zeros may be a pattern the model
    forecasts (a shop closed on Sundays), so the bounds are left to it.
    """
    observed = history[~np.isnan(history)]
    if not observed.size or np.mean(observed == 0) < INTERMITTENT_ZERO_SHARE:
        return frame
    return {c: np.zeros_like(v) if c.startswith("lo-") else v for c, v in frame.items()}


_INIT_PARAMS: dict[type, tuple[str, ...]] = {}


def _init_params(cls: type) -> tuple[str, ...]:
    """Names of the constructor's arguments, read once per class: `clone` runs for every
    backtest window of every series, and `inspect.signature` costs more than the fit of a
    moving average."""
    names = _INIT_PARAMS.get(cls)
    if names is None:
        kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        names = tuple(n for n, p in inspect.signature(cls).parameters.items() if p.kind in kinds)
        _INIT_PARAMS[cls] = names
    return names


class Forecaster:
    """Base class of demand forecasters.

    Subclasses store hyperparameters in `__init__` exactly as given and implement
    `_fit(y, X)` and `_predict(h, X) -> mean`. Intervals come from `_own_intervals` when the
    model has its own, otherwise from split-conformal calibration: the model is refitted at
    `calibration_windows(h)` rolling origins h periods apart, and the absolute errors of those
    h-step forecasts, pooled over steps, give a constant half-width per level. A nonnegative
    history keeps forecasts and bounds at zero or above, and an intermittent one gets
    conformal lower bounds of zero (`zero_lower_bounds`).

    Learned attributes after `fit`: `y_` (history with gaps filled), `n_obs_`, `nonnegative_`
    (history never below zero, so forecasts and bounds are clipped at zero).
    """

    name: ClassVar[str] = "forecaster"
    uses_covariates: ClassVar[bool] = False

    # -- hyperparameters ---------------------------------------------------------------
    def get_params(self) -> dict[str, Any]:
        """The constructor arguments, read back from the attributes of the same names."""
        return {n: getattr(self, n) for n in _init_params(type(self))}

    def clone(self) -> Self:
        """An unfitted copy with the same hyperparameters."""
        return type(self)(**self.get_params())

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    def min_obs(self, h: int = 1) -> int:
        """Fewest non-missing history points `fit` accepts."""
        return 1

    # -- fitting -----------------------------------------------------------------------
    def fit(self, y: Any, X: Any = None) -> Self:
        """Learn from the history `y` (oldest first; NaN = missing period) and optional covariates `X`.

        `X` has one row per period of `y` (2-D, numbers); models that do not use covariates
        ignore it. Raises `ModelError` when `y` has fewer non-missing points than `min_obs()`.
        """
        raw = as_series(y)
        filled = fill_gaps(raw)
        lead = raw.size - filled.size
        if filled.size < self.min_obs():
            raise ModelError(
                f"{type(self).__name__} needs at least {self.min_obs()} non-missing points; "
                f"received {filled.size}. Use a simpler model (e.g. Naive) or a longer history."
            )
        Xa = self._check_X(X, raw.size, "X")
        self.raw_y_ = raw[lead:]
        self.y_ = filled
        self.X_ = None if Xa is None else Xa[lead:]
        self.n_obs_ = int(filled.size)
        self.nonnegative_ = bool(np.nanmin(filled) >= 0)
        self._calibration: dict[int, np.ndarray] = {}
        self._external: set[int] = set()
        self._fit(self.y_, self.X_)
        return self

    def _check_X(self, X: Any, n: int, name: str) -> np.ndarray | None:
        if X is None or not self.uses_covariates:
            return None
        Xa = np.asarray(X, dtype=float)
        if Xa.ndim == 1:
            Xa = Xa[:, None]
        if Xa.ndim != 2 or Xa.shape[0] != n:
            raise InputError(f"`{name}` must have one row per period ({n}); received shape {Xa.shape}.")
        return Xa

    def _fit(self, y: np.ndarray, X: np.ndarray | None) -> None:
        raise NotImplementedError

    # -- prediction --------------------------------------------------------------------
    def predict(self, h: int, X: Any = None) -> pd.DataFrame:
        """Forecast the `h` periods after the history: columns `mean, lo-80, hi-80, lo-95, hi-95`.

        `X` holds the known covariates of those `h` periods (models with `uses_covariates`).
        """
        if not hasattr(self, "y_"):
            raise ModelError(f"{type(self).__name__} is not fitted; call fit(y) first.")
        if not isinstance(h, int | np.integer) or h < 1:
            raise InputError(f"Horizon `h` must be a positive integer; received {h!r}.")
        h = int(h)
        Xf = self._check_X(X, h, "X (future)")
        if self.uses_covariates and self.X_ is not None and Xf is None:
            raise InputError(
                f"{type(self).__name__} was fitted with covariates; pass X with their values for the {h} future periods."
            )
        mean = np.asarray(self._predict(h, Xf), dtype=float)
        own = None if h in self._external else self._own_intervals(h, Xf)
        out = {"mean": mean}
        if own is not None:
            out.update(own)
        else:
            errors = self.calibration_errors(h)
            for level in LEVELS:
                q = conformal_halfwidth(np.abs(errors), level / 100)
                if math.isnan(q):
                    # No window fits in the history: fall back to a random-walk bound from
                    # one-step changes, which widens with the step like a naive forecast's error.
                    steps = np.abs(np.diff(self.y_)) if self.y_.size > 1 else np.zeros(1)
                    q1 = conformal_halfwidth(steps, level / 100) if steps.size else 0.0
                    width = q1 * np.sqrt(np.arange(1, h + 1))
                else:
                    width = np.full(h, q)
                out[f"lo-{level}"] = mean - width
                out[f"hi-{level}"] = mean + width
        cols = {c: np.asarray(out[c], dtype=float) for c in COLUMNS}
        if self.nonnegative_:
            cols = {c: np.maximum(v, 0.0) for c, v in cols.items()}
            if own is None:  # a model's own intervals are calibrated with their own bounds
                cols = zero_lower_bounds(cols, self.raw_y_)
        return pd.DataFrame(cols)

    def point_forecast(self, h: int, X: Any = None) -> np.ndarray:
        """The `mean` column of `predict(h, X)` without computing intervals (cheaper)."""
        mean = np.asarray(self._predict(h, self._check_X(X, h, "X (future)")), dtype=float)
        return np.maximum(mean, 0.0) if self.nonnegative_ else mean

    def _predict(self, h: int, X: np.ndarray | None) -> np.ndarray:
        raise NotImplementedError

    def _own_intervals(self, h: int, X: np.ndarray | None) -> dict[str, np.ndarray] | None:
        """The model's own `lo-L`/`hi-L` arrays, or None to use conformal calibration."""
        return None

    def calibration_errors(self, h: int) -> np.ndarray:
        """Forecast errors (actual − forecast) of h-step forecasts from rolling origins, flattened.

        Origins are n−h, n−2h, ... (`calibration_windows(h)` of them, fewer when the history is
        short); missing actuals are NaN. Cached per h; `set_calibration_errors` supplies
        errors computed elsewhere (the automatic model reuses its backtest).
        """
        if h in self._calibration:
            return self._calibration[h]
        errs = []
        for w in range(1, calibration_windows(h) + 1):
            origin = self.n_obs_ - w * h
            if origin < self.min_obs(h):
                break
            try:
                model = self.clone().fit(self.y_[:origin], None if self.X_ is None else self.X_[:origin])
                pred = model.point_forecast(h, None if self.X_ is None else self.X_[origin : origin + h])
            except ModelError:
                break
            errs.append(self.raw_y_[origin : origin + h] - pred)
        result = np.concatenate(errs) if errs else np.array([])
        self._calibration[h] = result
        return result

    def set_calibration_errors(self, h: int, errors: np.ndarray) -> None:
        """Use these h-step errors (actual − forecast) for the conformal intervals of horizon h."""
        self._calibration[h] = np.asarray(errors, dtype=float).ravel()
        self._external.add(h)
