"""Forecasting and backtesting a whole panel: one model per series, or one global model."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from cartwise.core.errors import DataWarning, InputError, ModelError
from cartwise.forecast._auto import AutoForecaster, fit_with_fallback, make_forecaster
from cartwise.forecast._base import COLUMNS, INTERMITTENT_ZERO_SHARE, Forecaster
from cartwise.forecast._gbm import GradientBoosting
from cartwise.forecast._series import Panel

OUTPUT_COLUMNS = ("id", "date", "forecast", "lo_80", "hi_80", "lo_95", "hi_95")
"""Columns of a panel forecast, in order."""

_RENAME = {"mean": "forecast", "lo-80": "lo_80", "hi-80": "hi_80", "lo-95": "lo_95", "hi-95": "hi_95"}


@dataclass
class PanelForecast:
    """A panel forecast: the long `frame` (`OUTPUT_COLUMNS`), the model used per series and
    the notes about fallbacks (series id → sentence)."""

    frame: pd.DataFrame
    models: dict[str, str]
    notes: dict[str, str] = field(default_factory=dict)

    def model_counts(self) -> dict[str, int]:
        """How many series each model forecasts."""
        counts = pd.Series(list(self.models.values()), dtype=object).value_counts().sort_index()
        return {str(k): int(v) for k, v in counts.items()}


def _intermittent(y: np.ndarray) -> bool:
    observed = y[np.isfinite(y)]
    return bool(observed.size) and float(np.mean(observed == 0)) >= INTERMITTENT_ZERO_SHARE


def _mae(errors: np.ndarray) -> float:
    return float(np.nanmean(np.abs(errors))) if np.isfinite(errors).any() else np.inf


GLOBAL_LEFT_OUT = "The global model (lightgbm) cannot train and is left out of the automatic choice"
"""Start of the warning `forecast_panel` gives when the global model cannot train under `auto`."""


def forecast_panel(panel: Panel, horizon: int, model: str = "auto", n_windows: int = 2) -> PanelForecast:
    """Forecast `horizon` periods after each series' last period.

    `model` is a registry name or `auto`. With covariates attached (`panel.Xs`), `lightgbm`
    fits one global model; `auto` also fits it and uses it for each series where its backtest
    error is not above that of the per-series combination (or, without one, of the per-series
    choice) on the same rolling origins, except intermittent series (no demand in at least
    30% of periods), which keep the per-series choice.
    Series too short for the requested model fall back to a simpler one (a `DataWarning`
    says so and `notes` records why). Series in `panel.without_covariates` get the per-series
    models; periods in `panel.omitted` are left out of the frame.
    """
    if not isinstance(horizon, int | np.integer) or horizon < 1:
        raise InputError(f"must be a positive integer; received {horizon!r}.", parameter="horizon")
    m = panel.season_length
    chosen: dict[int, tuple[Forecaster | None, pd.DataFrame, str]] = {}
    notes: dict[str, str] = {}
    use_global = model == "lightgbm" or (model == "auto" and panel.Xs is not None)
    gbm_frames: dict[int, pd.DataFrame] = {}
    gbm_scores: dict[int, float] = {}
    if use_global:
        gbm = GradientBoosting(horizon=horizon, season_length=m, n_windows=n_windows)
        bare = set(panel.without_covariates)
        eligible = [
            i
            for i, (sid, y) in enumerate(zip(panel.ids, panel.ys, strict=True))
            if np.isfinite(y).sum() >= gbm.min_obs() and sid not in bare
        ]
        try:
            if eligible:
                gbm.fit_panel(
                    [panel.ys[i] for i in eligible],
                    None if panel.Xs is None else [panel.Xs[i][: panel.ys[i].size] for i in eligible],
                )
        except ModelError as exc:
            if model != "auto":
                raise
            # A candidate that cannot train on this history (a gap can leave it no rows) is
            # left out of the automatic choice, with a warning; the per-series models serve.
            warnings.warn(
                f"{GLOBAL_LEFT_OUT} ({exc}); the other models were compared without it.",
                DataWarning,
                stacklevel=2,
            )
            eligible = []
        if eligible:
            futures = None if panel.Xs is None else [panel.Xs[i][panel.ys[i].size :] for i in eligible]
            for j, (i, frame) in enumerate(zip(eligible, gbm.predict_panel(horizon, futures), strict=True)):
                gbm_frames[i] = frame
                y = panel.ys[i]
                errors = [
                    y[y.size - cut : y.size - cut + horizon] - preds[j]
                    for cut, preds in gbm.backtest_
                    if y.size - cut > horizon  # the windows the global model was scored on
                ]
                gbm_scores[i] = _mae(np.concatenate(errors)) if errors else np.inf
    reference_scores: dict[int, float] = {}
    for i, (sid, y) in enumerate(zip(panel.ids, panel.ys, strict=True)):
        if model == "lightgbm" and i in gbm_frames:
            chosen[i] = (None, gbm_frames[i], "lightgbm")
            continue
        name = "auto" if model == "lightgbm" else model
        base = (
            AutoForecaster(horizon=horizon, season_length=m, n_windows=n_windows)
            if name == "auto"
            else make_forecaster(name, m, horizon)
        )
        fitted, note = fit_with_fallback(base, y)
        if isinstance(fitted, AutoForecaster):
            label = fitted.chosen_
            note = fitted.note_ or note
            scores = fitted.scores_
            reference_scores[i] = scores.get("combination", scores.get(fitted.chosen_, np.inf))
        else:
            label = fitted.name
        if model == "lightgbm":
            note = f"too short for the global model; {note or f'used automatic choice ({label})'}"
        if note:
            notes[sid] = note
        chosen[i] = (fitted, fitted.predict(horizon), label)
    if model == "auto" and gbm_frames:
        # The per-series winner's backtest score is optimistic (the best of several noisy
        # scores), so the global model is compared with one fixed per-series model instead: the
        # combination (else the winner). Where the global model does at least as well, it serves.
        # Intermittent series keep their per-series models: the global model minimises absolute
        # error, and for demand that is zero in most periods its median forecast is zero.
        for i in gbm_frames:
            if _intermittent(panel.ys[i]):
                continue
            if gbm_scores[i] <= reference_scores.get(i, np.inf):
                chosen[i] = (None, gbm_frames[i], "lightgbm")
                notes.pop(panel.ids[i], None)
    if notes:
        first = next(iter(notes.items()))
        warnings.warn(
            f"{len(notes)} series used a simpler model than asked (e.g. {first[0]!r}: {first[1]}).",
            DataWarning,
            stacklevel=2,
        )
    # One frame built from arrays at the end: a frame per series costs more than a moving average.
    ids: list[str] = []
    positions: list[np.ndarray] = []
    values: dict[str, list[np.ndarray]] = {c: [] for c in COLUMNS}
    for i, (sid, y, start) in enumerate(zip(panel.ids, panel.ys, panel.starts, strict=True)):
        frame = chosen[i][1]
        pos = np.arange(start + y.size, start + y.size + horizon)
        keep = np.ones(horizon, dtype=bool)
        if sid in panel.omitted:
            # Periods whose covariates were missing (fill policy `drop`): the global model's
            # forecast of one period does not use another period's covariates, so the rest stand.
            keep = ~np.isin(pos, panel.omitted[sid])
        ids += [sid] * int(keep.sum())
        positions.append(pos[keep])
        for c in COLUMNS:
            values[c].append(frame[c].to_numpy(dtype=float)[keep])
    if not ids:
        return PanelForecast(
            pd.DataFrame(columns=list(OUTPUT_COLUMNS)), {panel.ids[i]: c[2] for i, c in chosen.items()}, notes
        )
    columns: dict[str, Any] = {"id": ids, "date": panel.label(np.concatenate(positions))}
    columns.update({_RENAME[c]: np.concatenate(values[c]) for c in COLUMNS})
    result = pd.DataFrame(columns)
    return PanelForecast(result, {panel.ids[i]: c[2] for i, c in chosen.items()}, notes)


def cross_validate(
    panel: Panel, horizon: int, models: list[str], n_windows: int = 2, selection_windows: int = 2
) -> pd.DataFrame:
    """Rolling-origin backtest of each model over the whole panel.

    For w = 1 … `n_windows` the last w·`horizon` periods of every series are held out, the
    model forecasts `horizon` periods from what remains, and the forecasts sit beside the
    actuals. Series whose remainder is shorter than two periods are skipped for that window.

    Returns a long frame: `model, window, id, step, actual, forecast, lo_80, hi_80, lo_95, hi_95`;
    `backtest_histories` gives the training history of each (window, id) for scaled metrics.
    """
    parts = []
    for w in range(1, n_windows + 1):
        cut = w * horizon
        sub = panel.truncated(cut)
        keep = [i for i, y in enumerate(sub.ys) if np.isfinite(y).sum() >= 2]
        sub = Panel(
            [sub.ids[i] for i in keep], [sub.ys[i] for i in keep], [sub.starts[i] for i in keep], sub.kind,
            sub.anchor, sub.step, sub.freq, sub.season_length,
            None if sub.Xs is None else [sub.Xs[i][: sub.ys[i].size + horizon] for i in keep],
            sub.covariate_names, without_covariates=sub.without_covariates,
        )  # fmt: skip
        full = dict(zip(panel.ids, panel.ys, strict=True))
        actuals = {sid: full[sid][y.size : y.size + horizon] for sid, y in zip(sub.ids, sub.ys, strict=True)}
        for name in models:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DataWarning)
                fc = forecast_panel(sub, horizon, name, n_windows=selection_windows).frame
            fc["actual"] = np.concatenate([actuals[sid] for sid in sub.ids]) if sub.ids else []
            fc["step"] = np.tile(np.arange(1, horizon + 1), len(sub.ids))
            fc["window"] = w
            fc["model"] = name
            parts.append(fc)
    cols = ["model", "window", "id", "step", "date", "actual", "forecast", "lo_80", "hi_80", "lo_95", "hi_95"]
    result = pd.concat(parts, ignore_index=True)[cols] if parts else pd.DataFrame(columns=cols)
    return result


def backtest_histories(panel: Panel, horizon: int, n_windows: int) -> dict[tuple[int, str], np.ndarray]:
    """The training history of each (window, id) in `cross_validate`: the series without its last w·horizon periods."""
    return {
        (w, sid): y[: y.size - w * horizon]
        for w in range(1, n_windows + 1)
        for sid, y in zip(panel.ids, panel.ys, strict=True)
        if y.size - w * horizon > 0
    }
