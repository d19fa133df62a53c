"""Demand forecasting: per-series models, a global promotion-aware model, automatic choice, panels.

Every forecaster follows one contract (`Forecaster`): `fit(y, X=None)` on one series, then
`predict(h, X=None)` returns `mean, lo-80, hi-80, lo-95, hi-95`. `build_panel` turns a long
table into series; `forecast_panel` and `cross_validate` run models over all of them; `reorder_plan`
turns a forecast into reorder points and order quantities.
"""

from cartwise.forecast._auto import (
    FALLBACK_CHAIN,
    FORECASTERS,
    AutoForecaster,
    Combination,
    fit_with_fallback,
    make_forecaster,
    register_forecaster,
)
from cartwise.forecast._base import COLUMNS, LEVELS, Forecaster, conformal_halfwidth, zero_lower_bounds
from cartwise.forecast._elasticity import ElasticityModel
from cartwise.forecast._gbm import GradientBoosting
from cartwise.forecast._inventory import reorder_plan
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
from cartwise.forecast._runner import (
    OUTPUT_COLUMNS,
    PanelForecast,
    backtest_histories,
    cross_validate,
    forecast_panel,
)
from cartwise.forecast._series import (
    COVARIATE_FILLS,
    SEASON_BY_FREQ,
    Panel,
    attach_covariates,
    build_panel,
    calendar_features,
    demand_series,
    parse_numbers,
    parse_periods,
)

__all__ = [
    "ADIDA",
    "COLUMNS",
    "COVARIATE_FILLS",
    "ETS",
    "FALLBACK_CHAIN",
    "FORECASTERS",
    "LEVELS",
    "OUTPUT_COLUMNS",
    "SEASON_BY_FREQ",
    "TSB",
    "AutoForecaster",
    "Combination",
    "Croston",
    "ElasticityModel",
    "Forecaster",
    "GradientBoosting",
    "MovingAverage",
    "MovingMedian",
    "Naive",
    "Panel",
    "PanelForecast",
    "SeasonalNaive",
    "Theta",
    "attach_covariates",
    "backtest_histories",
    "build_panel",
    "calendar_features",
    "conformal_halfwidth",
    "cross_validate",
    "demand_series",
    "fit_with_fallback",
    "forecast_panel",
    "make_forecaster",
    "parse_numbers",
    "parse_periods",
    "register_forecaster",
    "reorder_plan",
    "zero_lower_bounds",
]
