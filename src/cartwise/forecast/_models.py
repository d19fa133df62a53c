"""Per-series demand models: baselines, exponential smoothing, Theta and intermittent-demand methods.

The statistical models wrap statsforecast, which compiles with numba on first use; it is
imported inside `_fit` so that importing Cartwise stays fast.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cartwise.core.errors import ConfigError, ModelError
from cartwise.forecast._base import Forecaster

MAX_ETS_SEASON = 24
"""Longest season ETS models seasonally (as R's forecast::ets): a 52-week season has too many states."""


def _positive_int(value: Any, name: str) -> int:
    if not isinstance(value, int | np.integer) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"`{name}` must be a positive integer; received {value!r}.")
    return int(value)


class Naive(Forecaster):
    """Repeats the last observed value: ŷ(n+k) = y(n)."""

    name = "naive"

    def _fit(self, y: np.ndarray, X: np.ndarray | None) -> None:
        self.last_ = float(y[-1])

    def _predict(self, h: int, X: np.ndarray | None) -> np.ndarray:
        return np.full(h, self.last_)


class SeasonalNaive(Forecaster):
    """Repeats the last full season: ŷ(n+k) = y(n − m + ((k − 1) mod m)), m = `season_length`."""

    name = "seasonal_naive"

    def __init__(self, season_length: int = 7) -> None:
        self.season_length = season_length

    def min_obs(self, h: int = 1) -> int:
        return _positive_int(self.season_length, "season_length")

    def _fit(self, y: np.ndarray, X: np.ndarray | None) -> None:
        self.last_season_ = y[-self.season_length :].copy()

    def _predict(self, h: int, X: np.ndarray | None) -> np.ndarray:
        m = self.season_length
        return self.last_season_[np.arange(h) % m]


class MovingAverage(Forecaster):
    """Flat forecast at the mean of the last `window` periods: ŷ(n+k) = (1/w) Σ_{i<w} y(n − i)."""

    name = "moving_average"

    def __init__(self, window: int = 4) -> None:
        self.window = window

    def min_obs(self, h: int = 1) -> int:
        return _positive_int(self.window, "window")

    def _fit(self, y: np.ndarray, X: np.ndarray | None) -> None:
        self.level_ = float(np.mean(y[-self.window :]))

    def _predict(self, h: int, X: np.ndarray | None) -> np.ndarray:
        return np.full(h, self.level_)


class MovingMedian(Forecaster):
    """Flat forecast at the median of the last `window` periods: ŷ(n+k) = median(y(n−w+1) … y(n)).

    The median minimises the absolute error (the MASE's numerator) where the mean does not:
    on demand that jumps during promotions and falls back after, the mean of a window is
    pulled up by the spikes, while the median stays at the regular level. Missing periods in
    the window are skipped.
    """

    name = "moving_median"

    def __init__(self, window: int = 12) -> None:
        self.window = window

    def min_obs(self, h: int = 1) -> int:
        return _positive_int(self.window, "window")

    def _fit(self, y: np.ndarray, X: np.ndarray | None) -> None:
        recent = self.raw_y_[-self.window :]
        recent = recent[~np.isnan(recent)]
        # A window of missing periods only: the interpolated history (its last value) instead.
        self.level_ = float(np.median(recent if recent.size else y[-self.window :]))

    def _predict(self, h: int, X: np.ndarray | None) -> np.ndarray:
        return np.full(h, self.level_)


class _StatsForecastModel(Forecaster):
    """Shared plumbing of the statsforecast wrappers: build, fit, predict the mean."""

    def _build(self, y: np.ndarray) -> Any:
        raise NotImplementedError

    def _fit(self, y: np.ndarray, X: np.ndarray | None) -> None:
        model = self._build(y)
        try:
            model.fit(y)
        except (NotImplementedError, ValueError, ZeroDivisionError, np.linalg.LinAlgError) as exc:
            raise ModelError(f"{type(self).__name__} could not be fitted on {y.size} points: {exc}") from exc
        self.model_ = model

    def _predict(self, h: int, X: np.ndarray | None) -> np.ndarray:
        return np.asarray(self.model_.predict(h)["mean"], dtype=float)


class ETS(_StatsForecastModel):
    """Exponential smoothing with automatic form (statsforecast `AutoETS`, chosen by AICc).

    `model` is statsforecast's three-letter code (error, trend, season; `Z` = choose);
    the default `AZN` (additive errors, any trend, no season) is robust on demand with
    zeros. A season is modelled only when 1 < `season_length` ≤ 24 and the history holds
    two full seasons plus two points; longer seasons are left to Theta and the seasonal naive.
    """

    name = "ets"

    def __init__(self, season_length: int = 1, model: str = "AZN") -> None:
        self.season_length = season_length
        self.model = model

    def min_obs(self, h: int = 1) -> int:
        return 10

    def _build(self, y: np.ndarray) -> Any:
        from statsforecast.models import AutoETS

        m = _positive_int(self.season_length, "season_length")
        seasonal = 1 < m <= MAX_ETS_SEASON and y.size >= 2 * m + 2
        code = self.model if seasonal else self.model[:2] + "N"
        return AutoETS(season_length=m if seasonal else 1, model=code)


class Theta(_StatsForecastModel):
    """The Theta method (Assimakopoulos & Nikolopoulos 2000) via statsforecast `Theta`.

    The series is deseasonalised multiplicatively when a seasonality test on `season_length`
    passes and two full seasons are available; the forecast is then SES with drift (θ = 2).
    """

    name = "theta"

    def __init__(self, season_length: int = 1) -> None:
        self.season_length = season_length

    def min_obs(self, h: int = 1) -> int:
        return 5

    def _build(self, y: np.ndarray) -> Any:
        from statsforecast.models import Theta as SFTheta

        m = _positive_int(self.season_length, "season_length")
        # Multiplicative decomposition needs positive values and two seasons.
        seasonal = m > 1 and y.size >= 2 * m and np.all(y > 0)
        return SFTheta(season_length=m if seasonal else 1)


class Croston(_StatsForecastModel):
    """Croston's method with the Syntetos–Boylan bias correction (statsforecast `CrostonSBA`).

    Smooths non-zero demand sizes z and inter-demand intervals p separately (α = 0.1);
    ŷ = 0.95 · z / p per period. For intermittent demand (many zero periods).
    """

    name = "croston"

    def min_obs(self, h: int = 1) -> int:
        return 2

    def _build(self, y: np.ndarray) -> Any:
        from statsforecast.models import CrostonSBA

        return CrostonSBA()


class TSB(_StatsForecastModel):
    """Teunter–Syntetos–Babai: smooths demand probability (α_p) and size (α_d); ŷ = p · z.

    Unlike Croston it lets the forecast decay while no demand occurs, which suits items
    that are dying out.
    """

    name = "tsb"

    def __init__(self, alpha_d: float = 0.1, alpha_p: float = 0.1) -> None:
        self.alpha_d = alpha_d
        self.alpha_p = alpha_p

    def min_obs(self, h: int = 1) -> int:
        return 2

    def _build(self, y: np.ndarray) -> Any:
        from statsforecast.models import TSB as SFTSB

        for name in ("alpha_d", "alpha_p"):
            value = getattr(self, name)
            if not 0 < value <= 1:
                raise ConfigError(f"`{name}` must be in (0, 1]; received {value!r}.")
        return SFTSB(alpha_d=self.alpha_d, alpha_p=self.alpha_p)


class ADIDA(_StatsForecastModel):
    """Aggregate–disaggregate intermittent demand approach (statsforecast `ADIDA`).

    Sums demand over buckets of the mean inter-demand interval, forecasts the buckets with
    SES and spreads the result evenly over periods.
    """

    name = "adida"

    def min_obs(self, h: int = 1) -> int:
        return 2

    def _build(self, y: np.ndarray) -> Any:
        from statsforecast.models import ADIDA as SFADIDA

        return SFADIDA()
