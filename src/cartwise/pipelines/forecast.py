"""Forecasting pipelines: read a history (and covariates) file, forecast or backtest, write results.

`run_forecast` writes `id, date, forecast, lo_80, hi_80, lo_95, hi_95` for the horizon after
each series' last period; `run_backtest` scores models by rolling-origin backtest beside
two references computed in the same run: the naive forecast and statsforecast's AutoETS;
`run_reorder` turns a forecast and stock levels into a reorder plan.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cartwise.core.errors import ConfigError, DataWarning, InputError
from cartwise.core.files import require_input_file
from cartwise.evaluation.forecast import summarize_backtest
from cartwise.forecast import (
    COVARIATE_FILLS,
    FORECASTERS,
    Panel,
    attach_covariates,
    backtest_histories,
    build_panel,
    cross_validate,
    forecast_panel,
    parse_numbers,
    reorder_plan,
)
from cartwise.forecast._base import fill_gaps
from cartwise.forecast._models import MAX_ETS_SEASON
from cartwise.pipelines.bad_rows import LINE_COLUMN, read_checked

PEER_AUTOETS = "statsforecast_autoets"
"""Name of the reference row computed with statsforecast's own AutoETS."""


def parse_freq(freq: str | int) -> str | int:
    """`auto`, `D`, `W` or a positive integer step (as text or int)."""
    if isinstance(freq, int):
        value = freq
    elif str(freq).upper() in {"AUTO", "D", "W"}:
        return "auto" if str(freq).lower() == "auto" else str(freq).upper()
    else:
        try:
            value = int(freq)
        except ValueError:
            raise ConfigError(
                f"must be auto, D, W or a positive integer; received {freq!r}.", parameter="freq"
            ) from None
    if value < 1:
        raise ConfigError(f"must be a positive integer step; received {value}.", parameter="freq")
    return value


def check_fill(policy: str) -> str:
    if policy not in COVARIATE_FILLS:
        raise ConfigError(
            f"{policy!r} is unknown; choose one of: {', '.join(COVARIATE_FILLS)}.",
            parameter="covariates_fill",
        )
    return policy


def check_model(model: str) -> str:
    if model != "auto" and model not in FORECASTERS:
        raise ConfigError(
            f"{model!r} is unknown; choose one of: {', '.join(['auto', *FORECASTERS])}.", parameter="model"
        )
    return model


def prepare_panel(
    history: pd.DataFrame,
    id_col: str,
    date_col: str,
    value_col: str,
    horizon: int,
    freq: str | int = "auto",
    covariates: pd.DataFrame | None = None,
    season_length: int | None = None,
    calendar: bool = False,
    covariates_fill: str = "last",
    lines: np.ndarray | None = None,
) -> Panel:
    """Series from the history table, with covariates (and calendar features) attached when given.

    `covariates_fill` says what to do with a future period missing from the covariates
    (`COVARIATE_FILLS`); the panel records what was filled (`fill_report`). `lines`: each
    history row's line in its file, for error messages (`build_panel`).
    """
    if not isinstance(horizon, int) or horizon < 1:
        raise ConfigError(f"must be a positive integer; received {horizon!r}.", parameter="horizon")
    panel = build_panel(history, id_col, date_col, value_col, parse_freq(freq), season_length, lines)
    if covariates is not None or calendar:
        attach_covariates(panel, covariates, id_col, date_col, horizon, fill=covariates_fill)
    return panel


def fill_report(panel: Panel, policy: str) -> dict[str, Any]:
    """What `attach_covariates` filled: the policy, counts, the periods per series, and the
    series forecast without covariates (the `covariates_fill` key of `--json`)."""
    return {
        "policy": policy,
        "series": len(panel.covariates_filled),
        "periods": sum(len(p) for p in panel.covariates_filled.values()),
        "filled": {
            sid: [str(d) for d in panel.label(np.array(pos))] for sid, pos in panel.covariates_filled.items()
        },
        "without_covariates": list(panel.without_covariates),
    }


def run_forecast(
    history: str | Path,
    id_col: str,
    date_col: str,
    value_col: str,
    horizon: int,
    out: str | Path,
    freq: str | int = "auto",
    covariates: str | Path | None = None,
    model: str = "auto",
    season_length: int | None = None,
    covariates_fill: str = "last",
    strict: bool = False,
) -> dict[str, Any]:
    """Forecast every series of the history file and write the forecast CSV to `out`.

    Returns a summary: series count, frequency, season length, rows written, model per
    series counts, the fallbacks taken (series id → reason), the history records set aside
    (`set_aside`, see `cartwise.pipelines.bad_rows`, with the covariates file's under its key
    `covariates`; with `strict` they are an error) and,
    with covariates, what was filled for future periods missing from them (`covariates_fill`,
    see `fill_report`). `warnings` holds the data warnings raised on the way as the warning
    objects: `str()` gives the library's (and the API's) words, and a surface words the
    parameters a `CartwiseWarning` mentions its own way (the CLI as its options, `--strict`).
    """
    check_model(model)
    check_fill(covariates_fill)
    panel, warned, set_aside = _panel(
        history, covariates, id_col, date_col, value_col, horizon, freq, season_length,
        model == "lightgbm", covariates_fill, strict,
    )  # fmt: skip
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DataWarning)
        result = forecast_panel(panel, horizon, model)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    result.frame.to_csv(out, index=False)
    return {
        "out": str(out),
        "series": len(panel.ids),
        "rows": len(result.frame),
        "freq": panel.freq,
        "season_length": panel.season_length,
        "horizon": horizon,
        "covariates": panel.covariate_names,
        "models": {k: int(v) for k, v in result.model_counts().items()},
        "fallbacks": result.notes,
        "covariates_fill": None if covariates is None else fill_report(panel, covariates_fill),
        "set_aside": set_aside,
        "warnings": [*warned, *(w.message for w in caught)],
    }


def peer_autoets_backtest(panel: Panel, horizon: int, n_windows: int) -> pd.DataFrame:
    """statsforecast's AutoETS (default settings) over the same rolling origins as `cross_validate`.

    Gaps are interpolated as the Cartwise models see them; seasons longer than 24 periods
    are not modelled (statsforecast's seasonal ETS is impractically slow there).
    """
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS

    m = panel.season_length if panel.season_length <= MAX_ETS_SEASON else 1
    parts = []
    for w in range(1, n_windows + 1):
        cut = w * horizon
        rows, actual, meta = [], [], []
        for sid, y, start in zip(panel.ids, panel.ys, panel.starts, strict=True):
            train = fill_gaps(y[: y.size - cut]) if y.size - cut > 0 else y[:0]
            if train.size < 10:
                continue
            rows.append(pd.DataFrame({"unique_id": sid, "ds": np.arange(train.size), "y": train}))
            actual.append(y[y.size - cut : y.size - cut + horizon])
            meta.append((sid, start + y.size - cut))
        if not rows:
            continue
        sf = StatsForecast(models=[AutoETS(season_length=m)], freq=1, n_jobs=1)
        fc = sf.forecast(df=pd.concat(rows, ignore_index=True), h=horizon, level=[80, 95])
        fc = fc.set_index("unique_id").loc[[sid for sid, _ in meta]]
        frame = pd.DataFrame(
            {
                "model": PEER_AUTOETS,
                "window": w,
                "id": np.repeat([sid for sid, _ in meta], horizon),
                "step": np.tile(np.arange(1, horizon + 1), len(meta)),
                "date": [d for sid, s in meta for d in panel.label(np.arange(s, s + horizon))],
                "actual": np.concatenate(actual),
                "forecast": fc["AutoETS"].to_numpy(),
                "lo_80": fc["AutoETS-lo-80"].to_numpy(),
                "hi_80": fc["AutoETS-hi-80"].to_numpy(),
                "lo_95": fc["AutoETS-lo-95"].to_numpy(),
                "hi_95": fc["AutoETS-hi-95"].to_numpy(),
            }
        )
        parts.append(frame)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def backtest_panel(
    panel: Panel, horizon: int, models: list[str], n_windows: int = 2, peer: bool = True
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Backtest `models` plus naive (and statsforecast AutoETS when `peer`) on one panel.

    Returns (summary per model, the long frame of forecasts and actuals).
    """
    names = list(dict.fromkeys([*models, "naive"]))
    for name in names:
        check_model(name)
    frame = cross_validate(panel, horizon, names, n_windows=n_windows)
    train = backtest_histories(panel, horizon, n_windows)
    if peer:
        frame = pd.concat([frame, peer_autoets_backtest(panel, horizon, n_windows)], ignore_index=True)
    return summarize_backtest(frame, train, panel.season_length), frame


def run_backtest(
    history: str | Path,
    id_col: str,
    date_col: str,
    value_col: str,
    horizon: int,
    freq: str | int = "auto",
    covariates: str | Path | None = None,
    models: tuple[str, ...] = ("auto",),
    windows: int = 2,
    season_length: int | None = None,
    covariates_fill: str = "last",
    strict: bool = False,
) -> dict[str, Any]:
    """Rolling-origin backtest of the history file; returns metrics per model.

    Each row: `model, mase, smape, coverage_80, coverage_95, n_series`; naive and statsforecast
    AutoETS are always included as references. History records that cannot be used are set
    aside as in `run_forecast` (`set_aside`), or with `strict` an error; `warnings` as there.
    """
    if not isinstance(windows, int) or windows < 1:
        raise ConfigError(f"must be a positive integer; received {windows!r}.", parameter="windows")
    check_fill(covariates_fill)
    panel, warned, set_aside = _panel(
        history, covariates, id_col, date_col, value_col, horizon, freq, season_length,
        "lightgbm" in models, covariates_fill, strict,
    )  # fmt: skip
    summary, _ = backtest_panel(panel, horizon, list(models), windows)
    return {
        "series": len(panel.ids),
        "freq": panel.freq,
        "season_length": panel.season_length,
        "horizon": horizon,
        "windows": windows,
        "metrics": summary.to_dict(orient="records"),
        "covariates_fill": None if covariates is None else fill_report(panel, covariates_fill),
        "set_aside": set_aside,
        "warnings": warned,
    }


def _panel(
    history: str | Path,
    covariates: str | Path | None,
    id_col: str,
    date_col: str,
    value_col: str,
    horizon: int,
    freq: str | int,
    season_length: int | None,
    calendar: bool,
    covariates_fill: str,
    strict: bool = False,
) -> tuple[Any, list[Warning | str], dict[str, Any]]:
    """The history (and covariates) files as a panel, with the data warnings raised on the way
    and the report of the history records set aside (`cartwise.pipelines.bad_rows`)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DataWarning)
        table, set_aside = load_history(history, id_col, date_col, value_col, strict=strict)
        known = None
        if covariates is not None:
            known, set_aside["covariates"] = load_covariates(covariates, id_col, date_col, strict=strict)
        lines = table.pop(LINE_COLUMN).to_numpy()
        panel = prepare_panel(
            table,
            id_col,
            date_col,
            value_col,
            horizon,
            freq,
            known,
            season_length,
            calendar=calendar,
            covariates_fill=covariates_fill,
            lines=lines,
        )
    return panel, [w.message for w in caught], set_aside


def load_covariates(
    path: str | Path, id_col: str, date_col: str, *, strict: bool = False
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The covariates file with its unusable records set aside like the history's
    (`load_history`): a wrong number of fields, no series id, a period that is neither a date
    nor an integer. With `strict`, an error."""
    path = require_input_file(path, "covariates", parameter="covariates")
    return read_checked(path, True, {"id": id_col, "period": date_col}, strict=strict)


def load_history(
    path: str | Path, id_col: str, date_col: str, value_col: str, *, strict: bool = False
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The history file with its unusable records set aside and reported by the line an editor
    shows: a wrong number of fields, no series id, a period that is neither a date nor an integer,
    a value that is not a number (an empty value stays: a missing period). With `strict`, an error.
    The frame's `LINE_COLUMN` holds each kept row's line."""
    path = require_input_file(path, "history", parameter="history")
    columns = {"id": id_col, "period": date_col, "value": value_col}
    return read_checked(path, True, columns, strict=strict, with_lines=True)


def run_reorder(
    forecast: str | Path,
    stock: str | Path,
    lead_time: int,
    out: str | Path,
    id_col: str = "id",
    stock_col: str = "stock",
    service_level: float = 0.95,
    review_period: int = 1,
    strict: bool = False,
) -> dict[str, Any]:
    """Reorder plan from a forecast file (as `run_forecast` writes) and a stock file; writes `out`.

    Returns counts of items planned, items to order now, the ten riskiest items, and the
    records set aside (`set_aside`, see `cartwise.pipelines.bad_rows`: the forecast file's,
    with the stock file's under `stock`); with `strict` those are an error instead. A series
    that loses a forecast row is left out whole (`set_aside.series_left_out`): its steps
    would no longer line up with the lead time.
    """
    for path, what in ((forecast, "forecast"), (stock, "stock")):
        require_input_file(path, what)
    roles = {"id": "id", "forecast": "forecast", "lo_80": "lo_80", "hi_80": "hi_80"}
    fc, report = read_checked(forecast, True, roles, strict=strict)
    report["series_left_out"] = _short_series(fc) if report["set_aside"] and "id" in fc.columns else []
    if report["series_left_out"]:
        fc = fc[~fc["id"].astype(str).isin(report["series_left_out"])]
        warnings.warn(
            f"{forecast}: {len(report['series_left_out'])} series left out, a forecast row of theirs "
            f"set aside: {', '.join(report['series_left_out'][:10])}.",
            DataWarning,
            stacklevel=2,
        )
    for col in ("forecast", "lo_80", "hi_80"):
        if col in fc.columns:
            fc[col] = parse_numbers(fc[col], col)
    levels, report["stock"] = read_checked(stock, True, {"id": id_col, "stock": stock_col}, strict=strict)
    for parameter, col in (("id_col", id_col), ("stock_col", stock_col)):
        if col not in levels.columns:
            raise InputError(
                f"Column `{col}` is not in the stock file; its columns are "
                f"{list(levels.columns)}. Name an existing column.",
                parameter=parameter,
            )
    on_hand = dict(
        zip(
            levels[id_col].astype(str),
            parse_numbers(levels[stock_col], stock_col, "stock_col"),
            strict=True,
        )
    )
    fc["id"] = fc["id"].astype(str)
    plan = reorder_plan(fc, on_hand, lead_time, service_level, review_period)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    plan.to_csv(out, index=False)
    return {
        "out": str(out),
        "items": len(plan),
        "to_order": int((plan["order_quantity"] > 0).sum()),
        "riskiest": plan.head(10).to_dict(orient="records"),
        "set_aside": report,
    }


def _short_series(fc: pd.DataFrame) -> list[str]:
    """Series with fewer usable forecast rows than the longest: a forecast file gives every
    series the same horizon, so these lost a row."""
    counts = fc["id"].astype(str).value_counts(sort=False)
    return sorted(counts.index[counts < counts.max()]) if len(counts) else []
