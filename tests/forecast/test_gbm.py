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


OWN, CROSS = -2.5, 1.0  # constant elasticities of the simulated demand curves


def price_panel(n_series: int = 80, n: int = 104, h: int = 8, seed: int = 5):
    """Log-linear demand: units = level · (p / regular)^OWN · (competitor / its regular)^CROSS ·
    1.4 on a feature-ad week, Poisson noise; prices cut by 10-40% in a quarter of the weeks."""
    rng = np.random.default_rng(seed)
    ys, Xs, futures = [], [], []
    for i in range(n_series):
        t = n + h
        regular, rival = rng.uniform(1, 6), rng.uniform(1, 6)
        price = regular * np.where(rng.random(t) < 0.25, 1 - rng.uniform(0.1, 0.4, t), 1.0)
        competitor = rival * np.where(rng.random(t) < 0.25, 1 - rng.uniform(0.1, 0.4, t), 1.0)
        feature = (rng.random(t) < 0.15).astype(float)
        mean = rng.uniform(20, 200) * (price / regular) ** OWN * (competitor / rival) ** CROSS
        y = rng.poisson(mean * (1 + 0.4 * feature)).astype(float)
        X = np.column_stack([price, competitor, feature, np.full(t, i % 4)])  # last: a group label
        ys.append(y[:n])
        Xs.append(X[:n])
        futures.append(X[n:])
    return ys, Xs, futures


def test_own_price_elasticities_are_negative_and_cross_price_ones_positive() -> None:
    ys, Xs, futures = price_panel()
    model = GradientBoosting(horizon=8, n_windows=0).fit_panel(ys, Xs)
    assert model.prices_ == [0, 1] and model.flags_ == [2]
    names = model.feature_names(["price", "competitor", "feature", "group"])
    assert len(names) == model.model_.n_features_in_
    assert {"log_price_vs_regular", "log_price_vs_competitor", "feature_x_log_price_vs_regular"} <= set(names)
    own = model.elasticities(futures, 0)
    cross = model.elasticities(futures, 1)
    assert np.mean(own < 0) > 0.95 and np.mean(cross > 0) > 0.9
    # A tree model's response is coarse and shrinks towards zero: the median within about 0.6.
    assert OWN - 0.6 < np.median(own) < OWN + 0.6
    assert CROSS - 0.5 < np.median(cross) < CROSS + 0.5
    with pytest.raises(InputError, match="`change` must be between 0 and 1"):
        model.elasticities(futures, 0, change=1.5)
