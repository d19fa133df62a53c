"""Automatic model choice per series by rolling-origin backtest, and the registry of forecasters."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from cartwise.core.errors import ConfigError, ModelError
from cartwise.forecast._base import INTERMITTENT_ZERO_SHARE, Forecaster, calibration_windows, fill_gaps
from cartwise.forecast._gbm import GradientBoosting
from cartwise.forecast._models import (
    ADIDA,
    ETS,
    TSB,
    Croston,
    MovingAverage,
    MovingMedian,
    Naive,
    SeasonalNaive,
    Theta,
)

FORECASTERS: dict[str, Callable[[int, int], Forecaster]] = {
    "naive": lambda season, horizon: Naive(),
    "seasonal_naive": lambda season, horizon: SeasonalNaive(season_length=season),
    "moving_average": lambda season, horizon: MovingAverage(window=4),
    "moving_median": lambda season, horizon: MovingMedian(window=12),
    "ets": lambda season, horizon: ETS(season_length=season),
    "ses": lambda season, horizon: ETS(season_length=1, model="ANN"),
    "theta": lambda season, horizon: Theta(season_length=season),
    "croston": lambda season, horizon: Croston(),
    "tsb": lambda season, horizon: TSB(),
    "adida": lambda season, horizon: ADIDA(),
    "lightgbm": lambda season, horizon: GradientBoosting(horizon=horizon, season_length=season),
    "combination": lambda season, horizon: Combination(season_length=season),
}
"""Named forecasters, each built from (season_length, horizon). Built-ins register here too."""

FALLBACK_CHAIN: tuple[str, ...] = ("seasonal_naive", "moving_average", "naive")
"""Simpler models tried, in order, when a series is too short for the requested one."""


class Combination(Forecaster):
    """Equal-weight average of registered models: ŷ = (1/k) Σ_j ŷ_j.

    Averaging forecasts of different kinds is among the most reliable ways to cut error
    (the M3/M4 competitions). `members` are registry names; by default seasonal naive, SES
    and Theta when `season_length` > 1, otherwise moving average, SES and Theta.
    """

    name = "combination"

    def __init__(self, season_length: int = 1, members: tuple[str, ...] | None = None) -> None:
        self.season_length = season_length
        self.members = members

    def member_names(self) -> tuple[str, ...]:
        if self.members is not None:
            return tuple(self.members)
        first = "seasonal_naive" if self.season_length > 1 else "moving_average"
        return (first, "ses", "theta")

    def min_obs(self, h: int = 1) -> int:
        return max(make_forecaster(n, self.season_length, h).min_obs(h) for n in self.member_names())

    def _fit(self, y: np.ndarray, X: np.ndarray | None) -> None:
        self.models_ = [make_forecaster(n, self.season_length).fit(y) for n in self.member_names()]

    def _predict(self, h: int, X: np.ndarray | None) -> np.ndarray:
        return np.mean([m.point_forecast(h) for m in self.models_], axis=0)


def register_forecaster(name: str, factory: Callable[[int, int], Forecaster]) -> None:
    """Make `factory(season_length, horizon)` available under `name` (CLI `--model`, the runner)."""
    FORECASTERS[name] = factory


def make_forecaster(name: str, season_length: int = 1, horizon: int = 1) -> Forecaster:
    """Build the forecaster registered as `name` ('auto' gives an `AutoForecaster`)."""
    if name == "auto":
        return AutoForecaster(horizon=horizon, season_length=season_length)
    if name not in FORECASTERS:
        choices = ", ".join(["auto", *FORECASTERS])
        raise ConfigError(f"Unknown forecaster {name!r}; choose one of: {choices}.")
    return FORECASTERS[name](season_length, horizon)


def fit_with_fallback(model: Forecaster, y: np.ndarray, X: Any = None) -> tuple[Forecaster, str | None]:
    """Fit `model`, or the first model of `FALLBACK_CHAIN` that the history supports.

    Returns the fitted model and, when a fallback was used, a sentence saying why.
    """
    n = int(fill_gaps(np.asarray(y, dtype=float)).size)
    if n < 1:
        raise ModelError("The series has no non-missing values; nothing to forecast from.")
    try:
        if n >= model.min_obs():
            return model.fit(y, X), None
        reason = f"{n} points, fewer than the {model.min_obs()} {type(model).__name__} needs"
    except ModelError as exc:
        reason = str(exc)
    season = int(getattr(model, "season_length", 1) or 1)
    for name in FALLBACK_CHAIN:
        if name == "seasonal_naive" and season <= 1:
            continue
        simpler = make_forecaster(name, season_length=season)
        if n >= simpler.min_obs():
            return simpler.fit(y), f"{reason}; used {type(simpler).__name__} instead"
    raise ModelError(f"Cannot fit any model: {reason}.")  # pragma: no cover - Naive needs one point


class AutoForecaster(Forecaster):
    """Chooses, per series, the candidate with the lowest backtest error, then refits it on all data.

    Backtest: `n_windows` rolling origins n − h, n − 2h, …, (h = `horizon`); each candidate
    forecasts h periods from each origin; its score is the mean absolute error over all of
    them (missing actuals skipped). For one series this ranks candidates exactly as MASE
    does, since MASE divides that error by a constant of the series. Candidates: seasonal
    naive (`season_length` > 1), moving average, moving median (the regular level of demand
    with promotion spikes, where the mean is pulled up; not for intermittent demand), simple
    exponential smoothing (ETS A,N,N),
    Theta (SES with drift on the deseasonalised series), and Croston/TSB/ADIDA when at least
    30% of periods are zero, and the equal-weight combination of seasonal naive (or moving
    average), SES and Theta, scored without refitting; `models` replaces them by registry names.
    The full ETS search is left out by default: it costs ten times SES per fit and Theta
    already covers trends.

    The backtest errors of the choice calibrate the conformal intervals for horizon h: each
    window's errors are those of the candidate the other windows pick (`_selection_errors`),
    and older origins add the chosen model's own errors up to `calibration_windows(h)`
    windows in all (`_choice_errors`).
    A history too short for one backtest window gets a fallback (seasonal naive, moving
    average or naive) and `note_` says so.

    Learned: `model_` (the fitted choice), `chosen_` (its name), `scores_` (name → backtest
    MAE), `errors_` (name → backtest errors, actual − forecast), `note_`.
    """

    name = "auto"

    def __init__(
        self,
        horizon: int = 12,
        season_length: int = 1,
        models: tuple[str, ...] | None = None,
        n_windows: int = 2,
    ) -> None:
        self.horizon = horizon
        self.season_length = season_length
        self.models = models
        self.n_windows = n_windows

    def candidates(self, y: np.ndarray) -> dict[str, Forecaster]:
        """The candidate models for history `y` (unfitted)."""
        # No plain naive: SES nests it (α = 1) and, on noisy or sparse demand, the last value
        # wins short backtests by luck far more often than it forecasts well.
        names = ["moving_average", "ses", "theta"]
        if self.season_length > 1:
            names.insert(0, "seasonal_naive")
        if y.size and np.mean(y == 0) >= INTERMITTENT_ZERO_SHARE:
            names += ["croston", "tsb", "adida"]
        else:
            # Not for intermittent demand: there the median is often zero, which scores well
            # on absolute error but would plan no stock at all.
            names.insert(-2, "moving_median")
        if self.models is not None:
            unknown = sorted(set(self.models) - set(FORECASTERS))
            if unknown:
                raise ConfigError(
                    f"Unknown forecaster(s) {unknown} in `models`; choose from {list(FORECASTERS)}."
                )
            names = [n for n in self.models if n != "lightgbm"]
        return {n: make_forecaster(n, self.season_length, self.horizon) for n in names}

    def backtest(self, y: np.ndarray, raw: np.ndarray, model: Forecaster) -> np.ndarray | None:
        """Forecasts of `model` from the rolling origins n − h, n − 2h, … (flattened), or None if none fits."""
        h = self.horizon
        preds = []
        for w in range(1, self.n_windows + 1):
            origin = y.size - w * h
            if origin < model.min_obs(h):
                break
            try:
                fitted = model.clone().fit(y[:origin])
                # The mean alone: intervals are not needed to score the window.
                pred = fitted.point_forecast(h)
            except ModelError:
                return None
            preds.append(pred)
        return np.concatenate(preds) if preds else None

    def _fit(self, y: np.ndarray, X: np.ndarray | None) -> None:
        self.scores_: dict[str, float] = {}
        self.errors_: dict[str, np.ndarray] = {}
        self.note_: str | None = None
        h, n = self.horizon, y.size
        if n - self.n_windows * h > 0:
            actual = np.concatenate(
                [self.raw_y_[n - w * h : n - w * h + h] for w in range(1, self.n_windows + 1)]
            )
        preds: dict[str, np.ndarray] = {}
        for name, model in self.candidates(y).items():
            # A model scored on fewer windows than the others is not comparable.
            if n - self.n_windows * h < model.min_obs(h):
                continue
            pred = self.backtest(y, self.raw_y_, model)
            if pred is None or pred.size != actual.size:
                continue
            preds[name] = pred
        combo = Combination(season_length=self.season_length)
        if self.models is None and all(m in preds for m in combo.member_names()):
            # The combination's backtest is the average of its members' forecasts: no refit.
            preds["combination"] = np.mean([preds[m] for m in combo.member_names()], axis=0)
        for name, pred in preds.items():
            errors = actual - pred
            if np.isnan(errors).all():
                continue
            self.errors_[name] = errors
            self.scores_[name] = float(np.nanmean(np.abs(errors)))
        if self.scores_:
            self.chosen_ = min(self.scores_, key=self.scores_.__getitem__)
            self.model_, fallback = fit_with_fallback(
                make_forecaster(self.chosen_, self.season_length, self.horizon), self.raw_y_
            )
            if fallback is None:
                self.model_.set_calibration_errors(self.horizon, self._choice_errors(y))
            else:  # pragma: no cover - the chosen model was backtested on less data
                self.note_ = fallback
        else:
            self.model_, fallback = fit_with_fallback(
                make_forecaster("naive" if self.season_length <= 1 else "seasonal_naive", self.season_length),
                self.raw_y_,
            )
            self.chosen_ = self.model_.name
            self.note_ = (
                f"{y.size} points are too few for a backtest of {self.n_windows} windows of {self.horizon}; "
                f"used {type(self.model_).__name__}" + (f" ({fallback})" if fallback else "")
            )

    def _choice_errors(self, y: np.ndarray) -> np.ndarray:
        """The h-step errors that calibrate the choice's intervals: those of the selection
        (`_selection_errors`) on the `n_windows` backtest windows, then the chosen model's own
        errors from the origins before them, n − (n_windows + 1)·h, …, until there are
        `calibration_windows(h)` windows (4 for h = 12) or the history runs out.

        Two windows alone gave 2h errors, 24 for h = 12, fewer than the 40 that every other
        model calibrates on; with 24, the 95% half-width is the largest error (rank
        ⌈25 · 0.95⌉ = 24), so one unusual stretch of weeks set it. On Dominick's orange juice
        it was: the 12 weeks before the last held 1.6 times the errors of the weeks on either side.
        """
        h, n = self.horizon, y.size
        errors = [self._selection_errors()]
        model = make_forecaster(self.chosen_, self.season_length, h)
        for w in range(self.n_windows + 1, calibration_windows(h) + 1):
            origin = n - w * h
            if origin < model.min_obs(h):
                break
            try:
                pred = model.clone().fit(y[:origin]).point_forecast(h)
            except ModelError:
                break
            errors.append(self.raw_y_[origin : origin + h] - pred)
        return np.concatenate(errors)

    def _selection_errors(self) -> np.ndarray:
        """Backtest errors of the choice itself, for the intervals: each window's errors are
        those of the candidate that the other windows would have chosen.

        The chosen model's own errors are optimistic, since it was chosen for having the
        smallest: its 80% intervals covered 0.76 of later demand. With one window there is
        nothing to cross over, and the chosen model's errors are used.
        """
        h, errors = self.horizon, self.errors_
        if self.n_windows < 2:
            return errors[self.chosen_]
        pooled = []
        for w in range(self.n_windows):
            held = slice(w * h, (w + 1) * h)

            def others_score(name: str, held: slice = held) -> float:
                rest = np.delete(errors[name], np.arange(held.start, held.stop))
                score = np.nanmean(np.abs(rest)) if not np.isnan(rest).all() else np.inf
                return float(score)

            pick = min(errors, key=others_score)
            pooled.append(errors[pick][held])
        return np.concatenate(pooled)

    def _predict(self, h: int, X: np.ndarray | None) -> np.ndarray:
        return self.model_.predict(h)["mean"].to_numpy()

    def predict(self, h: int, X: Any = None) -> pd.DataFrame:
        """The chosen model's forecast, with intervals calibrated on the backtest errors of the choice."""
        if not hasattr(self, "model_"):
            raise ModelError("AutoForecaster is not fitted; call fit(y) first.")
        return self.model_.predict(h)
