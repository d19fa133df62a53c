"""Per-series models against series whose right answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from cartwise.core.errors import ConfigError, ModelError
from cartwise.forecast import (
    ETS,
    AutoForecaster,
    Croston,
    MovingAverage,
    MovingMedian,
    Naive,
    SeasonalNaive,
    Theta,
    conformal_halfwidth,
    fit_with_fallback,
    make_forecaster,
    zero_lower_bounds,
)


def test_seasonal_naive_reproduces_a_pure_seasonal_series_exactly() -> None:
    pattern = np.array([3.0, 7.0, 1.0, 0.0, 9.0, 4.0, 2.0])
    y = np.tile(pattern, 10)
    frame = SeasonalNaive(season_length=7).fit(y).predict(10)
    np.testing.assert_array_equal(frame["mean"], np.tile(pattern, 2)[:10])
    # Backtest errors are all zero, so the conformal intervals collapse onto the forecast.
    np.testing.assert_array_equal(frame["lo-95"], frame["mean"])
    np.testing.assert_array_equal(frame["hi-95"], frame["mean"])


def test_naive_and_moving_average_by_hand() -> None:
    y = np.array([1.0, 2.0, 3.0, 10.0, 20.0])
    np.testing.assert_allclose(Naive().fit(y).predict(3)["mean"], [20, 20, 20])
    np.testing.assert_allclose(MovingAverage(window=2).fit(y).predict(2)["mean"], [15, 15])


def test_moving_median_stays_at_the_regular_level_between_promotion_spikes() -> None:
    y = np.array([10.0, 11.0, 60.0, 9.0, 10.0, np.nan, 55.0, 12.0])
    # The median of the 7 observed values (the missing period skipped), not their mean (23.9).
    assert MovingMedian(window=8).fit(y).predict(2)["mean"].tolist() == [11.0, 11.0]
    assert "moving_median" in AutoForecaster(horizon=4).fit(np.tile(y[:5], 8)).scores_


def test_gaps_are_interpolated_not_zeros() -> None:
    y = np.array([10.0, 10.0, np.nan, np.nan, 10.0, 10.0])
    assert MovingAverage(window=4).fit(y).predict(1)["mean"].iloc[0] == pytest.approx(10.0)
    # A trailing gap keeps the last observed level.
    assert Naive().fit(np.array([5.0, 6.0, np.nan])).predict(1)["mean"].iloc[0] == pytest.approx(6.0)


def test_ets_and_theta_follow_a_linear_trend() -> None:
    rng = np.random.default_rng(4)
    t = np.arange(80)
    y = 10 + 2.0 * t + rng.normal(0, 0.5, t.size)
    truth = 10 + 2.0 * np.arange(80, 86)
    for model in (ETS(), Theta()):
        mean = model.fit(y).predict(6)["mean"].to_numpy()
        np.testing.assert_allclose(mean, truth, rtol=0.05)


def test_croston_forecasts_the_mean_demand_rate_of_intermittent_demand() -> None:
    rng = np.random.default_rng(5)
    # Demand occurs with probability 0.25 and is 4 units when it does: mean rate 1 per period.
    y = np.where(rng.random(400) < 0.25, 4.0, 0.0)
    mean = Croston().fit(y).predict(3)["mean"].to_numpy()
    assert np.all(np.abs(mean - 1.0) < 0.35)
    assert np.ptp(mean) == 0  # a flat rate


def test_80_percent_intervals_cover_about_80_percent_of_noise_with_known_variance() -> None:
    rng = np.random.default_rng(6)
    hits80, hits95, widths = [], [], []
    for _ in range(150):
        y = 50 + rng.normal(0, 2.0, 130)
        frame = MovingAverage(window=20).fit(y[:120]).predict(10)
        actual = y[120:]
        hits80.append((frame["lo-80"] <= actual) & (actual <= frame["hi-80"]))
        hits95.append((frame["lo-95"] <= actual) & (actual <= frame["hi-95"]))
        widths.append(frame["hi-80"].iloc[0] - frame["mean"].iloc[0])
    assert 0.75 <= np.mean(hits80) <= 0.88
    assert 0.91 <= np.mean(hits95) <= 0.99
    # The mean 80% half-width is near the Gaussian one: 1.2816 * 2 * sqrt(1 + 1/20) = 2.63.
    assert np.mean(widths) == pytest.approx(2.63, rel=0.1)


def test_conformal_halfwidth_uses_the_finite_sample_rank() -> None:
    errors = np.arange(1.0, 10.0)  # 9 errors: rank ceil(10 * 0.8) = 8 -> 8.0
    assert conformal_halfwidth(errors, 0.8) == 8.0
    assert conformal_halfwidth(errors, 0.95) == 9.0  # rank 10 > 9 -> the largest


def test_lower_bounds_are_zero_for_intermittent_histories_only() -> None:
    mean = np.full(3, 2.0)
    frame = {"mean": mean, "lo-80": mean - 1.0, "hi-80": mean + 1.0, "lo-95": mean - 2.5, "hi-95": mean + 2.5}
    steady = zero_lower_bounds(frame, np.array([1.0, 2.0, 3.0, 4.0] * 5))
    assert steady["lo-80"].tolist() == [1.0] * 3 and steady["lo-95"].tolist() == [-0.5] * 3
    # 5 weeks in 20 without a sale (25%): maybe a pattern the model knows, bounds left as they are.
    some = zero_lower_bounds(frame, np.array([0.0, 2.0, 2.0, 2.0] * 5))
    assert some["lo-80"].tolist() == [1.0] * 3
    # 6 in 20 (30%): intermittent, every lower bound is zero; the mean and upper bounds stay.
    sparse = zero_lower_bounds(frame, np.array([0.0] * 6 + [2.0] * 14))
    assert sparse["lo-80"].tolist() == [0.0] * 3 and sparse["lo-95"].tolist() == [0.0] * 3
    assert sparse["hi-80"].tolist() == [3.0] * 3 and sparse["mean"].tolist() == [2.0] * 3
    # Missing periods are not zeros: 6 zeros among 25 observed weeks is under 30%.
    gaps = zero_lower_bounds(frame, np.array([0.0] * 6 + [np.nan] * 5 + [2.0] * 19))
    assert gaps["lo-80"].tolist() == [1.0] * 3


def test_intervals_of_intermittent_demand_cover_its_weeks_without_sales() -> None:
    # Demand in 15% of weeks, 1-3 units: the central 80% interval is [0, 1], which holds 90%
    # of weeks. A symmetric interval around the rate (0.3 a week) would miss every zero.
    rng = np.random.default_rng(8)
    hits80, lows = [], []
    for _ in range(200):
        y = (rng.random(132) < 0.15) * rng.integers(1, 4, 132).astype(float)
        frame = AutoForecaster(horizon=12).fit(y[:120]).predict(12)
        actual = y[120:]
        hits80.append((frame["lo-80"] <= actual) & (actual <= frame["hi-80"]))
        lows.append(frame["lo-80"].max())
    assert max(lows) == 0.0
    assert 0.85 <= np.mean(hits80) <= 0.95


def test_auto_picks_seasonal_naive_on_a_pure_seasonal_series() -> None:
    y = np.tile(np.array([5.0, 9.0, 2.0, 14.0, 6.0, 1.0, 8.0]), 12)
    auto = AutoForecaster(horizon=7, season_length=7).fit(y)
    assert auto.chosen_ == "seasonal_naive"
    assert auto.scores_["seasonal_naive"] == 0.0
    np.testing.assert_allclose(auto.predict(7)["mean"], y[-7:])


def test_auto_considers_intermittent_methods_only_for_sparse_demand() -> None:
    rng = np.random.default_rng(7)
    sparse = np.where(rng.random(100) < 0.2, 3.0, 0.0)
    dense = 20 + rng.normal(0, 1, 100)
    assert "croston" in AutoForecaster(horizon=8).fit(sparse).scores_
    assert "croston" not in AutoForecaster(horizon=8).fit(dense).scores_
    # A median of mostly zeros would plan no stock: the moving median is for regular demand only.
    assert "moving_median" not in AutoForecaster(horizon=8).fit(sparse).scores_
    assert "moving_median" in AutoForecaster(horizon=8).fit(dense).scores_


def test_auto_intervals_come_from_the_errors_of_the_choice_not_of_the_chosen_model() -> None:
    # The model with the smallest backtest errors has optimistic errors, since it was chosen
    # for them: each window is calibrated with the errors of the model the other window picks.
    rng = np.random.default_rng(10)
    y = 20 + rng.normal(0, 3, 60)
    auto = AutoForecaster(horizon=6, models=("naive", "moving_average", "ses")).fit(y)
    last, before = slice(0, 6), slice(6, 12)  # `errors_` hold the last window first
    mae = {name: (np.abs(e[last]).mean(), np.abs(e[before]).mean()) for name, e in auto.errors_.items()}
    assert auto.chosen_ == "moving_average"
    assert min(mae, key=lambda name: mae[name][1]) == "ses"  # picked by the window before
    assert min(mae, key=lambda name: mae[name][0]) == "naive"  # picked by the last window
    expected = np.concatenate([auto.errors_["ses"][last], auto.errors_["naive"][before]])
    calibration = auto.model_.calibration_errors(6)
    np.testing.assert_array_equal(calibration[:12], expected)
    frame = auto.predict(6)
    half = conformal_halfwidth(np.abs(calibration), 0.8)
    assert frame["hi-80"].iloc[0] - frame["mean"].iloc[0] == pytest.approx(half)


def test_auto_falls_back_and_says_so_when_too_short_for_a_backtest() -> None:
    auto = AutoForecaster(horizon=12, season_length=52).fit(np.array([4.0, 5.0, 6.0]))
    assert auto.chosen_ == "naive"
    assert "too few for a backtest" in auto.note_
    assert len(auto.predict(12)) == 12


def test_fit_with_fallback_uses_a_simpler_model_and_explains_why() -> None:
    model, note = fit_with_fallback(ETS(season_length=7), np.arange(8.0))
    assert isinstance(model, SeasonalNaive)
    assert "fewer than the 10 ETS needs" in note
    model, note = fit_with_fallback(ETS(), np.arange(3.0))
    assert isinstance(model, Naive)
    assert note is not None and "Naive" in note
    model, note = fit_with_fallback(ETS(), np.arange(30.0))
    assert isinstance(model, ETS) and note is None
    with pytest.raises(ModelError, match="no non-missing"):
        fit_with_fallback(Naive(), np.array([np.nan, np.nan]))


def test_unknown_model_and_bad_hyperparameters_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="choose one of: auto, naive"):
        make_forecaster("prophet")
    with pytest.raises(ConfigError, match="`window` must be a positive integer; received 0"):
        MovingAverage(window=0).fit(np.ones(5))
