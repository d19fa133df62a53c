"""The global gradient-boosting model recovers a known promotion effect."""

from __future__ import annotations

import numpy as np
import pytest

from cartwise.core.errors import InputError
from cartwise.forecast import AutoForecaster, GradientBoosting

UPLIFT = 0.6  # a promotion multiplies demand by 1.6


def promo_panel(n_series: int = 60, n: int = 104, h: int = 8, seed: int = 11):
    """Series with levels 10..100, a 26-period cycle and random promotions (one covariate)."""
    rng = np.random.default_rng(seed)
    ys, Xs, futures, truths = [], [], [], []
    for i in range(n_series):
        level = 10 + 90 * i / n_series
        t = np.arange(n + h)
        promo = (rng.random(n + h) < 0.2).astype(float)
        mean = level * (1 + 0.2 * np.sin(2 * np.pi * t / 26)) * (1 + UPLIFT * promo)
        y = mean + rng.normal(0, 0.05 * level, n + h)
        ys.append(y[:n])
        Xs.append(promo[:n, None])
        futures.append(promo[n:, None])
        truths.append(y[n:])
    return ys, Xs, futures, truths


@pytest.fixture(scope="module")
def fitted() -> tuple[GradientBoosting, tuple]:
    data = promo_panel()
    model = GradientBoosting(horizon=8, season_length=26, n_estimators=200).fit_panel(data[0], data[1])
    return model, data


def test_recovers_the_promotion_uplift(fitted) -> None:
    model, (ys, _, _, _) = fitted
    on = model.predict_panel(8, [np.ones((8, 1))] * len(ys))
    off = model.predict_panel(8, [np.zeros((8, 1))] * len(ys))
    ratio = np.mean([a["mean"].sum() / b["mean"].sum() for a, b in zip(on, off, strict=True)])
    assert ratio == pytest.approx(1 + UPLIFT, abs=0.08)


def test_beats_a_per_series_model_that_cannot_see_promotions(fitted) -> None:
    model, (ys, _, futures, truths) = fitted
    gbm = model.predict_panel(8, futures)
    gbm_err = np.mean(
        [np.abs(f["mean"] - t).mean() / y.mean() for f, t, y in zip(gbm, truths, ys, strict=True)]
    )
    auto_err = np.mean(
        [
            np.abs(AutoForecaster(horizon=8, season_length=26).fit(y).predict(8)["mean"] - t).mean()
            / y.mean()
            for y, t in zip(ys[::6], truths[::6], strict=True)
        ]
    )
    assert gbm_err < 0.6 * auto_err


def test_intervals_cover_held_out_periods(fitted) -> None:
    model, (_, _, futures, truths) = fitted
    frames = model.predict_panel(8, futures)
    actual = np.concatenate(truths)
    lo = np.concatenate([f["lo-80"] for f in frames])
    hi = np.concatenate([f["hi-80"] for f in frames])
    assert 0.7 <= np.mean((lo <= actual) & (actual <= hi)) <= 0.95


def test_future_covariates_are_required_and_horizon_is_bounded(fitted) -> None:
    model, _ = fitted
    with pytest.raises(InputError, match="future periods"):
        model.predict_panel(8, None)
    with pytest.raises(InputError, match="horizon=9"):
        model.predict_panel(9, [np.zeros((9, 1))] * len(model.ys_))
